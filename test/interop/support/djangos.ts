/**
 * The Django versions the interop suites run against. Each has a variable of its own (see SERVICES
 * in test/support/env.ts), naming a Python to run test/interop/django_site with: Debian's Django
 * 3.2 on /usr/bin/python3, and the 5.2 LTS and 6.x that test/interop/setup.sh unpacks from the
 * Debian archive, each behind a wrapper script that runs its interpreter on exactly its packages.
 * A suite runs once per configured version; an unset one is left out and listed like any server.
 */
import { execFileSync } from 'node:child_process';
import { describeWith, LEFT_OUT_MARK, type Service } from '../../support/env.js';

export interface DjangoVersion {
  /** The service whose variable names this version's Python. */
  readonly service: Extract<Service, 'django' | 'django52' | 'django6'>;
  /** As it appears in suite titles. */
  readonly name: string;
  /** major * 100 + minor of the lowest release the variable may name (3.2 -> 302), for expectations that differ by version. */
  readonly since: number;
  /** PBKDF2PasswordHasher.iterations, Django's default cost for new passwords (a regex source: 6.0 and 6.1 differ). */
  readonly pbkdf2Iterations: string;
}

export const DJANGOS: readonly DjangoVersion[] = [
  { service: 'django', name: 'Django 3.2', since: 302, pbkdf2Iterations: '260000' },
  { service: 'django52', name: 'Django 5.2', since: 502, pbkdf2Iterations: '1000000' },
  { service: 'django6', name: 'Django 6', since: 600, pbkdf2Iterations: '(1200000|1500000)' },
];

/**
 * describeWith, once per Django version: `services` are the others the suite needs, `title` gets
 * the version's name, and `body` gets the services' values with `django` set to this version's
 * Python (so suites written for one version read `env.django` as before).
 */
export function describeWithEachDjango(
  services: Service[],
  title: (django: string) => string,
  body: (env: Record<Service, string>, django: RunningDjango) => void,
): void {
  for (const version of DJANGOS) {
    const others = services.filter((s) => s !== 'django');
    if (!runsVersion(version)) {
      // Chosen, not missing: listed as left out, and not a failure under CI=true.
      describe.skip(`${title(version.name)} ${LEFT_OUT_MARK} TEST_DJANGOS=${process.env.TEST_DJANGOS} runs only those versions]`, () => {
        body({} as Record<Service, string>, { ...version, release: '' });
      });
      continue;
    }
    describeWith([version.service, ...others], title(version.name), (env) => {
      const python = env[version.service];
      // A suite left out gets no values: its body only registers skipped tests.
      body({ ...env, django: python }, { ...version, release: python === undefined ? '' : releaseOf(python) });
    });
  }
}

/**
 * Whether this run covers `version`: all of them, unless TEST_DJANGOS lists some by service name
 * (`TEST_DJANGOS=django52`: .ci/run's second Node runs the interop suites against the LTS only).
 */
function runsVersion(version: DjangoVersion): boolean {
  const only = process.env.TEST_DJANGOS?.split(',').map((s) => s.trim()).filter(Boolean);
  return only === undefined || only.length === 0 || only.includes(version.service);
}

/** A Django version as a suite runs it: with the release its Python imports. */
export interface RunningDjango extends DjangoVersion {
  /** `'major.minor'` of the Django the Python imports ('3.2', '5.2', '6.1'): the Nest side's `djangoVersion`. */
  readonly release: string;
}

const releases = new Map<string, string>();

/** The `'major.minor'` of the Django `python` imports, asked once per Python. */
function releaseOf(python: string): string {
  let release = releases.get(python);
  if (release === undefined) {
    const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
    release = execFileSync(python, ['-c', 'import django; print("%d.%d" % django.VERSION[:2])'], { env, encoding: 'utf8', timeout: 60_000 }).trim();
    releases.set(python, release);
  }
  return release;
}
