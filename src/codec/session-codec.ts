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
 */
import {
  BadSignature,
  b62Decode,
  constantTimeEqual,
  decodeObjectPayload,
  encodeObjectPayload,
  pythonJsonDumps,
  saltedHmac,
  timestampSign,
  verify,
  type SigningAlgorithm,
  type VerifiedValue,
} from './signing.js';

/**
 * Django's `key_salt` for every built-in backend: `'django.contrib.sessions.' + SessionStore.__qualname__`.
 *
 * @example
 * new SessionCodec({ secretKey, salt: DEFAULT_SESSION_SALT });
 */
export const DEFAULT_SESSION_SALT = 'django.contrib.sessions.SessionStore';

/**
 * The decoded session: what Django keeps in `SessionBase._session_cache`.
 *
 * @example
 * const data: SessionDict = { _auth_user_id: '1' };
 */
export type SessionDict = Record<string, unknown>;

/**
 * `'ok'`; `'bad-signature'` (no key verified: log "Session data corrupted" as Django does);
 * `'malformed'` (verified, but not decodable into a dict: Django stays silent).
 *
 * @example
 * if (result.status === 'bad-signature') logger.warn('Session data corrupted');
 */
export type DecodeStatus = 'ok' | 'bad-signature' | 'malformed';

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
   * pre-3.1 format. Default true. Such data is reported `stale` so the next save rewrites it.
   */
  legacyDecode?: boolean;
}

const NOT_JSON_HINT = 'only JSON values (string, number, boolean, null, arrays, plain objects) can be stored';

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
 * @example
 * assertJsonValue({ items: [1, new Date()] }, 'cart');
 * // TypeError: session value at "cart.items[1]" is a Date; only JSON values (...) can be stored
 */
export function assertJsonValue(value: unknown, path = 'value'): void {
  checkJson(value, path, new Set());
}

function checkJson(value: unknown, path: string, ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (Number.isFinite(value)) return;
      return refuse(path, `is ${String(value)}`);
    case 'undefined':
      return refuse(path, 'is undefined');
    case 'function':
      return refuse(path, 'is a function');
    case 'symbol':
      return refuse(path, 'is a symbol');
    case 'bigint':
      return refuse(path, 'is a bigint');
  }
  if (value === null) return;
  const obj = value as object;
  if (ancestors.has(obj)) {
    return refuse(path, 'is a circular reference');
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
      checkJson(arr[i], `${path}[${i}]`, ancestors);
    }
  } else {
    for (const key of Object.keys(obj)) {
      checkJson((obj as Record<string, unknown>)[key], joinPath(path, key), ancestors);
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
  private readonly secretKey: string;
  private readonly keys: readonly string[];
  private readonly salt: string;
  private readonly legacySalt: string;
  private readonly legacyDecode: boolean;

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
    this.secretKey = options.secretKey;
    this.keys = Object.freeze([options.secretKey, ...fallbacks]);
    this.salt = salt;
    this.legacySalt = legacySaltFor(salt);
    this.legacyDecode = options.legacyDecode ?? true;
  }

  /**
   * `SessionBase.encode`: JSON (ASCII-escaped as Python writes it), zlib when it saves at least
   * two bytes, signed with the current key (sha256). Throws a `TypeError` if `data` is not a
   * plain object of JSON values (see {@link assertJsonValue}).
   */
  encode(data: SessionDict, nowSeconds: number = Math.floor(Date.now() / 1000)): string {
    if (!isPlainObject(data)) {
      throw new TypeError(`session data must be a plain object; ${NOT_JSON_HINT}`);
    }
    for (const key of Object.keys(data)) {
      checkJson(data[key], joinPath('', key), new Set([data]));
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
      checkJson(value, joinPath('', key), new Set());
    }
    return this.sign(`{${entries.map(([k, v]) => `${pythonJsonDumps(k)}:${pythonJsonDumps(v)}`).join(',')}}`, nowSeconds);
  }

  private sign(json: string, nowSeconds: number): string {
    if (!Number.isFinite(nowSeconds)) {
      throw new RangeError(`nowSeconds must be a finite number of seconds, got ${String(nowSeconds)}`);
    }
    // Django: bytes of an ASCII string, so latin-1 / UTF-8 agree.
    const bytes = Buffer.from(json, 'latin1');
    return timestampSign(encodeObjectPayload(bytes, true), {
      key: this.secretKey,
      salt: this.salt,
      algorithm: 'sha256',
      timestampSeconds: Math.floor(nowSeconds),
    });
  }

  /**
   * `SessionBase.decode`: never throws. `{}` with `'bad-signature'` when no key (or, with
   * `legacyDecode`, no legacy hash) verifies; `{}` with `'malformed'` when a signature verified
   * but the payload is not a JSON object.
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
      verified = verify(sessionData, { keys: this.keys, salt: this.salt, algorithms });
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
      const bytes = decodeObjectPayload(verified.value.slice(0, at));
      return fromJson(bytes, stale, 'signed');
    } catch {
      return malformed('signed');
    }
  }

  // Django 3.2 `_legacy_decode`, which also tries the fallbacks (3.2 had none, harmless).
  private decodeLegacy(sessionData: string): DecodeResult {
    // Python's b64decode(session_data.encode('ascii')): non-ASCII raises, other foreign characters
    // (':', '-', '_', whitespace) are dropped before decoding; bad padding raises.
    if (/[^\x00-\x7f]/.test(sessionData)) return badSignature();
    const cleaned = sessionData.replace(/[^A-Za-z0-9+/=]/g, '');
    if (!STANDARD_BASE64.test(cleaned)) return badSignature();
    const decoded = Buffer.from(cleaned, 'base64');
    const colon = decoded.indexOf(0x3a);
    if (colon < 0) return badSignature();
    const hash = decoded.subarray(0, colon);
    const serialized = decoded.subarray(colon + 1);
    const verified = this.keys.some((key) =>
      constantTimeEqual(hash, saltedHmac(this.legacySalt, serialized, key, 'sha1').toString('hex')),
    );
    if (!verified) return badSignature();
    try {
      return fromJson(serialized, true, 'legacy');
    } catch {
      return malformed('legacy');
    }
  }
}

function fromJson(bytes: Buffer, stale: boolean, format: 'signed' | 'legacy'): DecodeResult {
  // JSONSerializer.loads: bytes.decode('latin-1'), then json.loads. JSON.parse defines a
  // "__proto__" member as an own data property, so the result can be returned as is.
  const text = bytes.toString('latin1');
  const parsed: unknown = JSON.parse(text);
  if (!isPlainObject(parsed)) return malformed(format);
  const keys = Object.keys(parsed);
  // A JS object lists integer-like keys first; a Python dict keeps insertion order. Only then is
  // the order read from the text itself.
  if (keys.some((k) => INTEGER_KEY.test(k))) return { data: parsed, status: 'ok', stale, format, keys: topLevelKeys(text) };
  return { data: parsed, status: 'ok', stale, format };
}

const INTEGER_KEY = /^(?:0|[1-9]\d*)$/;

/** The keys of the top-level object of valid JSON `text`, in the order written (first occurrence). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        keys.push(JSON.parse(text.slice(i, j + 1)) as string);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return [...new Set(keys)];
}

function badSignature(): DecodeResult {
  return { data: {}, status: 'bad-signature', stale: false };
}

function malformed(format: 'signed' | 'legacy'): DecodeResult {
  return { data: {}, status: 'malformed', stale: false, format };
}
