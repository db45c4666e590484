/**
 * verifyDjangoPassword / makeDjangoPassword against what Django itself wrote: the known answers in
 * test/fixtures/django-auth/hashes.json come from Django 3.2's hashers (argon2-cffi, bcrypt), made
 * by test/interop/make-auth-fixtures.py (its docstring describes the format); those of
 * test/fixtures/django-auth/scrypt.json from Django 4.0+'s ScryptPasswordHasher over Python's
 * hashlib.scrypt, made by test/fixtures/django-auth/make-scrypt-vectors.py.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { DJANGO_PBKDF2_ITERATIONS, makeDjangoPassword, sessionAuthHash, verifyDjangoPassword } from '../../src/exports/auth.js';
import { MAX_WAITING_PASSWORD_HASHES, PASSWORD_HASH_THREADS, PasswordHashersBusy, passwordHashPool } from '../../src/auth/password-hash-pool.js';

interface Fixtures {
  django: string;
  argon2_cffi: string;
  bcrypt: string;
  django_defaults: { pbkdf2_iterations: number; salt_length: number };
  /** [password, encoded, wrong passwords, also accepted (plain bcrypt's 72 bytes)?] */
  passwords: Array<[string, string, string[], string[]?]>;
  /** [password, encoded, what Django's check_password() does] */
  malformed: Array<[string, string, string]>;
  /** [stored password hash, SECRET_KEY, get_session_auth_hash(), _legacy_get_session_auth_hash()] */
  session_auth_hash: Array<[string, string, string, string]>;
}

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/django-auth/hashes.json', import.meta.url), 'utf8')) as Fixtures;

interface ScryptFixtures {
  python: string;
  /** [N, r, p] of Django 4.0-5.0 and of 5.1+. */
  defaults: { django_4_0: [number, number, number]; django_5_1: [number, number, number] };
  /** [password, encoded, wrong passwords] */
  passwords: Array<[string, string, string[]]>;
  /** [password, encoded, what Django's check_password() does] */
  malformed: Array<[string, string, string]>;
}

const scryptFixtures = JSON.parse(readFileSync(new URL('../fixtures/django-auth/scrypt.json', import.meta.url), 'utf8')) as ScryptFixtures;

const PASSWORD = 'correct horse battery staple';
/** Django 3.2's argon2 at its defaults (m=102400 KiB, t=2, p=8): ~0.4 s of one core. */
const ARGON2_DEFAULT = fixtures.passwords.find(([p, e]) => p === PASSWORD && e.startsWith('argon2$argon2id$v=19$m=102400,t=2,p=8$'))![1];
/** argon2i at 512 KiB: milliseconds. */
const ARGON2_CHEAP = fixtures.passwords.find(([p, e]) => p === PASSWORD && e.startsWith('argon2$argon2i$v=19$m=512,'))![1];
/** bcrypt_sha256 at cost 5. */
const BCRYPT_CHEAP = fixtures.passwords.find(([p, e]) => p === PASSWORD && /^bcrypt_sha256\$\$2[aby]\$05\$/.test(e))![1];
/** Django 4.x's scrypt (N=2^14, r=8, p=1). */
const SCRYPT_DEFAULT = scryptFixtures.passwords.find(([p, e]) => p === PASSWORD && e.startsWith('scrypt$16384$') && e.includes('$8$1$'))![1];

/** `pbkdf2_sha256`, `argon2$argon2i`, `bcrypt_sha256`...: what a row's hasher (and variety) is. */
function hasherOf(encoded: string): string {
  const [algorithm, variety] = encoded.split('$');
  if (algorithm !== 'argon2') return algorithm!;
  return `${algorithm}$${variety}${encoded.includes('$v=') ? '' : ' (no version field)'}`;
}

const groups = new Map<string, Fixtures['passwords']>();
for (const entry of fixtures.passwords) {
  const key = hasherOf(entry[1]);
  groups.set(key, [...(groups.get(key) ?? []), entry]);
}

/**
 * What hash-wasm's argon2 cannot compute, so `verifyDjangoPassword` answers false (documented):
 * argon2 1.0 hashes (v=16, or no version field: argon2-cffi has written 1.3 since 2016) and the
 * empty password.
 */
const unreadArgon2 = ([password, encoded]: Fixtures['passwords'][number]) =>
  encoded.startsWith('argon2$') && (password === '' || !encoded.includes('$v=19$'));

describe(`verifyDjangoPassword: hashes written by Django ${fixtures.django} (argon2-cffi ${fixtures.argon2_cffi}, bcrypt ${fixtures.bcrypt})`, () => {
  it.each(fixtures.passwords.filter(unreadArgon2).map((entry) => [entry[1].slice(0, 24), JSON.stringify(entry[0]), entry] as const))(
    'argon2 that hash-wasm cannot compute (%s, password %s): false, never an exception',
    async (_hash, _title, [password, encoded]) => {
      await expect(verifyDjangoPassword(password, encoded)).resolves.toBe(false);
    },
  );

  describe.each([...groups.keys()].filter((hasher) => groups.get(hasher)!.some((entry) => !unreadArgon2(entry))))('%s', (hasher) => {
    it.each(groups.get(hasher)!.filter((entry) => !unreadArgon2(entry)).map((entry) => [JSON.stringify(entry[0]).slice(0, 40), entry] as const))(
      'password %s: true for it, false for wrong ones',
      async (_title, [password, encoded, wrong, alsoRight = []]) => {
        await expect(verifyDjangoPassword(password, encoded)).resolves.toBe(true);
        for (const other of wrong) await expect(verifyDjangoPassword(other, encoded)).resolves.toBe(false);
        // Plain bcrypt reads 72 bytes, in Django too: these are accepted there and here alike.
        for (const other of alsoRight) await expect(verifyDjangoPassword(other, encoded)).resolves.toBe(true);
      },
    );
  });

  it('covers every hasher of Django 3.2\'s default PASSWORD_HASHERS', () => {
    expect([...groups.keys()]).toEqual(expect.arrayContaining(['pbkdf2_sha256', 'pbkdf2_sha1', 'argon2$argon2id', 'argon2$argon2i', 'bcrypt_sha256', 'bcrypt']));
  });
});

describe(`verifyDjangoPassword: scrypt, as Django 4.0+'s ScryptPasswordHasher writes it (hashlib.scrypt, Python ${scryptFixtures.python})`, () => {
  it.each(scryptFixtures.passwords.map((entry) => [entry[1].split('$').filter((_, i) => i !== 2 && i !== 5).join('$'), JSON.stringify(entry[0]).slice(0, 40), entry] as const))(
    '%s, password %s: true for it, false for wrong ones',
    async (_params, _title, [password, encoded, wrong]) => {
      await expect(verifyDjangoPassword(password, encoded)).resolves.toBe(true);
      for (const other of wrong) await expect(verifyDjangoPassword(other, encoded)).resolves.toBe(false);
    },
  );

  it("verifies Django 4.0's and 5.1's defaults (N=2^14, r=8, p=1 and p=5)", async () => {
    for (const [n, r, p] of [scryptFixtures.defaults.django_4_0, scryptFixtures.defaults.django_5_1]) {
      const [password, encoded] = scryptFixtures.passwords.find(([, e]) => e.startsWith(`scrypt$${n}$`) && e.split('$').slice(3, 5).join('$') === `${r}$${p}`)!;
      await expect(verifyDjangoPassword(password, encoded)).resolves.toBe(true);
    }
  });

  it('malformed values are false, never an exception (Django: false, or ValueError/TypeError), while the value they were made from verifies', async () => {
    await expect(verifyDjangoPassword(PASSWORD, scryptFixtures.passwords[0]![1])).resolves.toBe(true);
    const outcomes: Array<[string, string, unknown]> = [];
    for (const [password, encoded, django] of scryptFixtures.malformed) {
      outcomes.push([encoded, django, await verifyDjangoPassword(password, encoded).catch((error: unknown) => error)]);
    }
    expect(outcomes).toEqual(scryptFixtures.malformed.map(([, encoded, django]) => [encoded, django, false]));
  });

  it('past N·r·p = 2^21 a hash is refused without being computed, while one at 2^21 is verified', async () => {
    const atLimit = scryptFixtures.passwords.find(([, encoded]) => encoded.startsWith('scrypt$16384$') && encoded.includes('$8$16$'))![1];
    await expect(verifyDjangoPassword(PASSWORD, atLimit)).resolves.toBe(true);
    for (const encoded of [
      atLimit.replace('$8$16$', '$8$17$'),
      atLimit.replace('scrypt$16384$', 'scrypt$32768$'),
      atLimit.replace('$8$16$', '$16$16$'),
      // 1 GiB and 2^31 of work; 2^40, which OpenSSL could not even allocate.
      'scrypt$1048576$salt$8$1$' + 'a'.repeat(86) + '==',
      'scrypt$16384$salt$8$16384$' + 'a'.repeat(86) + '==',
      'scrypt$1099511627776$salt$8$1$' + 'a'.repeat(86) + '==',
    ]) {
      const started = Date.now();
      await expect(verifyDjangoPassword(PASSWORD, encoded)).resolves.toBe(false);
      expect(Date.now() - started).toBeLessThan(2_000);
    }
  });

  it('makeDjangoPassword still writes pbkdf2_sha256, never scrypt', async () => {
    const encoded = await makeDjangoPassword(PASSWORD, { iterations: 1 });
    expect(encoded).toMatch(/^pbkdf2_sha256\$1\$/);
    await expect(verifyDjangoPassword(PASSWORD, SCRYPT_DEFAULT)).resolves.toBe(true);
  });
});

describe('verifyDjangoPassword: bad data is false, never an exception', () => {
  it.each(fixtures.malformed.map(([password, encoded, django]) => [JSON.stringify(encoded).slice(0, 60), django, password, encoded]))(
    '%s (Django: %s)',
    async (_title, _django, password, encoded) => {
      await expect(verifyDjangoPassword(password, encoded)).resolves.toBe(false);
    },
  );

  const good = fixtures.passwords[0]!;

  it.each([
    ['an unusable password (make_password(None))', '!' + 'a'.repeat(40)],
    ['an empty value (no such user)', ''],
    ["Django's ancient unsalted MD5", '5f4dcc3b5aa765d61d8327deb882cf99'],
    ["a salted SHA-1 hasher outside Django's defaults", 'sha1$salt$' + 'a'.repeat(40)],
    ['a value past 4096 characters', good[1] + '$'.repeat(5000)],
  ])('%s', async (_title, encoded) => {
    await expect(verifyDjangoPassword(good[0], encoded)).resolves.toBe(false);
  });

  it.each([
    ['a null password', null, good[1]],
    ['a number as password', 1234, good[1]],
    ['a null hash', good[0], null],
    ['an object as hash', good[0], { toString: () => good[1] }],
  ])('%s', async (_title, password, encoded) => {
    await expect(verifyDjangoPassword(password as never, encoded as never)).resolves.toBe(false);
  });

  it('a password with a lone UTF-16 surrogate is false (Python cannot encode it; Node would hash U+FFFD)', async () => {
    const encoded = await makeDjangoPassword('\uFFFD', { iterations: 1 });
    await expect(verifyDjangoPassword('\uFFFD', encoded)).resolves.toBe(true);
    await expect(verifyDjangoPassword('\uD800', encoded)).resolves.toBe(false);
    await expect(verifyDjangoPassword('\uDC00', encoded)).resolves.toBe(false);
  });

  describe('absurd work factors are refused without being computed', () => {
    it.each([
      ['PBKDF2 past 10,000,000 iterations', 'pbkdf2_sha256$10000001$salt$aGFzaA=='],
      ['PBKDF2 with 99,999,999 iterations', 'pbkdf2_sha1$99999999$salt$aGFzaA=='],
      ['argon2 with 2 GiB of memory', 'argon2$argon2id$v=19$m=2097152,t=2,p=8$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo'],
      ['argon2 with 1 GiB of memory', 'argon2$argon2id$v=19$m=1048576,t=2,p=8$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo'],
      ['argon2 past 512 MiB·passes (64 MiB × 40 passes)', 'argon2$argon2id$v=19$m=65536,t=40,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo'],
      ['argon2 with 1000 passes', 'argon2$argon2id$v=19$m=1024,t=1000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo'],
      ['argon2 with 255 lanes', 'argon2$argon2id$v=19$m=102400,t=2,p=255$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo'],
      ['bcrypt with cost 31', 'bcrypt_sha256$$2b$31$' + 'a'.repeat(53)],
      ['bcrypt with cost 18', 'bcrypt$$2b$18$' + 'a'.repeat(53)],
      ['bcrypt with cost 16', 'bcrypt$$2b$16$' + 'a'.repeat(53)],
    ])('%s', async (_title, encoded) => {
      const started = Date.now();
      await expect(verifyDjangoPassword('x', encoded)).resolves.toBe(false);
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  });
});

describe('makeDjangoPassword', () => {
  it(`with djangoVersion '3.2', writes pbkdf2_sha256 with Django 3.2's ${fixtures.django_defaults.pbkdf2_iterations} iterations and a ${fixtures.django_defaults.salt_length}-character salt`, async () => {
    const encoded = await makeDjangoPassword('correct horse battery staple', { djangoVersion: '3.2' });
    expect(encoded).toMatch(new RegExp(`^pbkdf2_sha256\\$${fixtures.django_defaults.pbkdf2_iterations}\\$[a-zA-Z0-9]{${fixtures.django_defaults.salt_length}}\\$[A-Za-z0-9+/]{43}=$`));
    await expect(verifyDjangoPassword('correct horse battery staple', encoded)).resolves.toBe(true);
    await expect(verifyDjangoPassword('correct horse battery stapler', encoded)).resolves.toBe(false);
  });

  // The interop suites check each count against that Django's own hasher (must_update() false).
  it.each([
    ['by default (5.2, the current LTS)', undefined, 1_000_000],
    ["with djangoVersion '5.2'", '5.2', 1_000_000],
    ["with djangoVersion '6.0'", '6.0', 1_200_000],
    ["with djangoVersion '6.1'", '6.1', 1_500_000],
  ] as const)("%s, writes that Django's PBKDF2 count (%s: %i)", async (_title, djangoVersion, iterations) => {
    const encoded = await makeDjangoPassword('pw', { djangoVersion });
    expect(encoded.split('$')[1]).toBe(String(iterations));
    await expect(verifyDjangoPassword('pw', encoded, { djangoVersion })).resolves.toBe(true);
  });

  it('DJANGO_PBKDF2_ITERATIONS is the default djangoVersion\'s count, and `iterations` still wins', async () => {
    expect(DJANGO_PBKDF2_ITERATIONS).toBe(1_000_000);
    await expect(makeDjangoPassword('pw', { djangoVersion: '6.1', iterations: 7 })).resolves.toMatch(/^pbkdf2_sha256\$7\$/);
  });

  it('refuses an unknown djangoVersion with the releases it knows', async () => {
    await expect(makeDjangoPassword('pw', { djangoVersion: '7.0' as never })).rejects.toThrow("djangoVersion must be one of '3.2', '4.0'");
    await expect(verifyDjangoPassword('pw', '', { djangoVersion: 5.2 as never })).rejects.toThrow('got the number 5.2');
  });

  it('uses a new salt every time', async () => {
    const [a, b] = await Promise.all([makeDjangoPassword('same', { iterations: 1 }), makeDjangoPassword('same', { iterations: 1 })]);
    expect(a.split('$')[2]).not.toBe(b.split('$')[2]);
  });

  it.each(fixtures.passwords.filter(([, encoded]) => encoded.startsWith('pbkdf2_sha256$')).map((entry) => [entry[1].slice(0, 50), entry]))(
    'with the same salt and iterations writes exactly what Django wrote: %s',
    async (_title, [password, encoded]) => {
      const [, iterations, salt] = encoded.split('$');
      await expect(makeDjangoPassword(password, { salt: salt!, iterations: Number(iterations) })).resolves.toBe(encoded);
    },
  );

  it.each([0, -1, 1.5, 10_000_001, Number.NaN])('refuses iterations %p', async (iterations) => {
    await expect(makeDjangoPassword('x', { iterations })).rejects.toThrow(RangeError);
  });

  it.each(['', 'a$b'])('refuses the salt %p', async (salt) => {
    await expect(makeDjangoPassword('x', { salt })).rejects.toThrow(TypeError);
  });

  it('refuses a password that is not a string, or has a lone surrogate', async () => {
    await expect(makeDjangoPassword(null as never)).rejects.toThrow(TypeError);
    await expect(makeDjangoPassword('a\uD800b')).rejects.toThrow(/surrogate/);
  });
});

describe(`sessionAuthHash: Django ${fixtures.django}'s user.get_session_auth_hash()`, () => {
  it.each(fixtures.session_auth_hash.map((entry) => [entry[0].slice(0, 24), JSON.stringify(entry[1]).slice(0, 24), entry] as const))(
    'password %s, SECRET_KEY %s',
    (_p, _s, [password, secretKey, expected]) => {
      expect(sessionAuthHash(password, secretKey)).toBe(expected);
    },
  );

  it('refuses a password that is not a string (an unselected column), rather than hash "undefined"', () => {
    expect(() => sessionAuthHash(undefined as never, 'k')).toThrow(/stored hash/);
  });
});

describe('verifyDjangoPassword: the hashes take turns', () => {
  it(`with ${PASSWORD_HASH_THREADS} hashing and ${MAX_WAITING_PASSWORD_HASHES} waiting, further checks are refused at once with PasswordHashersBusy (HTTP 503); none of the others is dropped`, async () => {
    // Called in one go: the line fills before any hash is done.
    const accepted = PASSWORD_HASH_THREADS + MAX_WAITING_PASSWORD_HASHES;
    const checks = Array.from({ length: accepted + 5 }, (_, i) => verifyDjangoPassword(i % 2 === 0 ? PASSWORD : 'wrong', ARGON2_CHEAP));
    // scrypt takes the same turns (bcrypt too: the same line).
    const scrypt = verifyDjangoPassword(PASSWORD, SCRYPT_DEFAULT);
    const bcrypt = verifyDjangoPassword(PASSWORD, BCRYPT_CHEAP);
    const outcomes = await Promise.allSettled([...checks, scrypt, bcrypt]);

    expect(outcomes.slice(0, accepted)).toEqual(Array.from({ length: accepted }, (_, i) => ({ status: 'fulfilled', value: i % 2 === 0 })));
    const refused = outcomes.slice(accepted);
    expect(refused).toHaveLength(7);
    for (const outcome of refused) {
      expect(outcome.status).toBe('rejected');
      const error = (outcome as PromiseRejectedResult).reason as PasswordHashersBusy;
      expect(error).toBeInstanceOf(PasswordHashersBusy);
      expect(error).toMatchObject({ name: 'PasswordHashersBusy', status: 503, statusCode: 503, expose: true });
      expect(error.message).toBe('Too many password checks are waiting. Try again shortly.');
    }
    // The line has drained: the next checks are computed.
    await expect(verifyDjangoPassword(PASSWORD, SCRYPT_DEFAULT)).resolves.toBe(true);
    await expect(verifyDjangoPassword(PASSWORD, BCRYPT_CHEAP)).resolves.toBe(true);
  });

  it('a hashing thread that dies rejects its checks with an error (no hang, no crash), and the next checks get a new thread', async () => {
    const running = Promise.allSettled([verifyDjangoPassword(PASSWORD, ARGON2_DEFAULT), verifyDjangoPassword('wrong', ARGON2_DEFAULT)]);
    const waiting = Promise.allSettled([verifyDjangoPassword(PASSWORD, ARGON2_CHEAP)]);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the threads have started on them
    await passwordHashPool.close();
    for (const outcome of await running) {
      expect(outcome.status).toBe('rejected');
      expect(((outcome as PromiseRejectedResult).reason as Error).message).toMatch(/^A password-hashing thread stopped \(exit code \d+\)$/);
    }
    // What waited for a turn runs on a new thread.
    expect(await waiting).toEqual([{ status: 'fulfilled', value: true }]);
    await expect(verifyDjangoPassword(PASSWORD, ARGON2_DEFAULT)).resolves.toBe(true);
  });
});

// ---- the module compiled, in a Node process of its own ----------------------------------------------

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Compiles the password hashers (and what they import) to JavaScript in a new temporary folder, as dist/ holds them. */
async function compileHashers(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `nestjs-django-session-${label}-`));
  await writeFile(join(dir, 'package.json'), '{"type":"module"}');
  for (const file of ['src/auth/password-hashers.ts', 'src/auth/password-hash-pool.ts', 'src/codec/signing.ts', 'src/codec/base-encodings.ts', 'src/codec/python-json.ts', 'src/django-versions.ts']) {
    const source = await readFile(join(root, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    });
    await mkdir(join(dir, dirname(file)), { recursive: true });
    await writeFile(join(dir, file.replace(/\.ts$/, '.js')), outputText);
  }
  return dir;
}

/** Runs an ES module script with `node` in `dir`; resolves to its output once the process has exited on its own. */
function runScript(dir: string, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

describe('argon2 and bcrypt are optional packages', () => {
  // The module as an app without `argon2`/`bcryptjs` runs it: compiled into a folder with no
  // node_modules, so the packages really fail to resolve.
  let dir: string;

  beforeAll(async () => {
    dir = await compileHashers('auth');
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('without them, pbkdf2 and scrypt work and an argon2 or bcrypt hash rejects with an error naming the package', async () => {
    const [pbkdf2, argon2, bcrypt] = fixtures.passwords.reduce<[string, string, string]>(
      (found, [, encoded]) => {
        if (encoded.startsWith('pbkdf2_sha256$1$')) found[0] = encoded;
        if (encoded.startsWith('argon2$argon2i$v=19$m=512')) found[1] = encoded;
        if (encoded.startsWith('bcrypt_sha256$$2b$05$')) found[2] = encoded;
        return found;
      },
      ['', '', ''],
    );
    const out = await runScript(dir, `
      import { verifyDjangoPassword } from './src/auth/password-hashers.js';
      const outcome = (p) => p.then((v) => String(v), (e) => 'Error: ' + e.message);
      console.log(JSON.stringify([
        await outcome(verifyDjangoPassword('correct horse battery staple', ${JSON.stringify(pbkdf2)})),
        await outcome(verifyDjangoPassword('correct horse battery staple', ${JSON.stringify(argon2)})),
        await outcome(verifyDjangoPassword('x', ${JSON.stringify(bcrypt)})),
        await outcome(verifyDjangoPassword('x', 'argon2$argon2id$garbage')),
        await outcome(verifyDjangoPassword('correct horse battery staple', ${JSON.stringify(SCRYPT_DEFAULT)})),
      ]));
    `);
    expect(JSON.parse(out)).toEqual([
      'true',
      'Error: Verifying an argon2 password hash needs the optional package "hash-wasm": npm install hash-wasm',
      'Error: Verifying a bcrypt password hash needs the optional package "bcryptjs": npm install bcryptjs',
      // Malformed data is refused before the package is needed.
      'false',
      // node:crypto's scrypt: no package needed.
      'true',
    ]);
  });
});

describe('in a Node process of its own, compiled as dist/ holds it', () => {
  // The compiled module next to the repository's node_modules, as an app that installed
  // hash-wasm and bcryptjs runs it: the worker threads start from compiled code, not ts-jest's.
  let dir: string;

  beforeAll(async () => {
    dir = await compileHashers('auth-threads');
    await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("the event loop keeps turning during argon2 checks at Django's default cost; the script waits for them, then exits on its own", async () => {
    const out = await runScript(dir, `
      import { verifyDjangoPassword } from './src/auth/password-hashers.js';
      let last = performance.now();
      const gaps = [];
      const ticker = setInterval(() => {
        const now = performance.now();
        gaps.push(now - last);
        last = now;
      }, 5);
      const checks = [
        verifyDjangoPassword('correct horse battery staple', ${JSON.stringify(ARGON2_DEFAULT)}),
        ...Array.from({ length: 5 }, () => verifyDjangoPassword('wrong', ${JSON.stringify(ARGON2_DEFAULT)})),
        verifyDjangoPassword('correct horse battery staple', ${JSON.stringify(BCRYPT_CHEAP)}),
      ];
      const results = await Promise.all(checks);
      clearInterval(ticker);
      gaps.sort((a, b) => a - b);
      console.log(JSON.stringify({ results, medianGap: gaps[Math.floor(gaps.length / 2)], longestGap: gaps.at(-1) }));
      // Nothing else here: the process must end by itself, its idle hashing threads unreferenced.
    `);
    const { results, medianGap, longestGap } = JSON.parse(out) as { results: boolean[]; medianGap: number; longestGap: number };
    expect(results).toEqual([true, false, false, false, false, false, true]);
    // Each check alone holds a core ~0.4 s: on the event loop the ticker would wait that long
    // between ticks (more on a busy machine); off it, only for the machine's own scheduling.
    expect(medianGap).toBeLessThan(50);
    expect(longestGap).toBeLessThan(1_000);
  });
});
