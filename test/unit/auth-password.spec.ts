/**
 * verifyDjangoPassword / makeDjangoPassword against what Django itself wrote: the known answers in
 * test/fixtures/django-auth/hashes.json come from Django 3.2's hashers (argon2-cffi, bcrypt), made
 * by test/interop/make-auth-fixtures.py (its docstring describes the format).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { DJANGO_PBKDF2_ITERATIONS, makeDjangoPassword, sessionAuthHash, verifyDjangoPassword } from '../../src/index.js';

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
      ['argon2 with 1000 passes', 'argon2$argon2id$v=19$m=1024,t=1000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo'],
      ['argon2 with 255 lanes', 'argon2$argon2id$v=19$m=102400,t=2,p=255$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo'],
      ['bcrypt with cost 31', 'bcrypt_sha256$$2b$31$' + 'a'.repeat(53)],
      ['bcrypt with cost 18', 'bcrypt$$2b$18$' + 'a'.repeat(53)],
    ])('%s', async (_title, encoded) => {
      const started = Date.now();
      await expect(verifyDjangoPassword('x', encoded)).resolves.toBe(false);
      expect(Date.now() - started).toBeLessThan(2_000);
    });
  });
});

describe('makeDjangoPassword', () => {
  it(`writes pbkdf2_sha256 with Django 3.2's ${fixtures.django_defaults.pbkdf2_iterations} iterations and a ${fixtures.django_defaults.salt_length}-character salt`, async () => {
    expect(DJANGO_PBKDF2_ITERATIONS).toBe(fixtures.django_defaults.pbkdf2_iterations);
    const encoded = await makeDjangoPassword('correct horse battery staple');
    expect(encoded).toMatch(new RegExp(`^pbkdf2_sha256\\$${fixtures.django_defaults.pbkdf2_iterations}\\$[a-zA-Z0-9]{${fixtures.django_defaults.salt_length}}\\$[A-Za-z0-9+/]{43}=$`));
    await expect(verifyDjangoPassword('correct horse battery staple', encoded)).resolves.toBe(true);
    await expect(verifyDjangoPassword('correct horse battery stapler', encoded)).resolves.toBe(false);
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

describe('argon2 and bcrypt are optional packages', () => {
  // The module as an app without `argon2`/`bcryptjs` runs it: compiled into a folder with no
  // node_modules, so the dynamic imports really fail to resolve.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nestjs-django-session-auth-'));
    await writeFile(join(dir, 'package.json'), '{"type":"module"}');
    for (const file of ['src/auth/password-hashers.ts', 'src/codec/signing.ts']) {
      const source = await readFile(join(root, file), 'utf8');
      const { outputText } = ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
        fileName: file,
      });
      await mkdir(join(dir, dirname(file)), { recursive: true });
      await writeFile(join(dir, file.replace(/\.ts$/, '.js')), outputText);
    }
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function run(script: string): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, timeout: 20_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(stdout.trim());
      });
    });
  }

  it('without them, pbkdf2 works and an argon2 or bcrypt hash rejects with an error naming the package', async () => {
    const [pbkdf2, argon2, bcrypt] = fixtures.passwords.reduce<[string, string, string]>(
      (found, [, encoded]) => {
        if (encoded.startsWith('pbkdf2_sha256$1$')) found[0] = encoded;
        if (encoded.startsWith('argon2$argon2i$v=19$m=512')) found[1] = encoded;
        if (encoded.startsWith('bcrypt_sha256$$2b$05$')) found[2] = encoded;
        return found;
      },
      ['', '', ''],
    );
    const out = await run(`
      import { verifyDjangoPassword } from './src/auth/password-hashers.js';
      const outcome = (p) => p.then((v) => String(v), (e) => 'Error: ' + e.message);
      console.log(JSON.stringify([
        await outcome(verifyDjangoPassword('correct horse battery staple', ${JSON.stringify(pbkdf2)})),
        await outcome(verifyDjangoPassword('correct horse battery staple', ${JSON.stringify(argon2)})),
        await outcome(verifyDjangoPassword('x', ${JSON.stringify(bcrypt)})),
        await outcome(verifyDjangoPassword('x', 'argon2$argon2id$garbage')),
      ]));
    `);
    expect(JSON.parse(out)).toEqual([
      'true',
      'Error: Verifying an argon2 password hash needs the optional package "hash-wasm": npm install hash-wasm',
      'Error: Verifying a bcrypt password hash needs the optional package "bcryptjs": npm install bcryptjs',
      // Malformed data is refused before the package is needed.
      'false',
    ]);
  });
});
