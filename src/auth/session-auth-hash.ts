/**
 * `_auth_user_hash`: what `django.contrib.auth.login()` stores so that changing a password ends the
 * user's other sessions. Django's `AbstractBaseUser.get_session_auth_hash()`:
 *
 *     salted_hmac('django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash',
 *                 user.password, SECRET_KEY, algorithm='sha256').hexdigest()
 *
 * `user.password` is the *stored* (encoded) value, e.g. `pbkdf2_sha256$260000$salt$hash`, never the
 * plain password. Known answer (checked against Django 3.2 in test/unit/auth-login.spec.ts):
 * password `'pbkdf2_sha256$260000$CGKZBKaCCatDuR2CFzD6ZS$hlIyLPwx1gkM0hlag0ZGAcuxt647J7DgLYfm1WqODdE='`
 * under `SECRET_KEY = 'django-insecure-fixture-key'` gives
 * `'76aadcc5897fff6227dc54d1797bda794ecbed08f1bf8a0f48df92229391ceaa'`.
 */
import { constantTimeEqual, saltedHmac } from '../codec/signing.js';

/** The session keys `django.contrib.auth` reads and writes (`SESSION_KEY`, `BACKEND_SESSION_KEY`, `HASH_SESSION_KEY`). */
export const AUTH_SESSION_KEYS = Object.freeze({
  /** `SESSION_KEY`: the user's primary key, always as a string. */
  userId: '_auth_user_id',
  /** `BACKEND_SESSION_KEY`: the dotted path of the authentication backend that logged the user in. */
  backend: '_auth_user_backend',
  /** `HASH_SESSION_KEY`: `sessionAuthHash(user.password, SECRET_KEY)`. */
  hash: '_auth_user_hash',
} as const);

/** `django.contrib.auth.backends.ModelBackend`, Django's default (and usually only) `AUTHENTICATION_BACKENDS` entry. */
export const MODEL_BACKEND = 'django.contrib.auth.backends.ModelBackend';

const KEY_SALT = 'django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash';

/**
 * Django's `user.get_session_auth_hash()`: an HMAC-SHA256 (hex) of the user's stored password
 * hash, keyed with `secretKey` (`SECRET_KEY`).
 *
 * @example
 * sessionAuthHash(user.password, process.env.DJANGO_SECRET_KEY!); // 64 hex digits
 */
export function sessionAuthHash(password: string, secretKey: string): string {
  assertPassword(password);
  return saltedHmac(KEY_SALT, password, secretKey, 'sha256').toString('hex');
}

/**
 * Django 3.1/3.2's `user._legacy_get_session_auth_hash()`: the same HMAC with SHA-1, what Django
 * < 3.1 stored (and 3.1/3.2 under `DEFAULT_HASHING_ALGORITHM = 'sha1'`). 3.2's `get_user()` still
 * accepts it; 4.0 dropped it.
 */
export function legacySessionAuthHash(password: string, secretKey: string): string {
  assertPassword(password);
  return saltedHmac(KEY_SALT, password, secretKey, 'sha1').toString('hex');
}

/**
 * Which key made `sessionHash` for `password`: `'current'` (`secretKey`), `'legacy'` (Django 3.2's
 * SHA-1 hash under `secretKey`, when `legacy`), `'fallback'` (one of `fallbackKeys`, Django 4.1.8+),
 * or `null`. Every comparison is constant-time; a missing or empty hash matches nothing, as in Django.
 */
export function matchSessionAuthHash(
  sessionHash: unknown,
  password: string,
  keys: { secretKey: string; fallbackKeys?: readonly string[]; legacy?: boolean },
): 'current' | 'legacy' | 'fallback' | null {
  assertPassword(password);
  // Django: `session_hash and constant_time_compare(...)`: '' and None never match. A non-string
  // value (written by hand) is compared as its text by Django and matches no hex digest either.
  if (typeof sessionHash !== 'string' || sessionHash === '') return null;
  if (constantTimeEqual(sessionHash, sessionAuthHash(password, keys.secretKey))) return 'current';
  if (keys.legacy && constantTimeEqual(sessionHash, legacySessionAuthHash(password, keys.secretKey))) return 'legacy';
  // Django 4.1.8+ (ticket #34384): any SECRET_KEY_FALLBACKS entry, stopping at the first match.
  for (const key of keys.fallbackKeys ?? []) {
    if (constantTimeEqual(sessionHash, sessionAuthHash(password, key))) return 'fallback';
  }
  return null;
}

function assertPassword(password: unknown): asserts password is string {
  if (typeof password !== 'string') {
    // Most likely a password column the query did not select (TypeORM `select: false`): failing
    // loudly beats comparing against a hash of "undefined" and logging every user out.
    throw new TypeError(`the user's password must be the stored hash (a string), got ${password === null ? 'null' : typeof password}`);
  }
}
