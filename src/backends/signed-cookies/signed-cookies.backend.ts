import { codecFor } from '../../codec/codec-for.js';
import type { SessionCodec } from '../../codec/session-codec.js';
import { b62Decode } from '../../codec/base-encodings.js';
import { decodedMap } from '../../codec/suspicious-session.js';
import { SessionCookieTooLarge } from '../../session.errors.js';
import type { EngineContext } from '../engine-context.js';
import { SessionBackend, type SessionExpiry, type SessionMap } from '../session-backend.js';

/** Django's salt for this engine (`signing.dumps(..., salt=...)` in `backends/signed_cookies.py`). */
export const SIGNED_COOKIES_SALT = 'django.contrib.sessions.backends.signed_cookies';

/** What browsers keep of one cookie, name and value together (RFC 6265 §6.1's minimum, and every browser's limit). */
const MAX_COOKIE_BYTES = 4096;

/** A `signing.dumps()` value: `[.]payload:timestamp:signature`, all URL-safe base64 / base62. */
const SIGNED_VALUE = /^\.?[A-Za-z0-9_-]+:[0-9A-Za-z]+:[A-Za-z0-9_-]+$/;

/**
 * The `signed_cookies` engine (Django's `django.contrib.sessions.backends.signed_cookies`): no
 * server-side storage; the cookie value *is* the session, `signing.dumps(session, compress=True,
 * salt='django.contrib.sessions.backends.signed_cookies')`, valid for `cookieAge` seconds from
 * its signing. The key is the signed data, so every save (and `cycleKey()`) makes a new one;
 * `flush()` deletes the cookie. Like Django's, a logout cannot revoke a copy of the cookie kept
 * elsewhere (see Django's docs on this engine).
 */
export class SignedCookieSessionBackend extends SessionBackend {
  override readonly engineName: string = 'signed_cookies';
  /** Nothing is stored: a cookie's age is checked when it is read. */
  override readonly sweepsExpired = false;
  override readonly keyHoldsData = true;

  /**
   * @param codec signs with the engine's salt (see `fromContext`)
   * @param cookieName counted in the 4096 bytes
   * @param maxAgeSeconds Django's `max_age` on load: `SESSION_COOKIE_AGE`
   */
  constructor(
    private readonly codec: SessionCodec,
    private readonly cookieName: string,
    private readonly maxAgeSeconds: number,
  ) {
    super();
  }

  static fromContext({ options }: EngineContext): SignedCookieSessionBackend {
    // signing.loads never read the pre-3.1 session format.
    const codec = codecFor(options, { salt: SIGNED_COOKIES_SALT, legacyDecode: false });
    const backend = new this(codec, options.cookieName, options.cookieAge);
    backend.tracksStoredExpiry = options.touchAfter !== null;
    return backend;
  }

  override isValidKey(key: unknown): key is string {
    return typeof key === 'string' && key.length <= MAX_COOKIE_BYTES && SIGNED_VALUE.test(key);
  }

  /** The cookie's session when it verifies and is younger than `cookieAge`; else none (Django starts afresh, silently). */
  async load(key: string): Promise<SessionMap | null> {
    const result = this.codec.decode(key);
    if (result.status !== 'ok') return null;
    // The signature verified, so the timestamp between the two colons is the one that was signed
    // (the codec checked it is base62). Django: signing.loads(..., max_age=SESSION_COOKIE_AGE).
    const signedAt = b62Decode(key.split(':')[1]!);
    const age = Date.now() / 1000 - signedAt;
    if (age > this.maxAgeSeconds) return null;
    // touchAfter: the signing time is when the server's expiry (signedAt + cookieAge) was set.
    return this.tracksStoredExpiry ? SessionBackend.noteStoredExpiry(decodedMap(result), { writtenAt: signedAt * 1000 }) : decodedMap(result);
  }

  /** Django: always false (nothing is stored, so no key can be "taken"). */
  async exists(): Promise<boolean> {
    return false;
  }

  /** The new cookie value for `data`; refused when the cookie would not fit in a browser. */
  async save(_key: string, data: ReadonlyMap<string, unknown>, _expiry: SessionExpiry): Promise<string> {
    const value = this.codec.encodeEntries(data);
    const bytes = this.cookieName.length + 1 + value.length;
    if (bytes > MAX_COOKIE_BYTES) throw new SessionCookieTooLarge(bytes);
    return value;
  }

  /** `touchAfter`: the same data signed again, with a new timestamp (a new cookie value). */
  override touch(key: string, data: ReadonlyMap<string, unknown>, expiry: SessionExpiry): Promise<string> {
    return this.save(key, data, expiry);
  }

  override create(data: ReadonlyMap<string, unknown>, expiry: SessionExpiry): Promise<string> {
    return this.save('', data, expiry);
  }

  /** No store to ask. */
  override async ping(): Promise<void> {}

  /** Nothing to delete: the cookie is deleted by the response (the session is then empty). */
  async delete(): Promise<void> {}

  /** Django's `clear_expired()` is a no-op here: an old cookie fails its age check when read. */
  async clearExpired(): Promise<number> {
    return 0;
  }
}
