/**
 * The Django a Nest app shares its sessions and users with (`djangoVersion`), and what follows
 * from it: the defaults that differ between Django releases, one place for each.
 *
 *   version   legacy session data and SHA-1     PBKDF2 iterations
 *             login hashes (pre-3.1) accepted   of new passwords
 *   3.2       yes                                260,000
 *   4.0       no (removed in 4.0)                320,000
 *   4.1       no                                 390,000
 *   4.2       no                                 600,000
 *   5.0       no                                 720,000
 *   5.1       no                                 870,000
 *   5.2 LTS   no                                 1,000,000   <- the default
 *   6.0       no                                 1,200,000
 *   6.1       no                                 1,500,000
 *
 * Read off each release's `django/contrib/auth/hashers.py` (`PBKDF2PasswordHasher.iterations`),
 * `contrib/sessions/backends/base.py` (`_legacy_decode`, gone in 4.0), `core/signing.py`
 * (`Signer.legacy_algorithm`, gone in 4.0) and `contrib/auth/__init__.py` (`_legacy_get_session_auth_hash`,
 * gone in 4.0). 3.2, 5.2 and 6.1 are run by the interop suites; the others follow their release notes.
 */

/** The Django feature releases a module can say it shares with. */
export const DJANGO_VERSIONS = ['3.2', '4.0', '4.1', '4.2', '5.0', '5.1', '5.2', '6.0', '6.1'] as const;

/** A Django feature release, `'major.minor'`. */
export type DjangoVersion = (typeof DJANGO_VERSIONS)[number];

/** The current LTS, Django 5.2: what `djangoVersion` defaults to. */
export const DEFAULT_DJANGO_VERSION: DjangoVersion = '5.2';

/** What differs between the Django releases this package speaks with. */
export interface DjangoVersionTraits {
  /**
   * Whether Django reads session data written before 3.1 (and SHA-1-signed data): 3.2 does
   * (`_legacy_decode`, `Signer.legacy_algorithm`), 4.0+ discards it. `legacyDecode`'s default.
   */
  readonly legacyDecode: boolean;
  /** Whether `get_user()` accepts a SHA-1 `_auth_user_hash` (3.2), or flushes the session (4.0+). `legacyHash`'s default. */
  readonly legacyHash: boolean;
  /** `PBKDF2PasswordHasher.iterations`: the cost of new passwords, and of the fake check of an unknown user. */
  readonly pbkdf2Iterations: number;
  /** Whether the release has `django.core.cache.backends.redis.RedisCache` (4.0+). */
  readonly hasRedisCache: boolean;
}

const ITERATIONS: Readonly<Record<DjangoVersion, number>> = {
  '3.2': 260_000,
  '4.0': 320_000,
  '4.1': 390_000,
  '4.2': 600_000,
  '5.0': 720_000,
  '5.1': 870_000,
  '5.2': 1_000_000,
  '6.0': 1_200_000,
  '6.1': 1_500_000,
};

/** Whether `value` names a release in {@link DJANGO_VERSIONS}. */
export function isDjangoVersion(value: unknown): value is DjangoVersion {
  return typeof value === 'string' && (DJANGO_VERSIONS as readonly string[]).includes(value);
}

/**
 * What the Django release `version` does where releases differ. Throws a `TypeError` naming the
 * known releases for anything else.
 *
 * @example
 * djangoVersionTraits('6.1').pbkdf2Iterations; // 1500000
 */
export function djangoVersionTraits(version: DjangoVersion = DEFAULT_DJANGO_VERSION): DjangoVersionTraits {
  if (!isDjangoVersion(version)) {
    throw new TypeError(`djangoVersion must be one of ${DJANGO_VERSIONS.map((v) => `'${v}'`).join(', ')}, got ${describeVersion(version)}`);
  }
  const legacy = version === '3.2';
  return { legacyDecode: legacy, legacyHash: legacy, pbkdf2Iterations: ITERATIONS[version], hasRedisCache: !legacy };
}

/** A bad `djangoVersion` as an error names it: a version number as is (never a secret), anything else by its kind. */
export function describeVersion(value: unknown): string {
  if (typeof value === 'string') return /^[0-9]{1,2}(\.[0-9]{1,2}){0,2}$/.test(value) ? `'${value}'` : `a string of ${value.length} characters`;
  if (typeof value === 'number') return `the number ${String(value)} (write it as a string, '5.2')`;
  return value === null ? 'null' : `a ${typeof value}`;
}
