/**
 * Suites that need a server (PostgreSQL, MariaDB, a real Django) read where it is from an
 * environment variable. When it is unset the suite is *left out*, visibly: its title says why and
 * test/support/left-out-reporter.cjs lists it at the end of the run. Under CI=true a missing
 * variable fails the run instead, because .ci/run sets them all (but for those marked
 * optionalInCi, which stay left out and listed).
 */
export const SERVICES = {
  postgres: { env: 'TEST_POSTGRES_URL', example: 'postgres://postgres@127.0.0.1:5432/test' },
  mysql: { env: 'TEST_MYSQL_URL', example: 'mysql://root@127.0.0.1:3306/test' },
  django: { env: 'TEST_DJANGO_PYTHON', example: '/usr/bin/python3 (with Django importable)' },
  // Django 5.2 LTS and 6.x for the interop suites (test/interop/support/djangos.ts): a Python
  // command, e.g. the wrapper test/interop/setup.sh writes. 6.x needs a Python >= 3.12, which a
  // machine may lack: there (CI too) its suites are left out and listed rather than failed.
  django52: { env: 'TEST_DJANGO52_PYTHON', example: 'the django-5.2/python that test/interop/setup.sh prints' },
  django6: { env: 'TEST_DJANGO6_PYTHON', example: 'the django-6/python that test/interop/setup.sh prints', optionalInCi: true },
  redis: { env: 'TEST_REDIS_URL', example: 'redis://127.0.0.1:6379' },
  chromium: { env: 'TEST_CHROMIUM', example: '/usr/bin/chromium' },
} as const satisfies Record<string, { env: string; example: string; optionalInCi?: boolean }>;

export type Service = keyof typeof SERVICES;

export const LEFT_OUT_MARK = '[left out:';

/**
 * `describe` that runs only when every named service is configured; `body` gets their values.
 *
 * @example
 * describeWith(['postgres'], 'backend contract on PostgreSQL', ({ postgres }) => { ... });
 */
export function describeWith(
  services: Service[],
  title: string,
  body: (values: Record<Service, string>) => void,
): void {
  const missing = services.filter((s) => !process.env[SERVICES[s].env]);
  if (missing.length === 0) {
    const values = Object.fromEntries(services.map((s) => [s, process.env[SERVICES[s].env]!])) as Record<Service, string>;
    describe(title, () => body(values));
    return;
  }
  const why = missing.map((s) => `${SERVICES[s].env} is unset, e.g. ${SERVICES[s].example}`).join('; ');
  if (process.env.CI === 'true' && missing.some((s) => !('optionalInCi' in SERVICES[s]))) {
    describe(title, () => {
      it('has its services configured', () => {
        throw new Error(`CI must not leave this suite out: ${why}`);
      });
    });
    return;
  }
  describe.skip(`${title} ${LEFT_OUT_MARK} ${why}]`, () => body({} as Record<Service, string>));
}
