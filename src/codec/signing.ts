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
 */

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { b62Decode, b62Encode, b64UrlDecode, b64UrlEncode, base64DecodedLength } from './base-encodings.js';
import {
  assertByteLimit,
  DEFAULT_MAX_DECODED_BYTES,
  jsonDepthExceeds,
  MAX_JSON_DEPTH,
  parsePythonJson,
  pythonJsonDumps,
} from './python-json.js';

// Defined in ./base-encodings.ts and ./python-json.ts, re-exported here for importers from before
// the split (issue 18); src/ imports them from where they are defined.
export { b64UrlEncode, b64UrlDecode, b62Encode, b62Decode } from './base-encodings.js';
export {
  DEFAULT_MAX_DECODED_BYTES,
  MAX_JSON_DEPTH,
  assertByteLimit,
  jsonDepthExceeds,
  assertJsonDepth,
  pythonJsonDumps,
  pythonFloatRepr,
  MAX_INT_DIGITS,
  isPythonOnlyNumber,
  parsePythonJson,
  jsonEncodedLength,
} from './python-json.js';

/** Hash algorithms Django's signing has used: sha256 (3.1+ default, 4.0+ only) and sha1 (≤ 3.2). */
export type SigningAlgorithm = 'sha256' | 'sha1';

/** A secret as Django accepts it: `str` (UTF-8 encoded) or `bytes`. */
export type SigningKey = string | Buffer;

const SEP = ':';

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
