/**
 * The package as a user gets it: `npm pack`, unpacked into the node_modules of two separate apps,
 * one compiled to CommonJS and one to ESM, each started as its own process on Express and on
 * Fastify and driven over HTTP. The apps find Nest, TypeORM and sqlite3 in this repository's
 * node_modules (they live below it), as they would in their own.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = join(root, '.tmp', 'consumers');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

const FORMATS = {
  commonjs: {
    packageJson: { name: 'consumer-cjs', private: true },
    compilerOptions: { module: 'commonjs', moduleResolution: 'node10' },
  },
  esm: {
    packageJson: { name: 'consumer-esm', private: true, type: 'module' },
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' },
  },
} as const;

beforeAll(() => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  execFileSync('tar', ['-xzf', join(work, tarball), '-C', unpacked]);
  for (const [format, { packageJson, compilerOptions }] of Object.entries(FORMATS)) {
    const dir = join(work, format);
    mkdirSync(join(dir, 'src'), { recursive: true });
    cpSync(join(unpacked, 'package'), join(dir, 'node_modules', 'nestjs-django-session'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify(packageJson));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          ...compilerOptions,
          target: 'ES2022',
          outDir: 'dist',
          strict: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          esModuleInterop: true,
          skipLibCheck: true,
          types: [],
        },
        include: ['src'],
      }),
    );
    cpSync(join(root, 'test', 'consumers', 'app.ts.txt'), join(dir, 'src', 'main.ts'));
    execFileSync(process.execPath, [tsc, '-p', dir], { stdio: 'inherit' });
  }
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(Object.keys(FORMATS))('the packed package in a %s app', (format) => {
  describe.each(['express', 'fastify'])('on %s', (platform) => {
    let child: ChildProcess;
    let url: string;
    let db: string;

    beforeAll(async () => {
      db = mkdtempSync(join(tmpdir(), 'djs-consumer-'));
      child = spawn(process.execPath, [join(work, format, 'dist', 'main.js')], {
        env: { ...process.env, PLATFORM: platform, SQLITE_PATH: join(db, 'app.sqlite3') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let errors = '';
      child.stderr!.on('data', (d) => (errors += String(d)));
      url = await new Promise<string>((resolve, reject) => {
        child.stdout!.on('data', (d) => {
          const m = /LISTENING (\d+)/.exec(String(d));
          if (m) resolve(`http://127.0.0.1:${m[1]}`);
        });
        child.on('exit', (code) => reject(new Error(`the ${format} app exited with ${code}: ${errors}`)));
      });
    }, 60_000);

    afterAll(() => {
      child?.kill('SIGTERM');
      rmSync(db, { recursive: true, force: true });
    });

    it('serves the README example: comment once, then refused through the session cookie', async () => {
      const post = (cookie?: string) =>
        fetch(`${url}/comment`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
          body: JSON.stringify({ comment: 'hi' }),
        });
      const first = await post();
      expect(await first.text()).toBe('Thanks for your comment! (hi)');
      const setCookie = first.headers.getSetCookie();
      expect(setCookie).toHaveLength(1);
      expect(setCookie[0]).toMatch(/^sessionid=[a-z0-9]{32}; Max-Age=1209600; Path=\/; Expires=.+; HttpOnly; SameSite=Lax$/);
      const cookie = setCookie[0]!.split(';')[0]!;
      const second = await post(cookie);
      expect(await second.text()).toBe("You've already commented.");
      expect(second.headers.getSetCookie()).toEqual([]);
      expect(second.headers.get('vary')).toBe('Cookie');
    });
  });
});

describe('the packed clearsessions command', () => {
  it('deletes expired rows, keeps live ones and prints the count', async () => {
    const dir = join(work, 'esm');
    const file = join(mkdtempSync(join(tmpdir(), 'djs-clear-')), 'app.sqlite3');
    writeFileSync(
      join(dir, 'data-source.mjs'),
      `import { DataSource } from 'typeorm';
import { SessionEntity, CreateDjangoSession1700000000000 } from 'nestjs-django-session';
export default new DataSource({ type: 'sqlite', database: ${JSON.stringify(file)}, entities: [SessionEntity], migrations: [CreateDjangoSession1700000000000] });
`,
    );
    const { default: dataSource } = (await import(join(dir, 'data-source.mjs'))) as { default: import('typeorm').DataSource };
    await dataSource.initialize();
    await dataSource.runMigrations();
    await dataSource.query(
      `INSERT INTO django_session VALUES ('expiredexpiredexpiredexpired0001', 'e30', '2001-01-01 00:00:00'),
         ('expiredexpiredexpiredexpired0002', 'e30', '2020-06-01 12:00:00.5'),
         ('liveliveliveliveliveliveliveliv1', 'e30', '2999-01-01 00:00:00')`,
    );
    await dataSource.destroy();
    const cli = join(dir, 'node_modules', 'nestjs-django-session', 'dist', 'src', 'cli', 'cli.js');
    const run = () => execFileSync(process.execPath, [cli, 'clearsessions', '-d', join(dir, 'data-source.mjs')], { encoding: 'utf8' });
    expect(run()).toBe('Deleted 2 expired sessions.\n');
    expect(run()).toBe('Deleted 0 expired sessions.\n');
    await dataSource.initialize();
    expect(await dataSource.query('SELECT session_key FROM django_session')).toEqual([{ session_key: 'liveliveliveliveliveliveliveliv1' }]);
    await dataSource.destroy();
    rmSync(dirname(file), { recursive: true, force: true });
  });
});
