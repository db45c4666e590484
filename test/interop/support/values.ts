/**
 * What every interop suite shares: the secrets both sides are configured with, the session
 * values that cross between them, and the two directions a test runs in.
 */
import { randomBytes } from 'node:crypto';

export const SECRET_KEY = 'django-insecure-interop-current-9x#f2k!m1q7v0w3e8r6t5y4u';
export const OLD_SECRET_KEY = 'django-insecure-interop-retired-3b&h7j2n8p0s6d1f4g9k5l';
/** SESSION_COOKIE_AGE / cookieAge: the default on both sides. */
export const COOKIE_AGE = 1_209_600;

export type SideName = 'Nest' | 'Django';

export const DIRECTIONS: Array<[SideName, SideName]> = [
  ['Nest', 'Django'],
  ['Django', 'Nest'],
];

/** Values of every JSON type, unicode that Python escapes, and enough text to be compressed. */
export const VALUES = {
  int: 42,
  float: 1.5,
  negative: -7,
  max_safe: 9007199254740991,
  yes: true,
  no: false,
  nothing: null,
  text: 'Zoë — 日本語 😀 "quoted" \\ back\nslash </script> \u007f \u2028',
  list: [1, 'two', [3], { four: 4 }],
  nested: { a: { b: { c: [true, null, 0.25] } }, 'key with spaces': 'v', '10': 'numeric key' },
  empty_object: {},
  empty_list: [],
  compressible: 'session '.repeat(1000),
  noise: randomBytes(1500).toString('base64'),
};

/** What `type(value).__name__` says on the Django side for each of VALUES. */
export const PYTHON_TYPES = {
  int: 'int',
  float: 'float',
  negative: 'int',
  max_safe: 'int',
  yes: 'bool',
  no: 'bool',
  nothing: 'NoneType',
  text: 'str',
  list: 'list',
  nested: 'dict',
  empty_object: 'dict',
  empty_list: 'list',
  compressible: 'str',
  noise: 'str',
};

/** The modern `session_data` layout: [.]payload:timestamp:sha256-signature (also a signed_cookies cookie). */
export const MODERN_FORMAT = /^\.?[A-Za-z0-9_-]+:[0-9A-Za-z]+:[A-Za-z0-9_-]{43}$/;

/**
 * Promise.all that waits for every branch before failing: a branch that fails early must not let
 * the next test start while the other branch's short-lived sessions are still about to expire.
 */
export async function allSettled(branches: Array<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(branches);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The keys Django's login() stores for alice besides `_auth_user_id`: the ModelBackend and her password's auth hash. */
export const ALICE_AUTH = {
  _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
  _auth_user_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
};
