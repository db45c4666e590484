/**
 * The tokens of Django's `django/middleware/csrf.py`: a 32-character secret of `[a-zA-Z0-9]`, and
 * masked 64-character tokens (a random mask, then the secret shifted by it, character by
 * character), so that the token on a page differs on each request (BREACH) while every one of
 * them stands for the same secret. Django 4.1+ keeps the secret itself in the cookie; 3.2 and 4.0
 * kept a masked token there. Both are read by every release, and so here.
 *
 * Also the reason strings Django gives, and the parts of `urllib.parse.urlsplit` and
 * `django.utils.http.is_same_domain` the Origin and Referer checks use.
 */
import { randomBytes } from 'node:crypto';
import { constantTimeEqual } from '../codec/signing.js';

export const CSRF_SECRET_LENGTH = 32;
export const CSRF_TOKEN_LENGTH = 2 * CSRF_SECRET_LENGTH;
const CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const INVALID_CHAR = /[^a-zA-Z0-9]/;

/** Django's reason strings, word for word (`REASON_*` of `django/middleware/csrf.py`). */
export const CSRF_REASONS = {
  badOrigin: (origin: string) => `Origin checking failed - ${origin} does not match any trusted origins.`,
  noReferer: 'Referer checking failed - no Referer.',
  badReferer: (referer: string) => `Referer checking failed - ${referer} does not match any trusted origins.`,
  noCsrfCookie: 'CSRF cookie not set.',
  csrfTokenMissing: 'CSRF token missing.',
  malformedReferer: 'Referer checking failed - Referer is malformed.',
  insecureReferer: 'Referer checking failed - Referer is insecure while host is secure.',
  /** Django 3.2's one reason for a missing or wrong token (4.0 split it). */
  badToken32: 'CSRF token missing or incorrect.',
} as const;

/** `get_random_string(32, CSRF_ALLOWED_CHARS)`: unbiased (bytes ≥ 248 are drawn again). */
export function newCsrfSecret(): string {
  let out = '';
  while (out.length < CSRF_SECRET_LENGTH) {
    for (const byte of randomBytes(48)) {
      if (byte < 248) out += CHARS[byte % 62];
      if (out.length === CSRF_SECRET_LENGTH) break;
    }
  }
  return out;
}

/** `_mask_cipher_secret(secret)`: a new 64-character token for a 32-character secret. */
export function maskCsrfSecret(secret: string): string {
  const mask = newCsrfSecret();
  let cipher = '';
  for (let i = 0; i < CSRF_SECRET_LENGTH; i++) cipher += CHARS[(CHARS.indexOf(secret[i]!) + CHARS.indexOf(mask[i]!)) % 62];
  return mask + cipher;
}

/** `_unmask_cipher_token(token)`: the secret of a well-formed 64-character token. */
export function unmaskCsrfToken(token: string): string {
  const mask = token.slice(0, CSRF_SECRET_LENGTH);
  const cipher = token.slice(CSRF_SECRET_LENGTH);
  let secret = '';
  for (let i = 0; i < CSRF_SECRET_LENGTH; i++) secret += CHARS[(CHARS.indexOf(cipher[i]!) - CHARS.indexOf(mask[i]!) + 62) % 62];
  return secret;
}

/** `_check_token_format`: `'has incorrect length'`, `'has invalid characters'`, or null when well formed. */
export function csrfTokenFormatError(token: string): string | null {
  if (token.length !== CSRF_TOKEN_LENGTH && token.length !== CSRF_SECRET_LENGTH) return 'has incorrect length';
  if (INVALID_CHAR.test(token)) return 'has invalid characters';
  return null;
}

/** The secret a well-formed stored value (a secret, or a masked token as Django < 4.1 stored) stands for. */
export function secretOf(stored: string): string {
  return stored.length === CSRF_TOKEN_LENGTH ? unmaskCsrfToken(stored) : stored;
}

/** `_does_token_match`: a well-formed token (masked or not) against a secret, in constant time. */
export function csrfTokenMatches(token: string, secret: string): boolean {
  return constantTimeEqual(secretOf(token), secret);
}

/**
 * Django 3.2's `_sanitize_token`: a 64-character token as it is, a 32-character secret masked, and
 * anything else replaced by a random token (which then matches nothing). Returns the secret.
 */
export function sanitizedSecret32(token: string): { secret: string; replaced: boolean } {
  if (!INVALID_CHAR.test(token) && (token.length === CSRF_TOKEN_LENGTH || token.length === CSRF_SECRET_LENGTH)) {
    return { secret: secretOf(token), replaced: false };
  }
  return { secret: newCsrfSecret(), replaced: true };
}

/** What `urllib.parse.urlsplit` gives for the parts these checks read; null where it raises `ValueError`. */
export interface SplitUrl {
  scheme: string;
  netloc: string;
  rest: string;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** `urlsplit(url)`: the scheme (lower-cased), the netloc after `//`, and what follows. */
export function urlsplit(url: string): SplitUrl | null {
  // Python strips leading C0 controls and spaces, and removes tabs and newlines anywhere.
  let text = url.replace(/^[\x00-\x20]+/, '').replace(/[\t\r\n]/g, '');
  let scheme = '';
  const m = SCHEME.exec(text);
  if (m !== null) {
    scheme = m[1]!.toLowerCase();
    text = text.slice(m[0].length);
  }
  let netloc = '';
  if (text.startsWith('//')) {
    const end = text.slice(2).search(/[/?#]/);
    netloc = end < 0 ? text.slice(2) : text.slice(2, 2 + end);
    text = end < 0 ? '' : text.slice(2 + end);
    if (netloc.includes('[') !== netloc.includes(']')) return null; // "Invalid IPv6 URL"
  }
  return { scheme, netloc, rest: text };
}

/** `SplitResult.geturl()` for the referer in a reason (an empty `?` or `#` dropped, as Python does). */
export function geturl(url: SplitUrl): string {
  const rest = url.rest.replace(/[?#]+$/, '');
  return `${url.scheme}${url.scheme ? ':' : ''}${url.netloc || url.scheme === 'file' ? `//${url.netloc}` : ''}${rest}`;
}

/** `django.utils.http.is_same_domain(host, pattern)`: exact, or `.example.com` for it and its subdomains. */
export function isSameDomain(host: string, pattern: string): boolean {
  if (!pattern) return false;
  const p = pattern.toLowerCase();
  return (p[0] === '.' && (host.endsWith(p) || host === p.slice(1))) || p === host;
}

/** `str.title()` of a header name, as `HttpHeaders.parse_header_name` shows it: `X-CSRFToken` → `X-Csrftoken`. */
export function titledHeaderName(name: string): string {
  return name.toLowerCase().replace(/(^|[^a-z])([a-z])/g, (_m, before: string, letter: string) => before + letter.toUpperCase());
}
