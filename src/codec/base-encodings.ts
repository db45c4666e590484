/*
 * The encodings `django.core.signing` writes its values in: URL-safe base64 without padding and
 * base62 (the timestamp of a TimestampSigner).
 */

const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

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

// Bytes that `s` (base64, padding optional) decodes to, without decoding it. Characters outside
// the alphabet are counted as data: b64UrlDecode rejects them afterwards.
export function base64DecodedLength(s: string): number {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0x3d /* = */) end--;
  return Math.floor((end * 3) / 4);
}
