/**
 * The package as a user gets it: `npm pack`, then `npm install`ed from the tarball into two separate
 * apps, one compiled to CommonJS and one to ESM, each started as its own process on Express and on
 * Fastify and driven over HTTP, and its `django-session` bin run through node_modules/.bin and npx.
 * The apps find Nest, TypeORM and sqlite3 (the package's peers, installed with
 * --legacy-peer-deps so that npm does not fetch its own copies), and what the examples use besides
 * (the optional peers @nestjs/event-emitter and @opentelemetry/api, OpenTelemetry's SDK), in this
 * repository's node_modules (they live below it), as they would in their own.
 *
 * The documentation's examples (docs/integrations.md, and the pages of the features of their own:
 * docs/login-required.md, csrf.md, messages.md, idle-expiry.md, telemetry.md; their blocks marked
 * `<!-- consumer-example: ... -->`) are taken out of the docs unchanged, compiled in both apps and
 * run from the ESM one, each as its own process, driven over HTTP and WebSockets
 * (see readme-examples.ts).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { io as ioClient } from 'socket.io-client';
import sqlite3 from 'sqlite3';
import { DataSource } from 'typeorm';
import WebSocket from 'ws';
import { CreateDjangoSession1700000000000 } from '../../migrations/1700000000000-CreateDjangoSession.js';
import { CreateDemoAuthUser1700000000100 } from '../../examples/demo/auth-user.js';
import { SessionCodec } from '../../src/index.js';
import { MODEL_BACKEND } from '../../src/exports/auth.js';
import { readmeExamples, readReadme, runExample, Visitor, writeExamples, type RunningExample } from './readme-examples.js';
import { describeWith } from '../support/env.js';
import { djangoDateText, parseStoredDate } from '../support/app.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = join(root, '.tmp', 'consumers');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
let tarballFiles: string[];
let unpacked: string;

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

/** The environment for npm/npx in a consumer, without what `npm test` sets for this repository. */
function npmEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^npm_(?!config_)/i.test(k) && k.toLowerCase() !== 'npm_config_local_prefix'),
  );
  return { ...env, ...extra };
}

/** The files a user may hand to `-d` (data sources) and `-m` (app modules), written next to each consumer's package.json. */
const DATA_SOURCE_FILES: Record<string, string> = {
  // an app module on the file engine, as plain ESM (decorators applied by hand)
  'file-app.module.mjs': `import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { SessionModule } from 'nestjs-django-session';
export class AppModule {}
Module({ imports: [SessionModule.forRoot({ secretKey: 'consumer-secret', engine: process.env.ENGINE, filePath: process.env.SESSION_DIR })] })(AppModule);
`,
  // what tsc emits for `export default dataSource` with module: commonjs
  'data-source.cjs': `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
const typeorm_1 = require("typeorm");
const nestjs_django_session_1 = require("nestjs-django-session");
const dataSource = new typeorm_1.DataSource({
    type: 'sqlite',
    database: process.env.SQLITE_PATH,
    entities: [nestjs_django_session_1.SessionEntity],
    migrations: [nestjs_django_session_1.CreateDjangoSession1700000000000],
});
exports.default = dataSource;
`,
  // a named export and no default
  'named-data-source.mjs': `import { DataSource } from 'typeorm';
import { CreateDjangoSession1700000000000, SessionEntity } from 'nestjs-django-session';
export const dataSource = new DataSource({
  type: 'sqlite',
  database: process.env.SQLITE_PATH,
  entities: [SessionEntity],
  migrations: [CreateDjangoSession1700000000000],
});
`,
};

/** The README's example programs: the directories the marked blocks write a `main.ts` into. */
const EXAMPLE_PROGRAMS = ['csrf', 'django-login', 'graphql', 'idle-expiry', 'login-required', 'messages', 'passport-express', 'passport-fastify', 'request-session', 'telemetry', 'websocket'];
const examples = readmeExamples(readReadme(root));

beforeAll(() => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
  tarballFiles = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
  unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
  for (const [format, { packageJson, compilerOptions }] of Object.entries(FORMATS)) {
    const dir = join(work, format);
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...packageJson, dependencies: { 'nestjs-django-session': `file:${tarball}` } }));
    execFileSync('npm', ['install', '--legacy-peer-deps', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: dir,
      env: npmEnv(),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
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
    cpSync(join(root, 'test', 'consumers', 'trust-app.ts.txt'), join(dir, 'src', 'trust.ts'));
    cpSync(join(root, 'test', 'consumers', 'data-source.ts.txt'), join(dir, 'src', 'data-source.ts'));
    for (const [name, text] of Object.entries(DATA_SOURCE_FILES)) writeFileSync(join(dir, name), text);
    writeExamples(join(dir, 'src', 'examples'), examples);
    execFileSync(process.execPath, [tsc, '-p', dir], { stdio: 'inherit' });
    // The app-wide SessionData program, a compilation of its own (its declaration merging would type every file).
    mkdirSync(join(dir, 'typed'));
    cpSync(join(root, 'test', 'consumers', 'typed-session.ts.txt'), join(dir, 'typed', 'typed-session.ts'));
    writeFileSync(join(dir, 'tsconfig.typed.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true }, include: ['typed'] }));
  }
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each(Object.keys(FORMATS))('the packed package in a %s app', (format) => {
  describe.each(['express', 'fastify'])('on %s', (platform) => {
    let child: ChildProcess;
    let url: string;
    let db: string;

    beforeAll(async () => {
      db = mkdtempSync(join(tmpdir(), 'djs-consumer-'));
      child = spawn(process.execPath, [join(work, format, 'dist', 'main.js')], {
        // sqliteDataSourceOptions() from the package: node-sqlite3 on Express, better-sqlite3 on Fastify.
        env: { ...process.env, PLATFORM: platform, SQLITE_PATH: join(db, 'app.sqlite3'), SQLITE_DRIVER: platform === 'fastify' ? 'better-sqlite3' : 'sqlite3' },
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
      // The file is in WAL mode (sqliteDataSourceOptions; the mode is stored in the file).
      expect(await sql(join(db, 'app.sqlite3'), 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    });
  });
});

// ---- the README's integration examples ------------------------------------------------------------

const EXAMPLE_SECRET = 'readme-example-secret';
const exampleMain = (program: string) => join(work, 'esm', 'dist', 'examples', program, 'main.js');

/** Runs SQL on a sqlite file with a connection of its own (the example's app holds another). */
function sql<T = Record<string, unknown>>(file: string, statement: string, params: unknown[] = []): Promise<T[]> {
  const db = new sqlite3.Database(file);
  db.configure('busyTimeout', 5000);
  return new Promise<T[]>((resolve, reject) => db.all(statement, params, (error, rows) => (error ? reject(error) : resolve(rows as T[])))).finally(
    () => new Promise<void>((resolve) => db.close(() => resolve())),
  );
}

describe("the README's integration examples", () => {
  it('are every code block of "## Integrations", each marked, and write a main.ts for each program; every marked block of the docs is (part of) a program', () => {
    const readme = readReadme(root);
    const section = readme.slice(readme.indexOf('\n## Integrations\n'), readme.indexOf('\n## One login for Django and NestJS\n'));
    const fences = section.match(/^```\w*$/gm)!.filter((_, i) => i % 2 === 0);
    const marked = section.match(/^<!-- consumer-example: [^>]+ -->\n```ts$/gm) ?? [];
    expect(marked.length).toBe(fences.length);
    // The section's programs; the others are each in a page of its own (docs/login-required.md, docs/csrf.md...).
    const inSection = [...readmeExamples(section).keys()].filter((path) => path.endsWith('/main.ts')).map((path) => path.split('/')[0]);
    expect(fences.length).toBeGreaterThanOrEqual(inSection.length);
    expect(inSection.sort()).toEqual(['django-login', 'graphql', 'passport-express', 'passport-fastify', 'request-session', 'websocket']);
    const programs = [...examples.keys()].filter((path) => path.endsWith('/main.ts')).map((path) => path.split('/')[0]);
    expect(programs.sort()).toEqual(EXAMPLE_PROGRAMS);
    // No block is only compiled: each marked file is in a program's directory, and so runs below.
    expect([...examples.keys()].filter((path) => !EXAMPLE_PROGRAMS.includes(path.split('/')[0]!))).toEqual([]);
  });
});

describe("the README's integration examples, compiled from README.md and run from the ESM app", () => {
  it('compiled in the CommonJS app too', () => {
    for (const program of EXAMPLE_PROGRAMS) expect(existsSync(join(work, 'commonjs', 'dist', 'examples', program, 'main.js'))).toBe(true);
  });

  describe('req.session for middleware (Express)', () => {
    let app: RunningExample;
    beforeAll(async () => (app = await runExample(exampleMain('request-session'), { SECRET_KEY: EXAMPLE_SECRET })), 60_000);
    afterAll(() => app?.stop());

    it("counts views in express middleware, read through @Session(); regenerate() logs in under a new key and the old key is dead", async () => {
      const visitor = new Visitor(app.url);
      expect((await visitor.get('/views')).body).toEqual({ views: 1, user: null });
      const first = visitor.cookie;
      expect(first).toMatch(/^[a-z0-9]{32}$/);
      expect((await visitor.get('/views')).body).toEqual({ views: 2, user: null });
      expect(visitor.cookie).toBe(first);

      const login = await visitor.post('/login', { username: 'ada' });
      expect(login.body).toEqual({ user: 'ada' });
      const loggedIn = visitor.cookie;
      expect(loggedIn).toMatch(/^[a-z0-9]{32}$/);
      expect(loggedIn).not.toBe(first);
      expect((await visitor.get('/views')).body).toEqual({ views: 1, user: 'ada' });

      const old = new Visitor(app.url, first);
      expect((await old.get('/views')).body).toEqual({ views: 1, user: null });
      expect(old.cookie).not.toBe(first);
    });
  });

  describe.each([
    ['passport-express', 'Passport on Express', { status: 200, body: { username: null } }],
    ['passport-fastify', 'Passport on Fastify', { status: 200, body: { username: null } }],
    ['django-login', "Django's login without Passport", { status: 401 }],
  ] as const)('%s (%s)', (program, _title, anonymousMe) => {
    let app: RunningExample;
    const codec = new SessionCodec({ secretKey: EXAMPLE_SECRET });
    const PLANTED = 'plantedplantedplantedplanted0001';
    beforeAll(async () => {
      app = await runExample(exampleMain(program), { SECRET_KEY: EXAMPLE_SECRET }, async (cwd) => {
        // Django's auth_user with ada / lovelace (pbkdf2_sha256), as the demo's migration makes it.
        const dataSource = new DataSource({ type: 'sqlite', database: join(cwd, 'app.sqlite3'), migrations: [CreateDemoAuthUser1700000000100] });
        await dataSource.initialize();
        await dataSource.runMigrations();
        await dataSource.destroy();
      });
      // An anonymous session the visitor holds before logging in (the key a fixation attack plants).
      await sql(join(app.cwd, 'app.sqlite3'), "INSERT INTO django_session VALUES (?, ?, '2999-01-01 00:00:00')", [PLANTED, codec.encode({ cart: [1] })]);
    }, 60_000);
    afterAll(() => app?.stop());

    const stored = async (key: string | null) => {
      const rows = await sql<{ session_data: string }>(join(app.cwd, 'app.sqlite3'), 'SELECT session_data FROM django_session WHERE session_key = ?', [key]);
      return rows.length === 0 ? undefined : codec.decode(rows[0]!.session_data).data;
    };

    it("refuses a wrong password; logs in under a new key with Django's login keys; logs out, and the old key is dead", async () => {
      const visitor = new Visitor(app.url, PLANTED);
      expect(await visitor.get('/me')).toMatchObject(anonymousMe);

      const wrong = await visitor.post('/login', { username: 'ada', password: 'nope' });
      expect(wrong.status).toBe(401);
      expect(wrong.setCookie).toEqual([]);

      const login = await visitor.post('/login', { username: 'ada', password: 'lovelace' });
      expect({ status: login.status, body: login.body }).toEqual({ status: 201, body: { username: 'ada' } });
      const key = visitor.cookie;
      expect(key).toMatch(/^[a-z0-9]{32}$/);
      expect(key).not.toBe(PLANTED);
      expect(await stored(PLANTED)).toBeUndefined();
      expect(await stored(key)).toEqual({
        cart: [1],
        _auth_user_id: '1',
        _auth_user_backend: MODEL_BACKEND,
        _auth_user_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect((await visitor.get('/me')).body).toEqual({ username: 'ada' });

      const logout = await visitor.post('/logout');
      expect(logout.status).toBe(201);
      expect(logout.setCookie).toEqual([expect.stringMatching(/^sessionid=; Max-Age=0; /)]);
      expect(visitor.cookie).toBeNull();
      expect(await stored(key)).toBeUndefined();
      expect(await new Visitor(app.url, key).get('/me')).toMatchObject(anonymousMe);
    });
  });

  describe('login required (docs/login-required.md)', () => {
    let app: RunningExample;
    beforeAll(async () => {
      app = await runExample(exampleMain('login-required'), { SECRET_KEY: EXAMPLE_SECRET }, async (cwd) => {
        const dataSource = new DataSource({ type: 'sqlite', database: join(cwd, 'app.sqlite3'), migrations: [CreateDemoAuthUser1700000000100] });
        await dataSource.initialize();
        await dataSource.runMigrations();
        await dataSource.destroy();
      });
    }, 60_000);
    afterAll(() => app?.stop());

    it('redirects an anonymous page visit to /login?next=, answers the API 401; ada logs in, is @CurrentUser(), and is refused the staff page (403)', async () => {
      const page = await fetch(`${app.url}/account?tab=a b`, { redirect: 'manual' });
      expect({ status: page.status, location: page.headers.get('location') }).toEqual({ status: 302, location: '/login?next=/account%3Ftab%3Da%2520b' });
      const visitor = new Visitor(app.url);
      expect((await visitor.get('/api/me')).status).toBe(401);
      expect((await visitor.get('/whoami')).body).toEqual({ username: null });
      expect((await visitor.post('/login', { username: 'ada', password: 'lovelace' })).body).toEqual({ username: 'ada' });
      expect((await visitor.get('/account')).body).toEqual({ username: 'ada' });
      expect((await visitor.get('/api/me')).body).toEqual({ username: 'ada', staff: false });
      expect((await visitor.get('/admin')).status).toBe(403);
      expect((await visitor.get('/whoami')).body).toEqual({ username: 'ada' });
    });
  });

  describe('CSRF protection (docs/csrf.md)', () => {
    let app: RunningExample;
    beforeAll(async () => (app = await runExample(exampleMain('csrf'), { SECRET_KEY: EXAMPLE_SECRET })), 60_000);
    afterAll(() => app?.stop());

    const post = async (path: string, headers: Record<string, string>, body: string) => {
      const response = await fetch(`${app.url}${path}`, { method: 'POST', headers, body });
      return { status: response.status, body: (await response.json()) as unknown };
    };
    const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
    const JSON_BODY = { 'content-type': 'application/json' };

    it("the form carries a token and sets csrftoken; a POST with the token (the form's field, or X-CSRFToken) is accepted, one without is refused with Django's reason; the @CsrfExempt webhook takes a POST without one", async () => {
      const form = await fetch(`${app.url}/comment`);
      const page = await form.text();
      const token = /<input type="hidden" name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})">/.exec(page)?.[1];
      expect(token).toBeDefined();
      const setCookie = form.headers.getSetCookie();
      expect(setCookie).toEqual([expect.stringMatching(/^csrftoken=[A-Za-z0-9]{32}; /)]);
      expect(setCookie[0]).toMatch(/; Max-Age=31449600;/);
      const cookie = setCookie[0]!.split(';')[0]!;

      const fields = (text: string, csrfmiddlewaretoken?: string) => new URLSearchParams({ ...(csrfmiddlewaretoken ? { csrfmiddlewaretoken } : {}), text }).toString();
      expect(await post('/comment', { ...FORM, cookie }, fields('from the form', token))).toEqual({ status: 201, body: { saved: 'from the form' } });
      // A script's way: the token from /csrf-token, in the X-CSRFToken header.
      const { token: scripted } = (await (await fetch(`${app.url}/csrf-token`, { headers: { cookie } })).json()) as { token: string };
      expect(scripted).toMatch(/^[A-Za-z0-9]{64}$/);
      expect(await post('/comment', { ...JSON_BODY, cookie, 'x-csrftoken': scripted }, JSON.stringify({ text: 'from a script' }))).toEqual({ status: 201, body: { saved: 'from a script' } });

      const refused = (reason: string) => ({ status: 403, body: { statusCode: 403, error: 'Forbidden', message: reason } });
      expect(await post('/comment', { ...FORM, cookie }, fields('no token'))).toEqual(refused('CSRF token missing.'));
      expect(await post('/comment', { ...JSON_BODY, cookie }, JSON.stringify({ text: 'no token' }))).toEqual(refused('CSRF token missing.'));
      expect(await post('/comment', { ...FORM, cookie }, fields('a token for another secret', 'a'.repeat(64)))).toEqual(refused('CSRF token from POST incorrect.'));
      expect(await post('/comment', FORM, fields('no cookie', token))).toEqual(refused('CSRF cookie not set.'));

      expect(await post('/webhook', JSON_BODY, '{}')).toEqual({ status: 201, body: { ok: true } });
    });
  });

  describe('messages (docs/messages.md)', () => {
    let app: RunningExample;
    beforeAll(async () => (app = await runExample(exampleMain('messages'), { SECRET_KEY: EXAMPLE_SECRET })), 60_000);
    afterAll(() => app?.stop());

    it('a message added by a POST is listed once by the next request, with its level and tags, then none; a message below MESSAGE_LEVEL is not recorded', async () => {
      const visitor = new Visitor(app.url);
      expect((await visitor.post('/profile', { name: 'Ada & <co>' })).body).toEqual({ saved: true });
      expect(visitor.cookie).toMatch(/^[a-z0-9]{32}$/);
      // Another visitor has none.
      expect((await new Visitor(app.url).get('/messages')).body).toEqual([]);
      expect((await visitor.get('/messages')).body).toEqual([
        { message: 'Saved, <b>Ada &#38; &#60;co&#62;</b>.', level: 25, levelTag: 'success', tags: 'success', extraTags: '', safe: true },
      ]);
      expect((await visitor.get('/messages')).body).toEqual([]);

      // MESSAGE_TAGS: an error's level tag is "danger", after the extra tags.
      expect((await visitor.post('/profile', {})).body).toEqual({ saved: false });
      expect((await visitor.get('/messages')).body).toEqual([
        { message: 'A name is required.', level: 40, levelTag: 'danger', tags: 'form danger', extraTags: 'form', safe: false },
      ]);
      expect((await visitor.get('/messages')).body).toEqual([]);
    });
  });

  describe('idle expiry (docs/idle-expiry.md)', () => {
    const HOUR = 3600;
    const AGE = 14 * 24 * HOUR; // the example's cookieAge; its touchAfter is an hour
    let app: RunningExample;
    beforeAll(async () => (app = await runExample(exampleMain('idle-expiry'), { SECRET_KEY: EXAMPLE_SECRET })), 60_000);
    afterAll(() => app?.stop());

    const row = async (key: string) =>
      (await sql<{ session_data: string; expire_date: string }>(join(app.cwd, 'app.sqlite3'), 'SELECT session_data, expire_date FROM django_session WHERE session_key = ?', [key]))[0]!;

    it('a read within touchAfter of the last save sends no cookie and writes nothing; once the stored expiry was set more than touchAfter ago, a read moves it to now + cookieAge (the data untouched) and sends the cookie again with Max-Age', async () => {
      const visitor = new Visitor(app.url);
      const added = await visitor.post('/cart', { item: 'tea' });
      expect(added.body).toEqual(['tea']);
      expect(added.setCookie).toEqual([expect.stringMatching(new RegExp(`^sessionid=[a-z0-9]{32}; Max-Age=${AGE}; `))]);
      const key = visitor.cookie!;
      const saved = await row(key);

      const within = await visitor.get('/cart');
      expect({ body: within.body, setCookie: within.setCookie }).toEqual({ body: ['tea'], setCookie: [] });
      expect(await row(key)).toEqual(saved);

      // The stored expiry as it is two hours after the save (aged in the database, as test/e2e/idle-expiry.e2e-spec.ts ages it).
      const aged = djangoDateText(Date.now() + (AGE - 2 * HOUR) * 1000);
      await sql(join(app.cwd, 'app.sqlite3'), 'UPDATE django_session SET expire_date = ? WHERE session_key = ?', [aged, key]);
      const before = Date.now();
      const touched = await visitor.get('/cart');
      const after = Date.now();
      expect(touched.body).toEqual(['tea']);
      expect(touched.setCookie).toEqual([expect.stringMatching(new RegExp(`^sessionid=${key}; Max-Age=${AGE}; `))]);
      const now = await row(key);
      expect(now.session_data).toBe(saved.session_data);
      expect(parseStoredDate(now.expire_date)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + (AGE - 1) * 1000);
      expect(parseStoredDate(now.expire_date)).toBeLessThanOrEqual(after + (AGE + 1) * 1000);

      // Touched now: the next read is within touchAfter again.
      const next = await visitor.get('/cart');
      expect({ body: next.body, setCookie: next.setCookie }).toEqual({ body: ['tea'], setCookie: [] });
      expect(await row(key)).toEqual(now);
    });
  });

  describe('events and telemetry (docs/telemetry.md)', () => {
    let app: RunningExample;
    beforeAll(async () => (app = await runExample(exampleMain('telemetry'), { SECRET_KEY: EXAMPLE_SECRET })), 60_000);
    afterAll(() => app?.stop());

    /** The program's output (colours taken out) once it holds `expected`, within 5 s. */
    async function outputWith(expected: string | RegExp): Promise<string> {
      const deadline = Date.now() + 5000;
      for (;;) {
        const output = app.output().replace(/\x1b\[[0-9;]*m/g, '');
        if ((typeof expected === 'string' ? output.includes(expected) : expected.test(output)) || Date.now() > deadline) return output;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }

    it("the @OnEvent listener hears Django's signals (a refused login, then a login, with the session's key hint); each store operation is a span the SDK exports; the requests are answered as usual", async () => {
      const visitor = new Visitor(app.url);
      const refused = await visitor.post('/login', { username: 'ada', password: 'wrong' });
      expect(refused.status).toBe(401);
      expect(await outputWith('WARN [SessionAudit] login refused for ada\n')).toContain('WARN [SessionAudit] login refused for ada\n');
      expect(app.output()).not.toMatch(/logged in/);

      const login = await visitor.post('/login', { username: 'ada', password: 'lovelace' });
      expect({ status: login.status, body: login.body }).toEqual({ status: 201, body: { ok: true } });
      const key = visitor.cookie!;
      expect(key).toMatch(/^[a-z0-9]{32}$/);
      const loggedIn = `LOG [SessionAudit] user 1 logged in (session ${key.slice(0, 8)}…)\n`;
      const output = await outputWith(loggedIn);
      expect(output).toContain(loggedIn);
      expect(output).not.toContain(key); // a hint, never the key
      // The session's store operations, each a span as ConsoleSpanExporter prints it: login() stored the session under its first key.
      expect(output).toMatch(/name: 'django_session\.create',[\s\S]*?'django_session\.engine': 'db',[\s\S]*?'django_session\.outcome': 'created'/);

      const logout = await visitor.post('/logout');
      expect({ status: logout.status, body: logout.body }).toEqual({ status: 201, body: { ok: true } });
      expect(logout.setCookie).toEqual([expect.stringMatching(/^sessionid=; Max-Age=0; /)]);
      expect(await outputWith("'django_session.outcome': 'deleted'")).toMatch(/name: 'django_session\.delete',[\s\S]*?'django_session\.outcome': 'deleted'/);
    });
  });

  describe.each([
    ['express', 'Apollo'],
    ['fastify', 'Mercurius'],
  ])('GraphQL on %s (%s)', (platform) => {
    let app: RunningExample;
    beforeAll(async () => (app = await runExample(exampleMain('graphql'), { SECRET_KEY: EXAMPLE_SECRET, PLATFORM: platform })), 60_000);
    afterAll(() => app?.stop());

    it('an operation of two mutations sets the cookie once; a query reads the session and sets none', async () => {
      const visitor = new Visitor(app.url);
      const added = await visitor.graphql('mutation { a: add b: add }');
      expect({ status: added.status, body: added.body }).toEqual({ status: 200, body: { data: { a: 1, b: 2 } } });
      expect(added.setCookie).toHaveLength(1);
      const read = await visitor.graphql('{ items }');
      expect(read.body).toEqual({ data: { items: 2 } });
      expect(read.setCookie).toEqual([]);
      const stranger = await new Visitor(app.url).graphql('{ items }');
      expect({ body: stranger.body, setCookie: stranger.setCookie }).toEqual({ body: { data: { items: 0 } }, setCookie: [] });
    });

    it("the resolver's guard (forContext) refuses an anonymous operation with a GraphQL error, and lets a shopper through", async () => {
      for (const cookie of [null, 'nosuchsessionnosuchsession000000', 'not a key']) {
        const refused = await new Visitor(app.url, cookie).graphql('{ canCheckout }');
        expect(refused.status).toBe(200);
        expect(refused.body).toMatchObject({ data: null, errors: [{ message: 'Forbidden resource' }] });
      }
      const shopper = new Visitor(app.url);
      await shopper.graphql('mutation { add }');
      expect((await shopper.graphql('{ canCheckout }')).body).toEqual({ data: { canCheckout: true } });
      // The process is still there after the refusals, and serves as before.
      expect((await shopper.graphql('{ items }')).body).toEqual({ data: { items: 1 } });
    });
  });

  describe.each(['socket.io', 'ws'])('a WebSocket gateway on %s', (adapter) => {
    let app: RunningExample;
    beforeAll(async () => (app = await runExample(exampleMain('websocket'), { SECRET_KEY: EXAMPLE_SECRET, ...(adapter === 'ws' ? { WS_ADAPTER: 'ws' } : {}) })), 60_000);
    afterAll(() => app?.stop());

    /**
     * A connected socket carrying `cookie`. `ask(event)` sends the message and resolves to the first
     * answer: `{ event, data }` (Nest's `exception` event included), or null when none came within 500 ms.
     */
    async function connect(cookie: string | null): Promise<{ ask(event: string): Promise<{ event: string; data: unknown } | null>; whoami(): Promise<unknown>; close(): void }> {
      const headers: Record<string, string> = cookie === null ? {} : { cookie: `sessionid=${cookie}` };
      const within = <T,>(answer: Promise<T>) => Promise.race([answer, new Promise<null>((resolve) => setTimeout(() => resolve(null), 500))]);
      let ask: (event: string) => Promise<{ event: string; data: unknown } | null>;
      let close: () => void;
      if (adapter === 'socket.io') {
        const socket = ioClient(app.url, { transports: ['websocket'], extraHeaders: headers, forceNew: true, reconnection: false });
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', () => resolve());
          socket.once('connect_error', reject);
        });
        ask = (event) =>
          within(
            new Promise((resolve) => {
              const answered = (name: string) => (data: unknown) => {
                socket.off(event).off('exception');
                resolve({ event: name, data });
              };
              socket.once(event, answered(event)).once('exception', answered('exception')).emit(event, {});
            }),
          );
        close = () => socket.close();
      } else {
        const ws = new WebSocket(app.url.replace('http', 'ws'), { headers });
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        });
        ask = (event) =>
          within(
            new Promise((resolve) => {
              ws.once('message', (raw) => resolve(JSON.parse(String(raw)) as { event: string; data: unknown }));
              ws.send(JSON.stringify({ event, data: {} }));
            }),
          );
        close = () => ws.close();
      }
      return { ask, whoami: async () => (await ask('whoami'))?.data, close };
    }

    it("a socket sees the session of the cookie it connected with, and a logout over HTTP on its next message", async () => {
      const visitor = new Visitor(app.url);
      expect((await visitor.post('/login', { user: 'ada' })).body).toEqual({ user: 'ada' });
      const socket = await connect(visitor.cookie);
      const anonymous = await connect(null);
      try {
        expect(await socket.whoami()).toBe('ada');
        expect(await anonymous.whoami()).toBeNull();
        await visitor.post('/logout');
        expect(visitor.cookie).toBeNull();
        expect(await socket.whoami()).toBeNull();
      } finally {
        socket.close();
        anonymous.close();
      }
    });

    it("the handler's guard (forContext) sees the handshake cookie's session: members through, anonymous sockets refused", async () => {
      const visitor = new Visitor(app.url);
      await visitor.post('/login', { user: 'ada' });
      const member = await connect(visitor.cookie);
      const anonymous = await connect(null);
      const stranger = await connect('nosuchsessionnosuchsession000000');
      try {
        expect(await member.ask('secret')).toEqual({ event: 'secret', data: 'for members' });
        const refusal = { event: 'exception', data: expect.objectContaining({ status: 'error', message: 'Forbidden resource' }) };
        expect(await anonymous.ask('secret')).toEqual(refusal);
        expect(await stranger.ask('secret')).toEqual(refusal);
        // Still serving: the refusals crashed nothing.
        expect(await anonymous.whoami()).toBeNull();
        expect(await member.whoami()).toBe('ada');
      } finally {
        member.close();
        anonymous.close();
        stranger.close();
      }
    });
  });
});

// ---- the packed package holds: hostile stores and contexts without an HTTP server ---------------

const trustMain = (format: string) => join(work, format, 'dist', 'trust.js');

/** How long `request` took, and what it answered. */
async function timed(request: Promise<Response>): Promise<{ ms: number; status: number; body: string; setCookie: string[] }> {
  const started = performance.now();
  const response = await request;
  const body = await response.text();
  return { ms: performance.now() - started, status: response.status, body, setCookie: response.headers.getSetCookie() };
}

/** A valid session key nobody was given (32 characters of [a-z0-9], as Django makes them). */
const aKey = () => randomBytes(32).toString('hex').replace(/[^a-z0-9]/g, '').slice(0, 24) + 'trust000';

/**
 * Requests `/visit` with each hostile key at once, and `/ping` (no session) while they are in
 * flight: every answer comes within `withinMs`, the ping within a second, nobody waits behind a
 * hostile value, and each visitor ends with a session of its own.
 */
async function visitAll(url: string, keys: string[], withinMs: number) {
  const visits = keys.map((key) => timed(fetch(`${url}/visit`, { headers: { cookie: `sessionid=${key}` } })));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const ping = await timed(fetch(`${url}/ping`));
  const answers = await Promise.all(visits);
  expect({ status: ping.status, body: ping.body }).toEqual({ status: 200, body: 'pong' });
  expect(ping.ms).toBeLessThan(1000);
  for (const answer of answers) {
    expect(answer.ms).toBeLessThan(withinMs);
    expect(answer.status).toBe(200);
  }
  return answers;
}

const rss = async (url: string) => ((await (await fetch(`${url}/rss`)).json()) as { rss: number }).rss;

/** Pickle opcodes (protocol 4, as django-redis writes), each a Buffer. */
const op = (text: string) => Buffer.from(text, 'latin1');
const PROTO4 = op('\x80\x04');
/** `{'a': <items>}`: EMPTY_DICT MARK 'a' MARK <items> LIST SETITEMS STOP. */
const dictOfList = (items: Buffer) => Buffer.concat([PROTO4, op('}(\x8c\x01a('), items, op('lu.')]);
/** `{'<name>': <value>}` from the value's opcodes. */
const dictOf = (name: string, value: Buffer) => Buffer.concat([PROTO4, op(`}(\x8c${String.fromCharCode(name.length)}${name}`), value, op('u.')]);
/** Python's `pickle` LONG1 of a big int: little-endian two's complement, as `pickle.dumps(10**400)` writes it. */
function long1(value: bigint): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v > 0n) {
    bytes.push(Number(v & 0xffn));
    v >>= 8n;
  }
  if (bytes.at(-1)! & 0x80) bytes.push(0);
  return Buffer.concat([op('\x8a'), Buffer.from([bytes.length]), Buffer.from(bytes)]);
}
/** `list(range(n))` as Python pickles it (without framing): BININT1 / BININT2 / BININT, APPENDS per 1000. */
function rangeList(n: number): Buffer {
  const parts = [op('](')];
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % 1000 === 0) parts.push(op('e('));
    if (i < 256) parts.push(Buffer.from([0x4b, i]));
    else if (i < 65536) parts.push(Buffer.from([0x4d, i & 0xff, i >> 8]));
    else {
      const b = Buffer.alloc(5);
      b[0] = 0x4a;
      b.writeInt32LE(i, 1);
      parts.push(b);
    }
  }
  parts.push(op('e'));
  return Buffer.concat(parts);
}
const FOUR_MIB = 4 * 1024 * 1024;

describeWith(['redis'], 'the packed package holds against a Redis holding hostile values (cache engine)', ({ redis: redisUrl }) => {
  let app: RunningExample;
  let client: ReturnType<typeof import('redis').createClient>;
  const keyPrefix = `nds-test:consumers-trust:${process.pid}`;
  const cacheKey = (key: string) => `${keyPrefix}:1:django.contrib.sessions.cache${key}`;

  beforeAll(async () => {
    const { createClient } = await import('redis');
    client = createClient({ url: redisUrl });
    await client.connect();
    app = await runExample(trustMain('esm'), { MODE: 'cache', REDIS_URL: redisUrl, KEY_PREFIX: keyPrefix });
  }, 60_000);
  afterAll(async () => {
    await app?.stop();
    for await (const keys of client.scanIterator({ MATCH: `${keyPrefix}:*` })) if (keys.length > 0) await client.del(keys);
    client.destroy();
  });

  async function plant(value: Buffer): Promise<string> {
    const key = aKey();
    await client.set(cacheKey(key), value, { EX: 600 });
    return key;
  }

  it('pickles made to stall or swell the process are refused within a second each, side by side, with memory bounded', async () => {
    const before = await rss(app.url);
    const hostile = await Promise.all([
      // four million empty dicts in a 4 MiB value
      plant(dictOfList(op('}'.repeat(FOUR_MIB - 16)))),
      // 4 MiB of EMPTY_DICT opcodes, left on the stack
      plant(Buffer.concat([PROTO4, op('}'.repeat(FOUR_MIB - 8)), op('.')])),
      // 10 KB: one 1,000-item list referenced 4,000 times (memo), 4 million items once expanded
      plant(dictOfList(Buffer.concat([op(']\x94('), op('K\x07'.repeat(1000)), op('e'), op('h\x00'.repeat(3999))]))),
    ]);
    const answers = await visitAll(app.url, hostile, 1000);
    for (const answer of answers) {
      // Refused as data that does not verify: a fresh session under a new key, the planted value untouched.
      expect(JSON.parse(answer.body)).toEqual({ visits: 1 });
      expect(answer.setCookie).toEqual([expect.stringMatching(/^sessionid=[a-z0-9]{32};/)]);
      expect(answer.setCookie[0]).not.toContain(hostile[answers.indexOf(answer)]);
    }
    expect(await rss(app.url)).toBeLessThan(before + 16 * FOUR_MIB);
    expect((await client.exists(hostile.map(cacheKey)))).toBe(hostile.length);
  });

  it("a genuine session holding list(range(150000)), inf, nan and 10**400 is read and saved, and read again", async () => {
    const big = await plant(dictOf('big', rangeList(150_000)));
    const floats = await plant(
      Buffer.concat([PROTO4, op('}(\x8c\x03infG\x7f\xf0\x00\x00\x00\x00\x00\x00\x8c\x03nanG\x7f\xf8\x00\x00\x00\x00\x00\x00\x8c\x04huge'), long1(10n ** 400n), op('u.')]),
    );
    for (const key of [big, floats]) {
      for (const visits of [1, 2]) {
        const answer = await timed(fetch(`${app.url}/visit`, { headers: { cookie: `sessionid=${key}` } }));
        expect({ status: answer.status, body: JSON.parse(answer.body) }).toEqual({ status: 200, body: { visits } });
        expect(answer.setCookie).toEqual([expect.stringMatching(new RegExp(`^sessionid=${key};`))]);
      }
    }
    // What Python would need to read it back: the big list and the special numbers kept as pickle writes them.
    const { RESP_TYPES } = await import('redis');
    const saved = (await client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get(cacheKey(floats))) as unknown as Buffer;
    expect(saved.includes(op('G\x7f\xf0\x00\x00\x00\x00\x00\x00'))).toBe(true);
    expect(saved.includes(long1(10n ** 400n).subarray(2))).toBe(true);
  });
});

describe('the packed package holds against a session directory holding FIFOs and a sparse file (file engine)', () => {
  let app: RunningExample;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'djs-trust-files-'));
    app = await runExample(trustMain('esm'), { MODE: 'file', SESSION_DIR: dir });
  }, 60_000);
  afterAll(async () => {
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('four FIFOs and a 1 GiB sparse file named like sessions answer within the store timeout, and nobody waits behind them', async () => {
    const fifos = [aKey(), aKey(), aKey(), aKey()];
    for (const key of fifos) execFileSync('mkfifo', [join(dir, `sessionid${key}`)]);
    const sparse = aKey();
    const fd = openSync(join(dir, `sessionid${sparse}`), 'w');
    ftruncateSync(fd, 1024 * 1024 * 1024);
    closeSync(fd);
    const before = await rss(app.url);
    await visitAll(app.url, [...fifos, sparse], 3000);
    // The thread pool is free: a visitor after them keeps a session as usual.
    const visitor = new Visitor(app.url);
    expect((await visitor.get('/visit')).body).toEqual({ visits: 1 });
    expect((await visitor.get('/visit')).body).toEqual({ visits: 2 });
    expect(await rss(app.url)).toBeLessThan(before + 64 * 1024 * 1024);
  });
});

describe('the packed package in an application context (no HTTP server), with requestSession: true', () => {
  it.each(Object.keys(FORMATS))('%s: creates, loads and sweeps sessions, then exits', (format) => {
    const cwd = mkdtempSync(join(tmpdir(), 'djs-trust-context-'));
    try {
      const run = spawnSync(process.execPath, [trustMain(format)], { cwd, env: { ...process.env, MODE: 'context' }, encoding: 'utf8', timeout: 60_000 });
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: 'CONTEXT OK {"job":"nightly"} 0\n', stderr: '' });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

/** The package's entries, as its package.json `exports` lists them (but `./package.json`). */
function packageEntries(): string[] {
  const exports = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).exports as Record<string, unknown>;
  return Object.keys(exports)
    .filter((entry) => entry !== './package.json')
    .map((entry) => (entry === '.' ? 'nestjs-django-session' : `nestjs-django-session/${entry.slice(2)}`));
}

describe.each(Object.keys(FORMATS))('typed session data in the %s app', (format) => {
  it('SessionData declared once types every session: get(key, default) gives the value type, wrong keys and types do not compile', () => {
    const run = spawnSync(process.execPath, [tsc, '-p', join(work, format, 'tsconfig.typed.json')], { encoding: 'utf8' });
    expect({ status: run.status, output: run.stdout + run.stderr }).toEqual({ status: 0, output: '' });
  });

  it('the same program without the declaration does not compile (so the check above can fail)', () => {
    const dir = join(work, format);
    const source = readFileSync(join(dir, 'typed', 'typed-session.ts'), 'utf8');
    const undeclared = source.replace(/declare module 'nestjs-django-session' \{[\s\S]*?\n\}\n/, '');
    expect(undeclared).not.toBe(source);
    mkdirSync(join(dir, 'untyped'), { recursive: true });
    writeFileSync(join(dir, 'untyped', 'typed-session.ts'), undeclared);
    writeFileSync(join(dir, 'tsconfig.untyped.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true }, include: ['untyped'] }));
    const run = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.untyped.json')], { encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stdout).toMatch(/Unused '@ts-expect-error' directive/);
  });
});

describe('the public entries, from the packed package', () => {
  const entries = packageEntries();

  it('are the root and its subpaths: auth, passport, websocket, sqlite, engines, codec', () => {
    expect(entries).toEqual(['nestjs-django-session', ...['auth', 'passport', 'websocket', 'sqlite', 'engines', 'codec', 'csrf', 'messages', 'telemetry'].map((e) => `nestjs-django-session/${e}`)]);
  });

  it('each gives the same names to require() in the CommonJS app and to import in the ESM app; the root holds at most 40 names', () => {
    const cjs = spawnSync(process.execPath, ['-e', `console.log(JSON.stringify(Object.fromEntries(${JSON.stringify(entries)}.map((e) => [e, Object.keys(require(e)).sort()]))))`], { cwd: join(work, 'commonjs'), encoding: 'utf8', timeout: 60_000 });
    const esm = spawnSync(process.execPath, ['--input-type=module', '-e', `const out = {}; for (const e of ${JSON.stringify(entries)}) out[e] = Object.keys(await import(e)).filter((k) => k !== 'default').sort(); console.log(JSON.stringify(out));`], { cwd: join(work, 'esm'), encoding: 'utf8', timeout: 60_000 });
    expect({ cjs: cjs.stderr, esm: esm.stderr }).toEqual({ cjs: '', esm: '' });
    const fromRequire = JSON.parse(cjs.stdout) as Record<string, string[]>;
    expect(JSON.parse(esm.stdout)).toEqual(fromRequire);
    for (const entry of entries) expect(fromRequire[entry]!.length).toBeGreaterThan(0);
    // Values only (types are erased): the root's types bring it to the same bound, see src/index.ts.
    expect(fromRequire['nestjs-django-session']!.length).toBeLessThanOrEqual(40);
    expect(fromRequire['nestjs-django-session']).toEqual(expect.arrayContaining(['SessionModule', 'Session', 'SessionStore', 'SessionService', 'SessionBackend', 'SessionEntity']));
    expect(fromRequire['nestjs-django-session']).not.toContain('login');
    expect(fromRequire['nestjs-django-session/auth']).toEqual(expect.arrayContaining(['login', 'logout', 'getUser', 'verifyDjangoPassword', 'makeDjangoPassword']));
    expect(fromRequire['nestjs-django-session/csrf']).toEqual(expect.arrayContaining(['CsrfModule', 'CsrfExempt', 'CsrfToken', 'getCsrfToken', 'rotateCsrfToken']));
    expect(fromRequire['nestjs-django-session/messages']).toEqual(expect.arrayContaining(['Messages', 'MessageStorage', 'messagesOf', 'MessagesModule', 'MessageLevel']));
  });

  /** The package's modules an ESM app loads to start SessionModule on `engine`, and serve one request. */
  function modulesLoadedBy(engine: 'signed_cookies' | 'db' | 'cache'): string[] {
    const program = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const loaded = new Set();
port1.on('message', (url) => loaded.add(url));
register('data:text/javascript,' + encodeURIComponent('let port; export function initialize(data) { port = data.port; } export async function load(url, context, next) { port.postMessage(url); return next(url, context); }'), import.meta.url, { data: { port: port2 }, transferList: [port2] });
await import('reflect-metadata');
const { Module, Controller, Get } = await import('@nestjs/common');
const { NestFactory } = await import('@nestjs/core');
const { SessionModule, Session } = await import('nestjs-django-session');
const engine = ${JSON.stringify(engine)};
const imports = [];
if (engine === 'db') {
  const { TypeOrmModule } = await import('@nestjs/typeorm');
  const { SessionEntity, CreateDjangoSession1700000000000 } = await import('nestjs-django-session');
  imports.push(TypeOrmModule.forRoot({ type: 'sqlite', database: ':memory:', entities: [SessionEntity], migrations: [CreateDjangoSession1700000000000], migrationsRun: true }));
}
class Views { visit(session) { session.set('n', 1); return 'ok'; } }
Controller()(Views);
Get('visit')(Views.prototype, 'visit', Object.getOwnPropertyDescriptor(Views.prototype, 'visit'));
Session()(Views.prototype, 'visit', 0);
class AppModule {}
const cache = engine === 'cache' ? { client: { isOpen: false } } : undefined;
Module({ imports: [...imports, SessionModule.forRoot({ secretKey: 'a-consumer-secret-key-with-enough-characters-0123456789', engine, ...(cache ? { cache } : {}) })], controllers: [Views] })(AppModule);
const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
await app.listen(0, '127.0.0.1');
const response = await fetch('http://127.0.0.1:' + app.getHttpServer().address().port + '/visit');
if (response.status !== 200) throw new Error('status ' + response.status);
await app.close();
await new Promise((resolve) => setTimeout(resolve, 100));
console.log(JSON.stringify([...loaded].filter((url) => url.includes('/node_modules/nestjs-django-session/')).map((url) => url.slice(url.indexOf('/dist/') + 1)).sort()));
port1.close();
`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', program], { cwd: join(work, 'esm'), encoding: 'utf8', timeout: 60_000 });
    if (run.status !== 0) throw new Error(`the ${engine} app failed: ${run.stderr}`);
    return JSON.parse(run.stdout) as string[];
  }

  it('an app on signed_cookies loads neither the TypeORM engine nor the Redis adapter, nor any other engine', () => {
    const loaded = modulesLoadedBy('signed_cookies');
    expect(loaded).toContain('dist/src/backends/signed-cookies/signed-cookies.backend.js');
    // Engine code: the TypeORM engine and its statements, the Redis adapter, the cache and file
    // engines. (Each engine's option schema, backends/*/*-options.js, is checked at boot whatever
    // the engine, and loads nothing of the engine.)
    const engineCode = /backends\/(typeorm\/(typeorm\.backend|statements|direct-statements|dialect)|cache\/(redis-client|cache\.backend|cached-db\.backend)|file\/file\.backend)/;
    expect(loaded.filter((module) => engineCode.test(module))).toEqual([]);
    expect(loaded.filter((module) => /backends\/(cache|file)\//.test(module) && !/-options\.js$/.test(module))).toEqual([]);
  });

  it('an app on db loads the TypeORM engine and not the Redis adapter (so the check above can fail)', () => {
    const loaded = modulesLoadedBy('db');
    expect(loaded).toEqual(expect.arrayContaining(['dist/src/backends/typeorm/typeorm.backend.js', 'dist/src/backends/typeorm/statements.js']));
    expect(loaded.filter((module) => /backends\/(cache\/(redis-client|cache\.backend|cached-db\.backend)|file\/file\.backend|signed-cookies\/)/.test(module))).toEqual([]);
  });
});

describe('the tarball', () => {
  it('every module of the package can be the first one a program imports (no import circle that leaves a class uninitialised)', () => {
    // An import circle shows only from some entry points: the bin, say, importing an engine first.
    const installed = join(work, 'esm', 'node_modules', 'nestjs-django-session', 'dist', 'src');
    const modules = tarballFiles.filter((f) => /^package\/dist\/src\/.*\.js$/.test(f)).map((f) => join(installed, f.slice('package/dist/src/'.length)));
    expect(modules.length).toBeGreaterThan(30);
    const failed = modules.flatMap((file) => {
      if (file.endsWith(join('cli', 'bin.js'))) return []; // runs the command line (its tests are below)
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(file).href)})`], { encoding: 'utf8', timeout: 30_000 });
      return run.status === 0 ? [] : [`${file}: ${run.stderr.split('\n').find((line) => /Error/.test(line)) ?? run.stderr}`];
    });
    expect(failed).toEqual([]);
  }, 120_000);

  it('carries the LICENSE its package.json names', () => {
    expect(tarballFiles).toContain('package/LICENSE');
    expect(readFileSync(join(unpacked, 'package', 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 nestjs-django-session contributors\n/);
  });

  it("ships only the library: not the demo, not the repository's own data source (which points at ./app.sqlite3)", () => {
    expect(tarballFiles.filter((f) => /data-source\.|\/demo\/|\/examples\//.test(f))).toEqual([]);
    expect(tarballFiles.filter((f) => f.startsWith('package/dist/') && !/^package\/dist\/(src|migrations)\//.test(f))).toEqual([]);
  });

  it('ships source maps whose sources are in the package', () => {
    const maps = tarballFiles.filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(0);
    const unresolved = maps.flatMap((f) => {
      const map = JSON.parse(readFileSync(join(unpacked, f), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[]; sourceRoot?: string };
      return map.sources
        .filter((source, i) => typeof map.sourcesContent?.[i] !== 'string' && !existsSync(resolve(dirname(join(unpacked, f)), map.sourceRoot ?? '', source)))
        .map((source) => `${f}: ${source}`);
    });
    expect(unresolved).toEqual([]);
  });
});

/** A fresh sqlite file with `django_session`, through the repository's migration. */
async function withDatabase<T>(database: string, use: (dataSource: DataSource) => Promise<T>): Promise<T> {
  const dataSource = new DataSource({ type: 'sqlite', database, migrations: [CreateDjangoSession1700000000000] });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
    return await use(dataSource);
  } finally {
    await dataSource.destroy();
  }
}

const LIVE = 'liveliveliveliveliveliveliveliv1';
const insertExpired = (dataSource: DataSource, ...keys: string[]) =>
  dataSource.query(
    `INSERT INTO django_session (session_key, session_data, expire_date) VALUES ${keys.map(() => "(?, 'e30', '2001-01-01 00:00:00.5')").join(', ')}`,
    keys,
  );
const sessionKeys = async (dataSource: DataSource) =>
  ((await dataSource.query('SELECT session_key FROM django_session ORDER BY session_key')) as { session_key: string }[]).map((r) => r.session_key);

describe.each(Object.keys(FORMATS))('the installed django-session bin in a %s app', (format) => {
  const dir = join(work, format);
  const LAUNCHERS = {
    'node_modules/.bin/django-session': (args: string[], env: Record<string, string> = {}) =>
      spawnSync(join(dir, 'node_modules', '.bin', 'django-session'), args, { cwd: dir, env: npmEnv(env), encoding: 'utf8' }),
    'npx --no-install django-session': (args: string[], env: Record<string, string> = {}) =>
      spawnSync('npx', ['--no-install', 'django-session', ...args], { cwd: dir, env: npmEnv(env), encoding: 'utf8' }),
  };
  let db: string;
  beforeEach(() => (db = mkdtempSync(join(tmpdir(), 'djs-clear-'))));
  afterEach(() => rmSync(db, { recursive: true, force: true }));

  it("is installed by npm as a symlink to the package's bin file (which is what the CLI must cope with)", () => {
    const bin = join(dir, 'node_modules', '.bin', 'django-session');
    const pkg = join(dir, 'node_modules', 'nestjs-django-session');
    const { bin: bins } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(lstatSync(bin).isSymbolicLink()).toBe(true);
    expect(realpathSync(bin)).toBe(realpathSync(join(pkg, bins['django-session']!)));
  });

  describe.each(Object.keys(LAUNCHERS) as (keyof typeof LAUNCHERS)[])('run as %s', (launcher) => {
    const run = LAUNCHERS[launcher];

    it.each(['dist/data-source.js', 'data-source.cjs', 'named-data-source.mjs'])(
      'clearsessions -d %s deletes the expired rows, keeps the live one and prints the count',
      async (file) => {
        const database = join(db, 'app.sqlite3');
        await withDatabase(database, async (dataSource) => {
          await dataSource.query(`INSERT INTO django_session VALUES (?, 'e30', '2999-01-01 00:00:00')`, [LIVE]);
          await insertExpired(dataSource, 'expiredexpiredexpiredexpired0001', 'expiredexpiredexpiredexpired0002');
          expect(await sessionKeys(dataSource)).toHaveLength(3);
        });
        const first = run(['clearsessions', '-d', file], { SQLITE_PATH: database });
        expect({ status: first.status, stdout: first.stdout, stderr: first.stderr }).toEqual({ status: 0, stdout: 'Deleted 2 expired sessions.\n', stderr: expect.any(String) });
        await withDatabase(database, async (dataSource) => {
          expect(await sessionKeys(dataSource)).toEqual([LIVE]);
          await insertExpired(dataSource, 'expiredexpiredexpiredexpired0003');
          expect(await sessionKeys(dataSource)).toHaveLength(2);
        });
        const second = run(['clearsessions', '--dataSource', file], { SQLITE_PATH: database });
        expect({ status: second.status, stdout: second.stdout, stderr: second.stderr }).toEqual({ status: 0, stdout: 'Deleted 1 expired session.\n', stderr: expect.any(String) });
        await withDatabase(database, async (dataSource) => expect(await sessionKeys(dataSource)).toEqual([LIVE]));
      },
      30_000,
    );

    it('clearsessions -m <app module> sweeps the engine the app configures (file), and says when an engine has nothing to sweep (signed_cookies)', async () => {
      const codec = new SessionCodec({ secretKey: 'consumer-secret' });
      writeFileSync(join(db, `sessionid${LIVE}`), codec.encode({ a: 1 }));
      for (const key of ['expiredexpiredexpiredexpired0001', 'expiredexpiredexpiredexpired0002']) {
        writeFileSync(join(db, `sessionid${key}`), codec.encode({ a: 1 }));
        utimesSync(join(db, `sessionid${key}`), new Date('2001-01-01'), new Date('2001-01-01'));
      }
      const swept = run(['clearsessions', '-m', 'file-app.module.mjs'], { SESSION_DIR: db, ENGINE: 'file' });
      expect({ status: swept.status, stdout: swept.stdout }).toEqual({ status: 0, stdout: 'Deleted 2 expired sessions.\n' });
      // The app's boot warning (its key is weak) goes to stderr, out of the answer scripts read.
      expect(swept.stderr).toMatch(/^WARN \[SessionModule\] secretKey has fewer than 50 characters/);
      expect(readdirSync(db)).toEqual([`sessionid${LIVE}`]);
      const none = run(['clearsessions', '--module', 'file-app.module.mjs'], { SESSION_DIR: db, ENGINE: 'signed_cookies' });
      expect({ status: none.status, stdout: none.stdout }).toEqual({ status: 0, stdout: 'The signed_cookies engine expires sessions by itself: nothing to clear.\n' });
    }, 30_000);

    it.each([[[]], [['clearsessions']], [['clearsessions', '-d']], [['clearsessions', '-m']], [['clearsessions', '-m', 'a.js', '-d', 'b.js']], [['flushsessions', '-d', 'dist/data-source.js']]])(
      'prints the usage and exits with 2 when called with %j',
      (args) => {
        const result = run(args);
        expect({ status: result.status, stdout: result.stdout }).toEqual({ status: 2, stdout: '' });
        expect(result.stderr).toMatch(/^Usage: django-session clearsessions \(-m <app module file> \| -d <data-source file>\)\n/);
      },
    );
  });
});
