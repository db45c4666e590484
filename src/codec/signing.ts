/*
 * A standalone port of `django.core.signing` and `django.utils.crypto.salted_hmac`, enough to read
 * and write what Django's `signing.dumps` / `signing.loads` produce (Django 3.1 … 5.2).
 *
 * Wire format of a signed value (separator ':'):
 *
 *   Signer:           <value>:<signature>
 *   TimestampSigner:  <value>:<b62(unix seconds)>:<signature>
 *   dumps()/loads():  value = ['.'] b64url_nopad(data), where data = latin-1 bytes of
 *                     json.dumps(obj, separators=(",", ":")) (ensure_ascii, so pure ASCII), zlib
 *                     compressed (RFC 1950, level 6) only when compress=True and the result is at
 *                     least 2 bytes shorter; the leading '.' marks compression.
 *
 *   signature = b64url_nopad(HMAC_<alg>(key = <alg>(salt + "signer" + secret).digest(), msg = value))
 *               sha256 -> 43 chars (the only algorithm Django 4.0+ writes or accepts);
 *               sha1   -> 27 chars (Django 3.1/3.2 also accepted it: DEFAULT_HASHING_ALGORITHM='sha1').
 *
 * The signature covers everything before the last ':' (the '.' marker and the timestamp
 * included). Verification tries the current key, then each fallback (SECRET_KEY_FALLBACKS, 4.1+),
 * comparing in constant time. Known answer (SECRET_KEY='k', {"a":1}, clock frozen at 1700000000,
 * salt 'django.contrib.sessions.SessionStore'):
 *
 *   eyJhIjoxfQ:1r31eq:l3BIOCnr7yyAYpte7c_WUHlDz1VMFHFhA8iEt2m8VCc
 *
 * Limits Django does not have (it trusts anything its signature verifies): what a payload decodes
 * to is capped at `maxDecodedBytes` (default 4 MiB) so a signed zlib bomb is refused while it is
 * inflated, and JSON is refused deeper than {@link MAX_JSON_DEPTH} levels, which Python's json
 * (hence Django) reads and writes with room to spare and where JavaScript recursion is safe.
 *
 * JSON as Python's json has it: `NaN`, `Infinity`, `-Infinity` and ints of any size (up to 4,300
 * digits) are read and written as Python does (see {@link isPythonOnlyNumber}); JSON.parse alone
 * would refuse the first three and turn 10**400 into Infinity.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { constants as bufferConstants } from 'node:buffer';
import { deflateSync, inflateSync } from 'node:zlib';

/** Hash algorithms Django's signing has used: sha256 (3.1+ default, 4.0+ only) and sha1 (≤ 3.2). */
export type SigningAlgorithm = 'sha256' | 'sha1';

/** A secret as Django accepts it: `str` (UTF-8 encoded) or `bytes`. */
export type SigningKey = string | Buffer;

const SEP = ':';
const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// Django's defaults: `Signer.salt` is the class's dotted path; `dumps`/`loads` use "django.core.signing".
const DEFAULT_SIGNER_SALT = 'django.core.signing.Signer';
const DEFAULT_TIMESTAMP_SIGNER_SALT = 'django.core.signing.TimestampSigner';
const DEFAULT_DUMPS_SALT = 'django.core.signing';

/**
 * Raised when no key verifies a signed value (Django's `signing.BadSignature`).
 *
 * @example
 * try { unsign(cookie, { keys: [secret] }); } catch (e) { if (e instanceof BadSignature) reject(); }
 */
export class BadSignature extends Error {
  override name = 'BadSignature';
}

/**
 * The signature is valid but older than `maxAgeSeconds` (Django's `signing.SignatureExpired`).
 * A subclass of {@link BadSignature}, as in Django.
 *
 * @example
 * timestampUnsign(token, { keys: [secret], maxAgeSeconds: 60 }); // may throw SignatureExpired
 */
export class SignatureExpired extends BadSignature {
  override name = 'SignatureExpired';
}

/**
 * A verified payload would decode to more than the allowed number of bytes (`maxDecodedBytes`).
 * Django has no such limit; here it stops a signed zlib bomb before it is inflated in full.
 *
 * @example
 * try { loads(token, { keys: [secret] }); } catch (e) { if (e instanceof PayloadTooLarge) console.warn(e.limit); }
 */
export class PayloadTooLarge extends Error {
  override name = 'PayloadTooLarge';
  constructor(readonly limit: number) {
    super(`payload decodes to more than ${limit} bytes`);
  }
}

/**
 * The default cap on what one signed payload may decode to: 4 MiB of JSON. Django sessions are
 * usually well under a kilobyte; anything near this size is misuse, and a compressed payload that
 * inflates past it is a zlib bomb (a 408 KB row inflates to 300 MiB).
 *
 * @example
 * decodeObjectPayload(payload, DEFAULT_MAX_DECODED_BYTES * 2);
 */
export const DEFAULT_MAX_DECODED_BYTES = 4 * 1024 * 1024;

/**
 * How deeply JSON may nest, the outermost array or object counting as level 1 (for a session, the
 * session dict). Python's json recurses once per level and gives up with RecursionError at the
 * recursion limit (1,000 frames, minus the caller's stack): Django 3.2 on Python 3.11 read and
 * wrote 992 levels from the top of a script, 961 inside a test-client request and 968 under
 * runserver (measured once by hand, and by test/interop/make-vectors.py). 500 leaves the other
 * half of Python's stack to whatever calls the session (template rendering, DRF, signals), and
 * keeps JavaScript's own recursion (JSON.stringify) far from its limit.
 *
 * @example
 * jsonDepthExceeds('[[1]]', MAX_JSON_DEPTH); // false
 */
export const MAX_JSON_DEPTH = 500;

/**
 * URL-safe base64 without `=` padding (`django.core.signing.b64_encode`).
 *
 * @example
 * b64UrlEncode(Buffer.from('{}')); // 'e30'
 */
export function b64UrlEncode(buf: Buffer): string {
  return buf.toString('base64url');
}

/**
 * Inverse of {@link b64UrlEncode} (`django.core.signing.b64_decode`): padding is optional.
 * Throws a `TypeError` on characters outside the URL-safe alphabet or an impossible length.
 *
 * Stricter than Python's non-strict decoder, which silently drops foreign characters: Django never
 * emits them, and Node's own decoder would otherwise skip them too and hide corrupt data.
 *
 * @example
 * b64UrlDecode('e30').toString(); // '{}'
 */
export function b64UrlDecode(s: string): Buffer {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(s)) {
    throw new TypeError('invalid base64url string');
  }
  const body = s.replace(/=+$/, '');
  // 4n+1 characters cannot encode whole bytes (Python: "cannot be 1 more than a multiple of 4").
  if (body.length % 4 === 1) {
    throw new TypeError('invalid base64url length');
  }
  return Buffer.from(body, 'base64url');
}

/**
 * Base62 as `django.core.signing.b62_encode`: most significant digit first, `-` for negatives.
 * Only safe integers are accepted (JS numbers above 2^53 are not exact).
 *
 * @example
 * b62Encode(1700000000); // '1r31eq'
 */
export function b62Encode(n: number): string {
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`b62Encode expects a safe integer, got ${String(n)}`);
  }
  if (n === 0) return '0';
  const sign = n < 0 ? '-' : '';
  let rest = Math.abs(n);
  let encoded = '';
  while (rest > 0) {
    encoded = BASE62_ALPHABET[rest % 62] + encoded;
    rest = Math.floor(rest / 62);
  }
  return sign + encoded;
}

/**
 * Inverse of {@link b62Encode} (`django.core.signing.b62_decode`). Throws a `TypeError` on an empty
 * string or a character outside the alphabet. Like Django, a lone `-` decodes to 0.
 * Values beyond 2^53 lose precision (Python's ints would not).
 *
 * @example
 * b62Decode('1r31eq'); // 1700000000
 */
export function b62Decode(s: string): number {
  if (typeof s !== 'string' || s.length === 0) {
    throw new TypeError('invalid base62 string');
  }
  let digits = s;
  let sign = 1;
  if (digits[0] === '-') {
    digits = digits.slice(1);
    sign = -1;
  }
  let decoded = 0;
  for (const ch of digits) {
    const d = BASE62_ALPHABET.indexOf(ch);
    if (d < 0) throw new TypeError(`invalid base62 digit ${JSON.stringify(ch)}`);
    decoded = decoded * 62 + d;
  }
  // `0 * -1` would be -0, which Python has no notion of.
  return decoded === 0 ? 0 : sign * decoded;
}

/**
 * `django.utils.crypto.salted_hmac(key_salt, value, secret, algorithm=...)`: the HMAC key is the
 * full digest of `key_salt + secret` (salt first, plain byte concatenation, strings UTF-8 encoded).
 * Returns the raw HMAC digest.
 *
 * @example
 * saltedHmac('django.contrib.sessionsSessionStore', '{"a":1}', secret, 'sha1').toString('hex');
 */
export function saltedHmac(
  keySalt: string,
  value: string | Buffer,
  secret: SigningKey,
  algorithm: SigningAlgorithm,
): Buffer {
  return createHmac(algorithm, hmacKey(keySalt, secret, algorithm)).update(toBytes(value)).digest();
}

/**
 * The derived HMAC keys of the last few (salt, secret, algorithm) triples: an app signs with a
 * handful of them (a salt per use, a secret and its fallbacks), on every request. Bounded, and kept
 * in this module only (nothing prints it); a Buffer secret is not cached.
 */
const derivedKeys = new Map<string, Buffer>();
const DERIVED_KEYS_MAX = 64;

function hmacKey(keySalt: string, secret: SigningKey, algorithm: SigningAlgorithm): Buffer {
  if (typeof secret !== 'string') return createHash(algorithm).update(toBytes(keySalt)).update(secret).digest();
  const id = `${algorithm}:${keySalt.length}:${keySalt}${secret}`; // unambiguous: the salt's length first
  let key = derivedKeys.get(id);
  if (key === undefined) {
    key = createHash(algorithm).update(toBytes(keySalt)).update(toBytes(secret)).digest();
    if (derivedKeys.size >= DERIVED_KEYS_MAX) derivedKeys.delete(derivedKeys.keys().next().value!);
    derivedKeys.set(id, key);
  }
  return key;
}

/**
 * `django.utils.crypto.constant_time_compare`: compares the UTF-8 bytes of two strings without
 * leaking where they differ. Different lengths return false at once (`timingSafeEqual` would throw);
 * the length of a signature is public anyway.
 *
 * @example
 * constantTimeEqual(sig, expected);
 */
export function constantTimeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const x = toBytes(a);
  const y = toBytes(b);
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}

/** Options for producing a signature (`Signer(key=..., salt=..., algorithm=...)`). */
export interface SignOptions {
  /** The secret (Django's `SECRET_KEY`). */
  key: SigningKey;
  /** Namespaces the signature; default `'django.core.signing.Signer'` as Django's `Signer`. */
  salt?: string;
  /** Default `'sha256'`, the only algorithm Django 4.0+ writes. */
  algorithm?: SigningAlgorithm;
}

/** Options for verifying (`Signer(key=keys[0], fallback_keys=keys[1:], salt=...)`). */
export interface UnsignOptions {
  /** `[current, ...fallbacks]`, tried in order (Django 4.1's `SECRET_KEY_FALLBACKS`). Must not be empty. */
  keys: readonly SigningKey[];
  /** Must equal the salt used when signing; default `'django.core.signing.Signer'`. */
  salt?: string;
  /**
   * Algorithms accepted, tried in order for every key. Default `['sha256']` (Django 4.0+);
   * `['sha256', 'sha1']` also accepts what Django 3.1 wrote under `DEFAULT_HASHING_ALGORITHM='sha1'`.
   */
  algorithms?: readonly SigningAlgorithm[];
}

/** A value whose signature verified, and which key and algorithm verified it. */
export interface VerifiedValue {
  value: string;
  /** Index into `keys`: 0 is the current key, anything else a fallback (re-sign it). */
  keyIndex: number;
  algorithm: SigningAlgorithm;
}

/**
 * `Signer.signature(value)`: `b64url_nopad(salted_hmac(salt + "signer", value, key))`.
 *
 * @example
 * signature('eyJhIjoxfQ:1r31eq', { key: secret, salt: 'django.contrib.sessions.SessionStore' });
 */
export function signature(value: string, options: SignOptions): string {
  const salt = options.salt ?? DEFAULT_SIGNER_SALT;
  return b64UrlEncode(saltedHmac(salt + 'signer', value, options.key, options.algorithm ?? 'sha256'));
}

/**
 * `Signer.sign(value)`: `value + ":" + signature(value)`.
 *
 * @example
 * sign('foo', { key: 'predictable-secret' }); // 'foo:jZQoX_FtSO70jX9HLRGg2A_2s4kdDBxz1QoO_OpEQb0'
 */
export function sign(value: string, options: SignOptions): string {
  return value + SEP + signature(value, options);
}

/**
 * `Signer.unsign` that also reports which key and algorithm verified. Splits at the last `:` and
 * checks the signature under every key × algorithm in constant time. Throws {@link BadSignature}
 * when there is no `:` or nothing verifies.
 *
 * @example
 * const { value, keyIndex } = verify(signed, { keys: [current, ...fallbacks], salt });
 */
export function verify(signed: string, options: UnsignOptions): VerifiedValue {
  if (options.keys.length === 0) {
    throw new TypeError('unsign needs at least one key');
  }
  if (typeof signed !== 'string') {
    throw new BadSignature('Signed value is not a string');
  }
  const at = signed.lastIndexOf(SEP);
  if (at < 0) {
    throw new BadSignature(`No "${SEP}" found in value`);
  }
  const value = signed.slice(0, at);
  const sig = signed.slice(at + 1);
  const salt = options.salt ?? DEFAULT_SIGNER_SALT;
  for (const algorithm of options.algorithms ?? ['sha256']) {
    for (let keyIndex = 0; keyIndex < options.keys.length; keyIndex++) {
      const key = options.keys[keyIndex] as SigningKey;
      if (constantTimeEqual(sig, signature(value, { key, salt, algorithm }))) {
        return { value, keyIndex, algorithm };
      }
    }
  }
  // Django echoes the signature; it is not secret, but keep messages free of attacker-sized input.
  throw new BadSignature('Signature does not match');
}

/**
 * `Signer.unsign(signed)`: the value if any key verifies, else throws {@link BadSignature}.
 *
 * @example
 * unsign('foo:jZQoX_FtSO70jX9HLRGg2A_2s4kdDBxz1QoO_OpEQb0', { keys: ['predictable-secret'] }); // 'foo'
 */
export function unsign(signed: string, options: UnsignOptions): string {
  return verify(signed, options).value;
}

/** {@link SignOptions} plus the clock, for `TimestampSigner`. */
export interface TimestampSignOptions extends SignOptions {
  /** Unix seconds to embed; default `Math.floor(Date.now() / 1000)` (Django: `int(time.time())`). */
  timestampSeconds?: number;
}

/** {@link UnsignOptions} plus Django's `max_age`. */
export interface TimestampUnsignOptions extends UnsignOptions {
  /** Reject signatures older than this many seconds ({@link SignatureExpired}); default: no limit. */
  maxAgeSeconds?: number;
  /** The clock for `maxAgeSeconds`, in (fractional) unix seconds; default `Date.now() / 1000`. */
  nowSeconds?: number;
}

/** A verified timestamped value. */
export interface VerifiedTimestampedValue extends VerifiedValue {
  timestampSeconds: number;
}

/**
 * `TimestampSigner.sign(value)`: `value:b62(timestamp):signature`. Default salt
 * `'django.core.signing.TimestampSigner'`.
 *
 * @example
 * timestampSign('eyJhIjoxfQ', { key: 'k', salt: 'django.contrib.sessions.SessionStore', timestampSeconds: 1700000000 });
 */
export function timestampSign(value: string, options: TimestampSignOptions): string {
  const ts = options.timestampSeconds ?? Math.floor(Date.now() / 1000);
  return sign(value + SEP + b62Encode(ts), { ...options, salt: options.salt ?? DEFAULT_TIMESTAMP_SIGNER_SALT });
}

/**
 * `TimestampSigner.unsign(value, max_age=...)`. Throws {@link BadSignature} when no key verifies,
 * {@link SignatureExpired} when too old, and a `TypeError` when the signature verified but the
 * timestamp is missing or not base62 (Django: a `ValueError`, which sessions swallow silently).
 *
 * @example
 * timestampUnsign(token, { keys: [secret], maxAgeSeconds: 3600 }).value;
 */
export function timestampUnsign(signed: string, options: TimestampUnsignOptions): VerifiedTimestampedValue {
  const verified = verify(signed, { ...options, salt: options.salt ?? DEFAULT_TIMESTAMP_SIGNER_SALT });
  const at = verified.value.lastIndexOf(SEP);
  if (at < 0) {
    throw new TypeError('signed value has no timestamp');
  }
  const timestampSeconds = b62Decode(verified.value.slice(at + 1));
  if (options.maxAgeSeconds !== undefined) {
    const now = options.nowSeconds ?? Date.now() / 1000;
    const age = now - timestampSeconds;
    if (age > options.maxAgeSeconds) {
      throw new SignatureExpired(`Signature age ${age} > ${options.maxAgeSeconds} seconds`);
    }
  }
  return { ...verified, value: verified.value.slice(0, at), timestampSeconds };
}

/**
 * The part of `sign_object` between serializing and signing: optionally zlib-compress (kept only
 * when `len(compressed) < len(data) - 1`, paying for the '.' marker, exactly as Django decides),
 * then URL-safe base64 with a leading '.' when compressed.
 *
 * @example
 * encodeObjectPayload(Buffer.from('{"a":1}'), true); // 'eyJhIjoxfQ' (too short to gain)
 */
export function encodeObjectPayload(data: Buffer, compress: boolean): string {
  if (compress) {
    // deflateSync = zlib.compress: RFC 1950 wrapper, level 6, windowBits 15, memLevel 8.
    const compressed = deflateSync(data);
    if (compressed.length < data.length - 1) {
      return '.' + b64UrlEncode(compressed);
    }
  }
  return b64UrlEncode(data);
}

/**
 * The part of `unsign_object` after verifying: strip the '.' marker, base64url-decode and, if
 * marked, zlib-inflate. Throws {@link PayloadTooLarge} when the result would exceed
 * `maxDecodedBytes` (default {@link DEFAULT_MAX_DECODED_BYTES}), and another error on undecodable
 * input.
 *
 * Nothing larger than the limit is ever allocated: the base64 length is checked before decoding
 * (a compressed stream longer than the limit is refused too: Django only compresses when that
 * makes the data shorter), and zlib stops inflating as soon as its output passes the limit.
 *
 * @example
 * decodeObjectPayload('eyJhIjoxfQ').toString('latin1'); // '{"a":1}'
 * decodeObjectPayload(bomb, 1024); // throws PayloadTooLarge after inflating ~1 KiB
 */
export function decodeObjectPayload(payload: string, maxDecodedBytes: number = DEFAULT_MAX_DECODED_BYTES): Buffer {
  assertByteLimit(maxDecodedBytes);
  const compressed = payload.startsWith('.');
  const b64 = compressed ? payload.slice(1) : payload;
  if (base64DecodedLength(b64) > maxDecodedBytes) {
    throw new PayloadTooLarge(maxDecodedBytes);
  }
  if (!compressed) return b64UrlDecode(b64);
  try {
    // Node checks maxOutputLength after every 16 KiB chunk and gives up at once.
    return inflateSync(b64UrlDecode(b64), { maxOutputLength: maxDecodedBytes });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw new PayloadTooLarge(maxDecodedBytes);
    throw e;
  }
}

/**
 * Throws a `TypeError` unless `limit` is a byte count zlib's `maxOutputLength` accepts: an integer
 * from 1 to `buffer.constants.MAX_LENGTH`.
 *
 * @example
 * assertByteLimit(DEFAULT_MAX_DECODED_BYTES);
 */
export function assertByteLimit(limit: number, name = 'maxDecodedBytes'): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > bufferConstants.MAX_LENGTH) {
    throw new TypeError(`${name} must be an integer from 1 to ${bufferConstants.MAX_LENGTH}, got ${String(limit)}`);
  }
}

// Bytes that `s` (base64, padding optional) decodes to, without decoding it. Characters outside
// the alphabet are counted as data: b64UrlDecode rejects them afterwards.
function base64DecodedLength(s: string): number {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x3d /* = */) end--;
  return Math.floor((end * 3) / 4);
}

/**
 * True when valid JSON `text` nests arrays/objects deeper than `maxDepth` levels (the outermost
 * counting as 1). One linear pass that skips over strings, with no recursion, so it is safe on any
 * input; it stops at the first level too deep. Meant to run before `JSON.parse`: on invalid JSON
 * its answer is meaningless, and the parser will reject the text anyway.
 *
 * @example
 * jsonDepthExceeds('{"a":[{"b":"[[["}]}', 2); // true: 3 levels, the brackets in the string ignored
 */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  // Going deeper takes more than maxDepth opening brackets: most sessions are shorter than that.
  if (text.length <= maxDepth) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Jump to the closing quote: the next '"' preceded by an even number of backslashes.
      const end = closingQuote(text, i);
      if (end < 0) return false; // unterminated string: not JSON
      i = end;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/**
 * Throws a `TypeError` if `value` nests arrays/objects deeper than `maxDepth` levels (the value
 * itself counting as 1), or refers to itself. Walks with an explicit stack, never recursion, so it
 * cannot overflow the call stack whatever the input. Sees what `JSON.stringify` would visit: array
 * elements and own enumerable string-keyed properties (`toJSON` is not called).
 *
 * @example
 * assertJsonDepth([[[1]]], 2); // TypeError: JSON value nested deeper than 2 levels
 */
export function assertJsonDepth(value: unknown, maxDepth: number = MAX_JSON_DEPTH): void {
  walkJson(value, maxDepth);
}

/** {@link assertJsonDepth}; true when the value holds a number JSON lacks ({@link isPythonOnlyNumber}). */
function walkJson(value: unknown, maxDepth: number): boolean {
  if (typeof value !== 'object' || value === null) return isPythonOnlyNumber(value);
  let pythonOnly = false;
  // One frame per open container: the container and the children still to visit.
  const onPath = new Set<object>([value]);
  const containers: object[] = [value];
  const pending: unknown[][] = [childrenOf(value)];
  while (pending.length > 0) {
    const children = pending[pending.length - 1] as unknown[];
    if (children.length === 0) {
      pending.pop();
      onPath.delete(containers.pop() as object);
      continue;
    }
    const child = children.pop();
    if (typeof child !== 'object' || child === null) {
      if (!pythonOnly && isPythonOnlyNumber(child)) pythonOnly = true;
      continue;
    }
    if (onPath.has(child)) {
      throw new TypeError('JSON value refers to itself (circular structure)');
    }
    if (containers.length + 1 > maxDepth) throw tooDeep(maxDepth);
    onPath.add(child);
    containers.push(child);
    pending.push(childrenOf(child));
  }
  return pythonOnly;
}

function tooDeep(maxDepth: number): TypeError {
  const which = maxDepth === MAX_JSON_DEPTH ? ' (MAX_JSON_DEPTH)' : '';
  return new TypeError(`JSON value nested deeper than ${maxDepth} levels${which}; Python's json could not reliably read it back`);
}

function childrenOf(container: object): unknown[] {
  if (Array.isArray(container)) return container.slice();
  return Object.keys(container).map((k) => (container as Record<string, unknown>)[k]);
}

/**
 * Byte-identical to Python's `json.dumps(obj, separators=(",", ":"))` (ensure_ascii) for values
 * that are JSON in both languages: every character outside 0x20..0x7E becomes `\uxxxx` (lowercase;
 * DEL included; astral characters as the surrogate pair JS strings already hold); non-integral
 * floats in Python's `repr` form (`1e-05`). Python's numbers that JSON lacks are written as
 * Python writes them (see {@link isPythonOnlyNumber}): NaN, Infinity and -Infinity as `NaN`,
 * `Infinity`, `-Infinity`, a bigint as its digits. Differences that remain: integral floats
 * (`1.0` in Python, `1` here: JS has one number type), ints above 2^53 held in a number (the
 * double's digits), and integer-like keys, which JS objects list first. Callers must pass JSON
 * values only: like `JSON.stringify`, this drops `undefined`/functions.
 *
 * Throws a `TypeError` for values nested deeper than `maxDepth` (default {@link MAX_JSON_DEPTH})
 * or circular, checked first without recursion: Python could not read such JSON back, and
 * `JSON.stringify` would overflow the call stack on it (a `RangeError` out of every later save).
 *
 * @example
 * pythonJsonDumps({ name: 'Zoë', e: '😀' }); // '{"name":"Zo\\u00eb","e":"\\ud83d\\ude00"}'
 * pythonJsonDumps([Infinity, NaN]); // '[Infinity,NaN]'
 */
export function pythonJsonDumps(obj: unknown, maxDepth: number = MAX_JSON_DEPTH): string {
  const pythonOnly = walkJson(obj, maxDepth);
  // Only when there is one: a replacer costs a call per value. The sentinel carries a random
  // nonce, so no string the caller stored can be mistaken for one.
  const sentinel = pythonOnly ? `${randomBytes(12).toString('hex')}:` : '';
  let json: string | undefined;
  try {
    json = pythonOnly
      ? JSON.stringify(obj, (_key, v: unknown) => (isPythonOnlyNumber(v) ? sentinel + pythonNumberToken(v) : v))
      : JSON.stringify(obj);
  } catch (e) {
    // Only a toJSON() that returns something deeper than it is can still get here.
    if (e instanceof RangeError && /call stack/i.test(e.message)) throw tooDeep(maxDepth);
    throw e;
  }
  if (json === undefined) {
    throw new TypeError(`Object of type ${typeof obj} is not JSON serializable`);
  }
  if (pythonOnly) json = json.replaceAll(new RegExp(`"${sentinel}([^"]*)"`, 'g'), '$1');
  // JSON.stringify already escapes controls (as Python does, lowercase) and lone surrogates;
  // everything left above 0x7E is escaped here, per UTF-16 code unit.
  const ascii = json.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  // Non-integral floats as Python's repr writes them ('1e-05', not '0.00001'); strings are skipped,
  // and so are integers (a bigint's digits would be Infinity as a number).
  if (!/\d[.eE]/.test(ascii)) return ascii;
  return ascii.replace(JSON_TOKEN, (token) => {
    if (token.startsWith('"') || !/[.eE]/.test(token)) return token;
    const value = Number(token);
    return Number.isInteger(value) ? token : pythonFloatRepr(value);
  });
}

/** A JSON string (skipped) or number token. */
const JSON_TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * `repr(x)` of a finite, non-integral float: the same shortest round-trip digits as JS (both pick
 * the closest shortest), but Python switches to exponent form below 1e-4 (JS: below 1e-6) and
 * writes at least two exponent digits ('1e-05', JS '1e-5').
 */
export function pythonFloatRepr(x: number): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x));
  if (m === null) throw new TypeError(`cannot format ${String(x)} as a Python float`);
  const sign = m[1] as string;
  let digits = (m[2] as string) + (m[3] ?? '');
  // The value is 0.<digits> × 10^decpt, Python's convention in format_float_short.
  let decpt = (m[2] as string).length + Number(m[4] ?? 0);
  const leadingZeros = /^0*/.exec(digits)![0].length;
  digits = digits.slice(leadingZeros).replace(/0+$/, '');
  decpt -= leadingZeros;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const exponent = decpt - 1;
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
}


/**
 * Python's `sys.int_info.default_max_str_digits` (3.11, and 3.7+ security releases): converting an
 * int of more decimal digits to or from text raises ValueError, so Python's json can neither write
 * nor read one, nor pickle's text opcodes. The readers here refuse such ints the same way.
 */
export const MAX_INT_DIGITS = 4300;

const INT_DIGITS_BOUND = 10n ** BigInt(MAX_INT_DIGITS);

/**
 * True for the numbers Python has and JSON lacks, in the form this package holds them: a float
 * NaN, Infinity or -Infinity (a JS number), or an int past the double range (a bigint: as a number
 * it would be ±Infinity, a float; at most {@link MAX_INT_DIGITS} digits). Python's json writes them
 * (`NaN`, `Infinity`, `-Infinity`, the int's digits) and so may Django in `session_data` and in
 * django-redis values, and pickle holds them too. The readers return them in this form, the engines'
 * writers write them back as Python does; `SessionStore.set()` still refuses them from the app
 * (`JSON.stringify`, hence `res.json()`, would turn NaN into null and throw on a bigint).
 *
 * @example
 * isPythonOnlyNumber(Infinity); // true
 * isPythonOnlyNumber(10n ** 400n); // true
 * isPythonOnlyNumber(10n); // false: a number holds it
 */
export function isPythonOnlyNumber(v: unknown): v is number | bigint {
  if (typeof v === 'number') return !Number.isFinite(v);
  if (typeof v !== 'bigint') return false;
  const magnitude = v < 0n ? -v : v;
  return magnitude < INT_DIGITS_BOUND && !Number.isFinite(Number(v));
}

/** How Python's json writes a number {@link isPythonOnlyNumber} accepts. */
function pythonNumberToken(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

function pythonNumberOf(token: string): number | bigint {
  if (token === 'NaN') return NaN;
  if (token === 'Infinity') return Infinity;
  if (token === '-Infinity') return -Infinity;
  return BigInt(token);
}

// A run of 309 digits: the shortest int a double cannot hold (10**308 < 2**1024 < 10**309).
// The lookbehind starts a match only at the first digit of a run, which keeps the search linear.
const LONG_DIGIT_RUN = /(?<![0-9])[0-9]{309}/;
const NUMBER_TOKEN = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/**
 * `json.loads` for JSON as Python writes it: `JSON.parse`, plus Python's `NaN`, `Infinity` and
 * `-Infinity` (read as those numbers) and ints past the double range (read as bigints, where
 * `JSON.parse` would make them Infinity). An int of more than {@link MAX_INT_DIGITS} digits is a
 * SyntaxError, as Python's `json.loads` raises ValueError for it. Invalid JSON is a SyntaxError
 * from `JSON.parse`; a "__proto__" key is an own data property, as `JSON.parse` makes it.
 *
 * JSON without those tokens (nearly all of it) goes straight to `JSON.parse`; otherwise one linear
 * pass that skips strings replaces each token by a string carrying a random nonce, and a reviver
 * puts the number back.
 *
 * @example
 * parsePythonJson('{"max":Infinity,"n":NaN}'); // { max: Infinity, n: NaN }
 */
export function parsePythonJson(text: string): unknown {
  if (!text.includes('NaN') && !text.includes('Infinity') && !LONG_DIGIT_RUN.test(text)) return JSON.parse(text);
  const nonce = `${randomBytes(12).toString('hex')}:`;
  const parts: string[] = [];
  let copied = 0;
  const replace = (start: number, end: number): void => {
    parts.push(text.slice(copied, start), `"${nonce}${text.slice(start, end)}"`);
    copied = end;
  };
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = closingQuote(text, i);
      if (end < 0) break; // unterminated: JSON.parse says where
      i = end + 1;
    } else if (c === 0x4e /* N */ && text.startsWith('NaN', i)) {
      replace(i, (i += 3));
    } else if (c === 0x49 /* I */ && text.startsWith('Infinity', i)) {
      replace(i, (i += 8));
    } else if (c === 0x2d /* - */ && text.startsWith('-Infinity', i)) {
      replace(i, (i += 9));
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER_TOKEN.lastIndex = i;
      const m = NUMBER_TOKEN.exec(text);
      if (m === null) {
        i++;
        continue;
      }
      const end = i + m[0].length;
      if (m[1] === undefined && m[2] === undefined) {
        const digits = m[0].length - (c === 0x2d ? 1 : 0);
        if (digits > MAX_INT_DIGITS) throw new SyntaxError(`an int of ${digits} digits; Python's json refuses more than ${MAX_INT_DIGITS}`);
        if (digits >= 309 && !Number.isFinite(Number(m[0]))) replace(i, end);
      }
      i = end;
    } else {
      i++;
    }
  }
  if (parts.length === 0) return JSON.parse(text);
  parts.push(text.slice(copied));
  return JSON.parse(parts.join(''), (_key, v: unknown) =>
    typeof v === 'string' && v.startsWith(nonce) ? pythonNumberOf(v.slice(nonce.length)) : v,
  );
}

/** The index of the '"' closing the JSON string opened at `open`, or -1 when there is none. */
function closingQuote(text: string, open: number): number {
  let end = open;
  for (;;) {
    end = text.indexOf('"', end + 1);
    if (end < 0) return -1;
    let slashes = 0;
    while (text.charCodeAt(end - 1 - slashes) === 0x5c /* \ */) slashes++;
    if (slashes % 2 === 0) return end;
  }
}

// Characters pythonJsonDumps writes as more than themselves: controls, '"', '\', and everything
// from DEL up (one \uxxxx per UTF-16 code unit).
const ESCAPED = /[\u0000-\u001f"\\\u007f-\uffff]/;

/** The length of `s` once {@link pythonJsonDumps} writes it, quotes included. */
function jsonStringLength(s: string): number {
  let n = s.length + 2;
  if (!ESCAPED.test(s)) return n;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      if (c === 0x22 || c === 0x5c) n += 1;
    } else if (c >= 0x7f || (c !== 0x08 && c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d)) {
      n += 5; // \u00XX, \uXXXX
    } else {
      n += 1; // \b \t \n \f \r
    }
  }
  return n;
}

/**
 * The length of a scalar as {@link pythonJsonDumps} writes it. Anything that is not a scalar
 * Python's json writes counts as `null`: callers check values before writing them.
 */
function jsonScalarLength(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return jsonStringLength(v);
    case 'boolean':
      return v ? 4 : 5;
    case 'bigint':
      return v.toString().length;
    case 'number': {
      if (!Number.isFinite(v)) return pythonNumberToken(v).length;
      // Where JS and Python both write plain digits, they write the same ones (see pythonFloatRepr).
      if (Number.isInteger(v) || Math.abs(v) >= 1e-4) return String(v).length;
      return pythonFloatRepr(v).length;
    }
    default:
      return 4;
  }
}

/**
 * How many bytes of JSON {@link pythonJsonDumps} writes for `value` (a Map as a dict, as
 * `SessionCodec.encodeEntries` writes the session), a container referred to n times counted n
 * times, as the JSON repeats it; as soon as the count passes `limit`, some number above `limit`.
 * This is the size a session read from a pickle (whose memo shares containers) or from foreign
 * JSON would have once saved as `session_data`, checked against `maxDecodedBytes` when reading so
 * that no session is accepted that no save could write. Without recursion, and linear in the
 * value's size in memory whatever the sharing: each container and each long string is measured once.
 *
 * @example
 * const row = [1, 2, 3];
 * jsonEncodedLength(new Map([['a', row], ['b', row]]), 1024); // 23: {"a":[1,2,3],"b":[1,2,3]}
 */
export function jsonEncodedLength(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return jsonScalarLength(value);
  interface Frame {
    readonly container: object;
    readonly keys: readonly string[] | undefined;
    readonly values: readonly unknown[];
    next: number;
    length: number;
  }
  const frameOf = (container: object): Frame => {
    if (Array.isArray(container)) return { container, keys: undefined, values: container, next: 0, length: 2 };
    if (container instanceof Map) return { container, keys: [...container.keys()] as string[], values: [...container.values()], next: 0, length: 2 };
    const keys = Object.keys(container);
    return { container, keys, values: keys.map((k) => (container as Record<string, unknown>)[k]), next: 0, length: 2 };
  };
  const measured = new Map<object, number>();
  // Keyed by the string itself: a string shared through a pickle's memo is one JS string, whose
  // hash V8 keeps, so a 1 MB string referred to 1,000 times is scanned once.
  const longStrings = new Map<string, number>();
  const scalarLength = (v: unknown): number => {
    if (typeof v !== 'string' || v.length < 256) return jsonScalarLength(v);
    let n = longStrings.get(v);
    if (n === undefined) longStrings.set(v, (n = jsonStringLength(v)));
    return n;
  };
  const open = new Set<object>([value]);
  const stack: Frame[] = [frameOf(value)];
  for (;;) {
    const top = stack[stack.length - 1] as Frame;
    if (top.next < top.values.length) {
      const i = top.next++;
      if (i > 0) top.length += 1; // ','
      if (top.keys !== undefined) top.length += scalarLength(top.keys[i]) + 1; // "key":
      const child = top.values[i];
      if (typeof child === 'object' && child !== null) {
        const known = measured.get(child);
        if (known === undefined) {
          if (open.has(child)) throw new TypeError('JSON value refers to itself (circular structure)');
          open.add(child);
          stack.push(frameOf(child));
          continue;
        }
        top.length += known;
      } else {
        top.length += scalarLength(child);
      }
      if (top.length > limit) return top.length;
      continue;
    }
    stack.pop();
    open.delete(top.container);
    measured.set(top.container, top.length);
    const parent = stack[stack.length - 1];
    if (parent === undefined) return top.length;
    parent.length += top.length;
    if (parent.length > limit) return parent.length;
  }
}

/** Options for {@link dumps}. */
export interface DumpsOptions extends TimestampSignOptions {
  /** zlib-compress when that makes the output shorter (Django's `compress=True`). Default false. */
  compress?: boolean;
}

/**
 * `signing.dumps(obj, key, salt="django.core.signing", compress=...)` with the JSON serializer:
 * a URL-safe, timestamped, signed string. `obj` must be JSON (see {@link pythonJsonDumps}).
 *
 * @example
 * dumps({ a: 1 }, { key: 'k', salt: 'django.contrib.sessions.SessionStore', compress: true, timestampSeconds: 1700000000 });
 */
export function dumps(obj: unknown, options: DumpsOptions): string {
  const data = Buffer.from(pythonJsonDumps(obj), 'latin1');
  return timestampSign(encodeObjectPayload(data, options.compress ?? false), {
    ...options,
    salt: options.salt ?? DEFAULT_DUMPS_SALT,
  });
}

/** Options for {@link loads}. */
export interface LoadsOptions extends TimestampUnsignOptions {
  /**
   * The most bytes the payload may decode to (after zlib inflation); more throws
   * {@link PayloadTooLarge} without inflating further. Default {@link DEFAULT_MAX_DECODED_BYTES}.
   */
  maxDecodedBytes?: number;
}

/**
 * `signing.loads(s, key, salt="django.core.signing", max_age=...)`: verifies, decompresses, decodes
 * the bytes as latin-1 (as Django does) and parses the JSON as Python's json does ({@link parsePythonJson}). Throws {@link BadSignature} /
 * {@link SignatureExpired}, {@link PayloadTooLarge} past `maxDecodedBytes`, a `TypeError` for JSON
 * nested deeper than {@link MAX_JSON_DEPTH} (what {@link dumps} refuses to write), or another error
 * when the verified payload cannot be decoded.
 *
 * @example
 * loads(token, { keys: [secret], maxAgeSeconds: 3600 });
 */
export function loads(s: string, options: LoadsOptions): unknown {
  const { value } = timestampUnsign(s, { ...options, salt: options.salt ?? DEFAULT_DUMPS_SALT });
  const text = decodeObjectPayload(value, options.maxDecodedBytes).toString('latin1');
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    throw new TypeError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels (MAX_JSON_DEPTH)`);
  }
  return parsePythonJson(text);
}

function toBytes(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}
