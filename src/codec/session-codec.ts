/*
 * `session_data` as Django's `SessionBase.encode` / `decode` read and write it.
 *
 * Modern format (Django 3.1+, the only one written here):
 *   signing.dumps(dict, salt='django.contrib.sessions.SessionStore', compress=True), i.e.
 *   ['.'] b64url_nopad(zlib?(ascii json)) ':' b62(unix seconds) ':' b64url_nopad(HMAC-SHA256)
 *   (details in ./signing.ts). The timestamp is never checked: expiry lives in the row's
 *   `expire_date`.
 *
 * Read-only, behind `legacyDecode` (Django 3.2's dual decoding):
 *   - the modern layout with a 27-char HMAC-SHA1 signature (Django 3.1 with
 *     DEFAULT_HASHING_ALGORITHM='sha1');
 *   - the pre-3.1 format: standard_base64(hex(HMAC-SHA1(key=SHA1('django.contrib.sessions' +
 *     'SessionStore' + SECRET_KEY), json)) + ':' + json), no dot in the salt, no timestamp.
 *
 * Decoding never throws. Like Django 4.x it answers `{}` on failure, and says why: a signature
 * failure is what Django logs as "Session data corrupted" (SuspiciousSession); a payload that
 * verified but cannot be decoded is swallowed silently.
 *
 * Two limits Django does not have, the same for reading and writing, so that whatever is written
 * can be read back and whatever is read can be saved again:
 *   - size: the JSON may be at most `maxDecodedBytes` (default 4 MiB). A validly signed zlib bomb is
 *     refused while it is inflated ('too-large'), never inflated in full. So is JSON that fits but
 *     would not once written again (as '1e20' becomes 21 digits, a latin-1 'é' six characters).
 *   - depth: at most MAX_SESSION_DEPTH (500) nested levels, the session dict being level 1. Deeper
 *     data is 'malformed' when read (an empty session, so the next save overwrites the row) and a
 *     TypeError when written. Without it a signed row nested 100,000 deep decodes (JSON.parse copes)
 *     and then every save of that session overflows the stack.
 *
 * Python's json writes NaN, Infinity, -Infinity and ints of any size, so Django's `session_data`
 * may hold them: they are read (as NaN, ±Infinity, and a bigint past the double range; see
 * isPythonOnlyNumber in ./python-json.ts) and written back as Python wrote them, never a reason to
 * lose a session or to fail its saves. An int of more than 4,300 digits, which Python's json
 * refuses to read, is 'malformed' here too.
 */
import { inspect } from 'node:util';
import {
  BadSignature,
  PayloadTooLarge,
  constantTimeEqual,
  decodeObjectPayload,
  encodeObjectPayload,
  saltedHmac,
  timestampSign,
  verify,
  type SigningAlgorithm,
  type VerifiedValue,
} from './signing.js';
import { b62Decode } from './base-encodings.js';
import {
  DEFAULT_MAX_DECODED_BYTES,
  MAX_JSON_DEPTH,
  assertByteLimit,
  isPythonOnlyNumber,
  jsonDepthExceeds,
  jsonEncodedLength,
  parsePythonJson,
  pythonJsonDumps,
} from './python-json.js';
import { writtenKeyOrder } from './json-key-order.js';
import { djangoVersionTraits } from '../django-versions.js';

export { DEFAULT_MAX_DECODED_BYTES } from './python-json.js';

/**
 * Django's `key_salt` for every built-in backend: `'django.contrib.sessions.' + SessionStore.__qualname__`.
 *
 * @example
 * new SessionCodec({ secretKey, salt: DEFAULT_SESSION_SALT });
 */
export const DEFAULT_SESSION_SALT = 'django.contrib.sessions.SessionStore';

/**
 * How deeply a session may nest, the session dict itself being level 1 (`{"k": [1]}` is 2 deep).
 * The same number both ways: {@link SessionCodec.encode} and {@link assertJsonValue} throw a
 * `TypeError` for deeper values, {@link SessionCodec.decode} answers `'malformed'` for deeper data.
 *
 * Why 500: Python's json recurses once per level and raises RecursionError near its 1,000-frame
 * limit, minus whatever stack the caller already uses. Measured on Django 3.2.25 / Python 3.11.2
 * (Debian's /usr/bin/python3): 992 levels from the top of a script, 961 for a session loaded inside a
 * test-client request, 968 saved under runserver. Half of that leaves Django's side ample stack
 * (template rendering, DRF and signal handlers can sit between the request and the session), and
 * test/fixtures/django/vectors.json holds 500-deep sessions Django 3.2 wrote and read back.
 *
 * @example
 * assertJsonValue(deeplyNested, 'tree'); // TypeError once it nests MAX_SESSION_DEPTH levels
 */
export const MAX_SESSION_DEPTH: number = MAX_JSON_DEPTH;

/**
 * The decoded session: what Django keeps in `SessionBase._session_cache`.
 *
 * @example
 * const data: SessionDict = { _auth_user_id: '1' };
 */
export type SessionDict = Record<string, unknown>;

/**
 * `'ok'`; `'bad-signature'` (no key verified: log "Session data corrupted" as Django does);
 * `'malformed'` (verified, but not decodable into a dict, or nested deeper than
 * {@link MAX_SESSION_DEPTH}: Django stays silent); `'too-large'` (verified, but it decodes to more
 * than `maxDecodedBytes`, e.g. a signed zlib bomb: refused without inflating it, or would be more
 * once written again, so that no save of it could succeed). Django has no size
 * limit and would load such data, so nothing it logs matches; log it like a signature failure
 * (django.security.SuspiciousSession "Session data corrupted"), since only a holder of the secret
 * can have written it. In every case but `'ok'` the data is `{}` and the next save overwrites the row.
 *
 * @example
 * if (result.status === 'bad-signature' || result.status === 'too-large') logger.warn('Session data corrupted');
 */
export type DecodeStatus = 'ok' | 'bad-signature' | 'malformed' | 'too-large';

/**
 * Outcome of {@link SessionCodec.decode}.
 *
 * @example
 * const { data, status, stale } = codec.decode(row.sessionData);
 */
export interface DecodeResult {
  /** The session dict; `{}` unless `status` is `'ok'`. A fresh plain object every time. */
  data: SessionDict;
  status: DecodeStatus;
  /** The key that verified was a fallback, or the data was legacy/sha1: re-sign on next save. */
  stale: boolean;
  /** Which layout verified; absent when no signature verified. */
  format?: 'signed' | 'legacy';
  /** The top-level keys in the order the JSON lists them, when that differs from `Object.keys(data)` (integer-like keys). */
  keys?: string[];
}

/**
 * Secrets and salt for {@link SessionCodec}.
 *
 * @example
 * const options: SessionCodecOptions = { secretKey: process.env.SECRET_KEY!, secretKeyFallbacks: ['old'] };
 */
export interface SessionCodecOptions {
  /** Django's `SECRET_KEY`: signs everything written, and is tried first when reading. */
  secretKey: string;
  /** Django 4.1's `SECRET_KEY_FALLBACKS`: accepted when reading, never used to write. Default `[]`. */
  secretKeyFallbacks?: readonly string[];
  /** `'django.contrib.sessions.' + <store class qualname>`; default {@link DEFAULT_SESSION_SALT}. */
  salt?: string;
  /**
   * Also read what Django 3.1/3.2 could read and 4.0+ cannot: sha1-signed modern data and the
   * pre-3.1 format. Such data is reported `stale` so the next save rewrites it. Default: what
   * the default `djangoVersion` (5.2) does, `false`.
   */
  legacyDecode?: boolean;
  /**
   * The most bytes of JSON one session may hold: `decode()` refuses larger data with status
   * `'too-large'` (checked before base64-decoding, and while inflating, so a zlib bomb is never
   * inflated past it), and `encode()` throws a `RangeError` rather than write what it could not read
   * back. Default {@link DEFAULT_MAX_DECODED_BYTES} (4 MiB); an integer from 1 to
   * `buffer.constants.MAX_LENGTH`.
   */
  maxDecodedBytes?: number;
}

const NOT_JSON_HINT = 'only JSON values (string, number, boolean, null, arrays, plain objects) can be stored';

// The depth of a value stored under a session key: the session dict around it is level 1.
const VALUE_DEPTH = 2;

/**
 * The pre-3.1 hash salt for a modern salt. Django built them from the same class:
 * `'django.contrib.sessions.' + __qualname__` and `'django.contrib.sessions' + __name__` (no dot,
 * and the bare class name even for a nested class). Salts outside that namespace drop their last dot.
 *
 * @example
 * legacySaltFor('django.contrib.sessions.SessionStore'); // 'django.contrib.sessionsSessionStore'
 */
export function legacySaltFor(salt: string): string {
  const prefix = 'django.contrib.sessions.';
  const lastDot = salt.lastIndexOf('.');
  if (salt.startsWith(prefix)) {
    return prefix.slice(0, -1) + salt.slice(lastDot + 1);
  }
  return lastDot < 0 ? salt : salt.slice(0, lastDot) + salt.slice(lastDot + 1);
}

/**
 * Throws a `TypeError` naming the path unless `value` is JSON that Python's `json` module reads
 * back unchanged: strings, finite numbers, booleans, null, arrays and plain objects (prototype
 * `Object.prototype` or null), recursively and without cycles. Shared references are fine.
 *
 * `value` is checked as a value stored under a session key, one level below the session dict: it
 * may nest at most `MAX_SESSION_DEPTH - 1` levels itself (see {@link MAX_SESSION_DEPTH}).
 *
 * @example
 * assertJsonValue({ items: [1, new Date()] }, 'cart');
 * // TypeError: session value at "cart.items[1]" is a Date; only JSON values (...) can be stored
 */
export function assertJsonValue(value: unknown, path = 'value'): void {
  checkJson(value, path, new Set(), VALUE_DEPTH, false);
}

/**
 * Recursive, but never deeper than MAX_SESSION_DEPTH calls: the depth is checked before descending.
 * `pythonNumbers`: accept NaN, ±Infinity and ints past the double range (see isPythonOnlyNumber),
 * which a session read from Django's data may hold and a save must write back; the app's own
 * values (assertJsonValue, i.e. `set()`) may not hold them.
 */
function checkJson(value: unknown, path: string, ancestors: Set<object>, depth: number, pythonNumbers: boolean): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (Number.isFinite(value) || pythonNumbers) return;
      return refuse(path, `is ${String(value)}`);
    case 'undefined':
      return refuse(path, 'is undefined');
    case 'function':
      return refuse(path, 'is a function');
    case 'symbol':
      return refuse(path, 'is a symbol');
    case 'bigint':
      if (pythonNumbers && isPythonOnlyNumber(value)) return;
      return refuse(path, 'is a bigint');
  }
  if (value === null) return;
  const obj = value as object;
  if (ancestors.has(obj)) {
    return refuse(path, 'is a circular reference');
  }
  if (depth > MAX_SESSION_DEPTH) {
    throw new TypeError(
      `session value at "${path}" is nested deeper than MAX_SESSION_DEPTH (${MAX_SESSION_DEPTH} levels, ` +
        'the session dict being level 1); Django could not reliably read it back',
    );
  }
  const proto: unknown = Object.getPrototypeOf(obj);
  const isArray = Array.isArray(obj) && proto === Array.prototype;
  if (!isArray && proto !== Object.prototype && proto !== null) {
    return refuse(path, `is ${describeInstance(obj)}`);
  }
  // JSON.stringify silently drops symbol keys; refuse rather than lose data.
  if (Object.getOwnPropertySymbols(obj).length > 0) {
    return refuse(path, 'has symbol keys');
  }
  ancestors.add(obj);
  if (isArray) {
    const arr = obj as unknown[];
    // Index loop, not forEach: holes must be seen (they would become null).
    for (let i = 0; i < arr.length; i++) {
      checkJson(arr[i], `${path}[${i}]`, ancestors, depth + 1, pythonNumbers);
    }
  } else {
    for (const key of Object.keys(obj)) {
      checkJson((obj as Record<string, unknown>)[key], joinPath(path, key), ancestors, depth + 1, pythonNumbers);
    }
  }
  ancestors.delete(obj);
}

function joinPath(path: string, key: string): string {
  const segment = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (path === '') return segment;
  return segment.startsWith('[') ? path + segment : `${path}.${segment}`;
}

function describeInstance(obj: object): string {
  let name: unknown;
  try {
    name = (obj as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    name = undefined;
  }
  if (typeof name === 'string' && name !== '') {
    // "a Uint8Array", "an Object": a rough article is enough for an error message.
    return `${/^[AEIO]/.test(name) ? 'an' : 'a'} ${name}`;
  }
  return 'an object that is not a plain object';
}

function refuse(path: string, what: string): never {
  throw new TypeError(`session value at "${path}" ${what}; ${NOT_JSON_HINT}`);
}

function isPlainObject(value: unknown): value is SessionDict {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Reads and writes Django's `session_data` column: `SessionBase.encode` / `decode`.
 *
 * @example
 * const codec = new SessionCodec({ secretKey: 'k' });
 * codec.encode({ a: 1 }, 1700000000); // 'eyJhIjoxfQ:1r31eq:l3BIOCnr7yyAYpte7c_WUHlDz1VMFHFhA8iEt2m8VCc'
 * codec.decode('eyJhIjoxfQ:1r31eq:l3BIOCnr7yyAYpte7c_WUHlDz1VMFHFhA8iEt2m8VCc');
 * // { data: { a: 1 }, status: 'ok', stale: false, format: 'signed' }
 */
export class SessionCodec {
  // Private fields (#): util.inspect, console.log, JSON.stringify and Nest's Logger never see them.
  readonly #secretKey: string;
  readonly #keys: readonly string[];
  private readonly salt: string;
  private readonly legacySalt: string;
  private readonly legacyDecode: boolean;
  private readonly maxDecodedBytes: number;

  constructor(options: SessionCodecOptions) {
    if (typeof options?.secretKey !== 'string' || options.secretKey === '') {
      // Django refuses to run with an empty SECRET_KEY (ImproperlyConfigured); so do we.
      throw new TypeError('SessionCodec: secretKey must be a non-empty string');
    }
    const fallbacks = options.secretKeyFallbacks ?? [];
    if (!Array.isArray(fallbacks) || fallbacks.some((k) => typeof k !== 'string' || k === '')) {
      throw new TypeError('SessionCodec: secretKeyFallbacks must be an array of non-empty strings');
    }
    const salt = options.salt ?? DEFAULT_SESSION_SALT;
    if (typeof salt !== 'string' || salt === '') {
      throw new TypeError('SessionCodec: salt must be a non-empty string');
    }
    this.#secretKey = options.secretKey;
    this.#keys = Object.freeze([options.secretKey, ...fallbacks]);
    this.salt = salt;
    this.legacySalt = legacySaltFor(salt);
    this.legacyDecode = options.legacyDecode ?? djangoVersionTraits().legacyDecode;
    const maxDecodedBytes = options.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES;
    assertByteLimit(maxDecodedBytes, 'SessionCodec: maxDecodedBytes');
    this.maxDecodedBytes = maxDecodedBytes;
  }

  /** Whether `other` reads and writes exactly as this codec does (the same keys, salt and limits). */
  sameAs(other: SessionCodec): boolean {
    return (
      other === this ||
      (other.#keys.length === this.#keys.length &&
        other.#keys.every((key, i) => key === this.#keys[i]) &&
        other.salt === this.salt &&
        other.legacyDecode === this.legacyDecode &&
        other.maxDecodedBytes === this.maxDecodedBytes)
    );
  }

  /** What printing a codec shows: never its keys. */
  [inspect.custom](): string {
    return `SessionCodec { salt: ${JSON.stringify(this.salt)}, secretKey: '[secret]', secretKeyFallbacks: ${this.#keys.length - 1} }`;
  }

  toJSON(): Record<string, unknown> {
    return { salt: this.salt, secretKey: '[secret]', secretKeyFallbacks: this.#keys.length - 1 };
  }

  /**
   * `SessionBase.encode`: JSON (ASCII-escaped as Python writes it), zlib when it saves at least
   * two bytes, signed with the current key (sha256). Throws a `TypeError` if `data` is not a
   * plain object of JSON values (see {@link assertJsonValue}) or nests deeper than
   * {@link MAX_SESSION_DEPTH}, and a `RangeError` if its JSON exceeds `maxDecodedBytes`.
   */
  encode(data: SessionDict, nowSeconds: number = Math.floor(Date.now() / 1000)): string {
    if (!isPlainObject(data)) {
      throw new TypeError(`session data must be a plain object; ${NOT_JSON_HINT}`);
    }
    for (const key of Object.keys(data)) {
      checkJson(data[key], joinPath('', key), new Set([data]), VALUE_DEPTH, true);
    }
    if (Object.getOwnPropertySymbols(data).length > 0) {
      throw new TypeError(`session data has symbol keys; ${NOT_JSON_HINT}`);
    }
    return this.sign(pythonJsonDumps(data), nowSeconds);
  }

  /**
   * `encode()` for a dict kept as a `Map`: written in insertion order, as Python writes a dict
   * (a JS object would list integer-like keys such as "10" before "b").
   */
  encodeEntries(data: ReadonlyMap<string, unknown>, nowSeconds: number = Math.floor(Date.now() / 1000)): string {
    const entries = [...data];
    for (const [key, value] of entries) {
      if (typeof key !== 'string') throw new TypeError(`session keys must be strings; ${NOT_JSON_HINT}`);
      checkJson(value, joinPath('', key), new Set(), VALUE_DEPTH, true);
    }
    return this.sign(`{${entries.map(([k, v]) => `${pythonJsonDumps(k)}:${pythonJsonDumps(v)}`).join(',')}}`, nowSeconds);
  }

  private sign(json: string, nowSeconds: number): string {
    if (!Number.isFinite(nowSeconds)) {
      throw new RangeError(`nowSeconds must be a finite number of seconds, got ${String(nowSeconds)}`);
    }
    // pythonJsonDumps writes ASCII only: one byte per character.
    if (json.length > this.maxDecodedBytes) {
      throw new RangeError(
        `session data is ${json.length} bytes of JSON, more than maxDecodedBytes (${this.maxDecodedBytes}); ` +
          'it could not be read back',
      );
    }
    // Django: bytes of an ASCII string, so latin-1 / UTF-8 agree.
    const bytes = Buffer.from(json, 'latin1');
    return timestampSign(encodeObjectPayload(bytes, true), {
      key: this.#secretKey,
      salt: this.salt,
      algorithm: 'sha256',
      timestampSeconds: Math.floor(nowSeconds),
    });
  }

  /**
   * `SessionBase.decode`: never throws. `{}` with `'bad-signature'` when no key (or, with
   * `legacyDecode`, no legacy hash) verifies; `{}` with `'malformed'` when a signature verified
   * but the payload is not a JSON object or nests deeper than {@link MAX_SESSION_DEPTH}; `{}` with
   * `'too-large'` when it verified but decodes to more than `maxDecodedBytes`.
   */
  decode(sessionData: string): DecodeResult {
    try {
      return this.decodeOrThrow(sessionData);
    } catch {
      // Unreachable by design; a guarantee for callers that run this on every request.
      return { data: {}, status: 'malformed', stale: false };
    }
  }

  private decodeOrThrow(sessionData: unknown): DecodeResult {
    if (typeof sessionData !== 'string') {
      // Django 4.x: `':' in None` raises TypeError, swallowed without a log.
      return { data: {}, status: 'malformed', stale: false };
    }
    const algorithms: SigningAlgorithm[] = this.legacyDecode ? ['sha256', 'sha1'] : ['sha256'];
    let verified: VerifiedValue;
    try {
      verified = verify(sessionData, { keys: this.#keys, salt: this.salt, algorithms });
    } catch (e) {
      if (!(e instanceof BadSignature)) throw e;
      return this.legacyDecode ? this.decodeLegacy(sessionData) : badSignature();
    }
    // Everything below ran under a valid signature: Django 4.x returns {} silently on failure.
    // (Django 3.2 would fall into _legacy_decode here and usually raise binascii.Error.)
    const stale = verified.keyIndex !== 0 || verified.algorithm !== 'sha256';
    const at = verified.value.lastIndexOf(':');
    if (at < 0) return malformed('signed');
    try {
      // The timestamp is only validated: sessions are loaded with max_age=None.
      b62Decode(verified.value.slice(at + 1));
      const bytes = decodeObjectPayload(verified.value.slice(0, at), this.maxDecodedBytes);
      return fromJson(bytes, stale, 'signed', this.maxDecodedBytes);
    } catch (e) {
      if (e instanceof PayloadTooLarge) return { data: {}, status: 'too-large', stale: false, format: 'signed' };
      return malformed('signed');
    }
  }

  // Django 3.2 `_legacy_decode`, which also tries the fallbacks (3.2 had none, harmless).
  private decodeLegacy(sessionData: string): DecodeResult {
    // Python's b64decode(session_data.encode('ascii')): non-ASCII raises, other foreign characters
    // (':', '-', '_', whitespace) are dropped before decoding; bad padding raises.
    if (/[^\x00-\x7f]/.test(sessionData)) return badSignature();
    const cleaned = sessionData.replace(/[^A-Za-z0-9+/=]/g, '');
    // The hash covers the decoded JSON, so nothing is verified before decoding: refuse to decode
    // more than the limit (plus the 40-hex-digit hash and ':'), and report what could not be
    // verified as a signature failure, not as 'too-large'.
    const padding = cleaned.endsWith('==') ? 2 : cleaned.endsWith('=') ? 1 : 0;
    if (Math.ceil(cleaned.length / 4) * 3 - padding > this.maxDecodedBytes + 41) return badSignature();
    if (!STANDARD_BASE64.test(cleaned)) return badSignature();
    const decoded = Buffer.from(cleaned, 'base64');
    const colon = decoded.indexOf(0x3a);
    if (colon < 0) return badSignature();
    const hash = decoded.subarray(0, colon);
    const serialized = decoded.subarray(colon + 1);
    const verified = this.#keys.some((key) =>
      constantTimeEqual(hash, saltedHmac(this.legacySalt, serialized, key, 'sha1').toString('hex')),
    );
    if (!verified) return badSignature();
    try {
      return fromJson(serialized, true, 'legacy', this.maxDecodedBytes);
    } catch {
      return malformed('legacy');
    }
  }
}

// The most a character of stored JSON can grow when written again: a latin-1 byte from 0x7F up
// becomes \u00XX (6), and '1e20' (4) becomes 21 digits. Shorter JSON cannot outgrow the limit.
const MAX_REWRITE_GROWTH = 6;

function fromJson(bytes: Buffer, stale: boolean, format: 'signed' | 'legacy', maxDecodedBytes: number): DecodeResult {
  // JSONSerializer.loads: bytes.decode('latin-1'), then json.loads (which also reads NaN,
  // Infinity, -Infinity and ints of any size up to 4,300 digits: see parsePythonJson). JSON.parse
  // defines a "__proto__" member as an own data property, so the result can be returned as is.
  const text = bytes.toString('latin1');
  // Before parsing: JSON.parse would build a structure that no save could write back.
  if (jsonDepthExceeds(text, MAX_SESSION_DEPTH)) return malformed(format);
  const parsed: unknown = parsePythonJson(text);
  if (!isPlainObject(parsed)) return malformed(format);
  // Written again, it must fit the limit too, or every save of it would fail (see sign()).
  if (text.length * MAX_REWRITE_GROWTH > maxDecodedBytes && jsonEncodedLength(parsed, maxDecodedBytes) > maxDecodedBytes) {
    return { data: {}, status: 'too-large', stale: false, format };
  }
  const keys = writtenKeyOrder(text, parsed);
  return keys === undefined ? { data: parsed, status: 'ok', stale, format } : { data: parsed, status: 'ok', stale, format, keys };
}


function badSignature(): DecodeResult {
  return { data: {}, status: 'bad-signature', stale: false };
}

function malformed(format: 'signed' | 'legacy'): DecodeResult {
  return { data: {}, status: 'malformed', stale: false, format };
}
