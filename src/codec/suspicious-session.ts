import { Logger } from '@nestjs/common';
import { signalsFor } from '../telemetry/session-signals.js';
import type { DecodeResult, SessionCodec } from './session-codec.js';

// Named after Django's logger, so operators recognise the warning.
const securityLogger = new Logger('django.security.SuspiciousSession');

/**
 * `codec.decode()`, with Django's warning ("Session data corrupted") when the data does not verify,
 * or verifies but would inflate past `maxDecodedBytes` (a signed zlib bomb: not Django's data).
 */
export function decodeLogged(codec: SessionCodec, sessionData: string): DecodeResult {
  const result = codec.decode(sessionData);
  if (result.status === 'bad-signature') reportSuspicious(codec, 'Session data corrupted');
  else if (result.status === 'too-large') reportSuspicious(codec, 'Session data corrupted (larger than maxDecodedBytes once inflated)');
  return result;
}

/**
 * Logs `message` as Django's `django.security.SuspiciousSession` warning, and sends
 * `session.suspicious` to the listeners of the module `reporter` (its engine, its codec) belongs to.
 */
export function reportSuspicious(reporter: object, message: string): void {
  securityLogger.warn(message);
  const signals = signalsFor(reporter);
  if (signals !== undefined) signals.emit('session.suspicious', { engine: signals.engineName, reason: message });
}

/** The decoded dict as a `Map` in its stored key order (a JS object would list integer-like keys first). */
export function decodedMap({ data, keys }: DecodeResult): Map<string, unknown> {
  return new Map((keys ?? Object.keys(data)).map((key) => [key, data[key]]));
}
