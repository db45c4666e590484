import type { ResolvedSessionOptions } from '../session-options.interface.js';
import { SessionCodec, type SessionCodecOptions } from './session-codec.js';

/**
 * The codec the module's options describe (its secrets, salt, `legacyDecode` and
 * `maxDecodedBytes`), with an engine's own `salt` or `legacyDecode` where it signs otherwise
 * (`signed_cookies`).
 */
export function codecFor(options: ResolvedSessionOptions, own: Pick<SessionCodecOptions, 'salt' | 'legacyDecode'> = {}): SessionCodec {
  return new SessionCodec({
    secretKey: options.secretKey,
    secretKeyFallbacks: options.secretKeyFallbacks,
    salt: options.salt,
    legacyDecode: options.legacyDecode,
    maxDecodedBytes: options.maxDecodedBytes,
    ...own,
  });
}
