/**
 * `verifyDjangoPassword` in a live app: a login handler over a real SQLite `auth_user` table, on
 * Express and Fastify, with the hashes Django wrote (test/fixtures/django-auth/: argon2 at Django's
 * default cost, scrypt as Django 4.0+ writes it). The expensive hashes run off the event loop, a
 * few at a time: while logins hash, the app answers everything else; a planted row with an absurd
 * work factor is refused rather than computed; and past the waiting line a login is answered 503.
 */
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Body, Controller, Get, HttpCode, Post, UnauthorizedException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Session, type SessionStore } from '../../src/index.js';
import { AUTH_SESSION_KEYS, login, verifyDjangoPassword } from '../../src/exports/auth.js';
import { MAX_WAITING_PASSWORD_HASHES, PASSWORD_HASH_THREADS } from '../../src/auth/password-hash-pool.js';
import { PLATFORMS, SqliteFile, sqliteAppPerSuite, startSqliteApp } from '../support/app.js';

const SECRET = 'password-hashing-e2e-secret';

type Entry = [password: string, encoded: string, ...rest: unknown[]];
const readFixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/django-auth/${name}`, import.meta.url), 'utf8')) as { passwords: Entry[] };
const DJANGO = readFixture('hashes.json').passwords;
const SCRYPT = readFixture('scrypt.json').passwords;
const find = (entries: Entry[], password: string, prefix: string): string => entries.find(([p, e]) => p === password && e.startsWith(prefix))![1];

const PASSWORD = 'correct horse battery staple';
/** Django 3.2's Argon2PasswordHasher at its defaults (m=102400 KiB, t=2, p=8): ~0.4 s of one core. */
const ARGON2_DEFAULT = find(DJANGO, PASSWORD, 'argon2$argon2id$v=19$m=102400,t=2,p=8$');
/** argon2i at 512 KiB: a few milliseconds. */
const ARGON2_CHEAP = find(DJANGO, PASSWORD, 'argon2$argon2i$v=19$m=512,');
/** Django 5.1's ScryptPasswordHasher at its defaults (N=2^14, r=8, p=5). */
const SCRYPT_DEFAULT = find(SCRYPT, PASSWORD, 'scrypt$16384$jfNl8oHvAesXlaJVN0kMTB$8$5$');
/** scrypt at the limit: N·r·p = 2^14·8·16 = 2^21. */
const SCRYPT_AT_LIMIT = find(SCRYPT, PASSWORD, 'scrypt$16384$xTtXJ26iVefuKswgtYVIJz$8$16$');

/** auth_user rows: [id, username, password]. */
const USERS: Array<[number, string, string]> = [
  [1, 'alice', ARGON2_DEFAULT],
  [2, 'bob', SCRYPT_DEFAULT],
  [3, 'carol', ARGON2_CHEAP],
  [4, 'dave', SCRYPT_AT_LIMIT],
  // Planted rows, each past a limit (well within the limits they had before): computing them would
  // take seconds to minutes, and gigabytes.
  [10, 'argon2-passes', 'argon2$argon2id$v=19$m=262144,t=8,p=8$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
  [11, 'argon2-memory', 'argon2$argon2id$v=19$m=1048576,t=100,p=8$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA'],
  [12, 'bcrypt-cost', 'bcrypt_sha256$$2b$15$' + 'a'.repeat(53)],
];
/** dave's row with N doubled: one step past the limit. */
const SCRYPT_PAST_LIMIT = SCRYPT_AT_LIMIT.replace('scrypt$16384$', 'scrypt$32768$');

/** Django's login view, in short: find the user, check the password, log in. */
@Controller()
class LoginController {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  @Post('login')
  @HttpCode(200)
  async logIn(@Session() session: SessionStore, @Body() body: { username?: unknown; password?: unknown }) {
    const [user] = (await this.db.query('SELECT id, password FROM auth_user WHERE username = ?', [String(body.username)])) as Array<{ id: number; password: string }>;
    if (!(await verifyDjangoPassword(String(body.password), user?.password ?? '')) || user === undefined) throw new UnauthorizedException();
    await login(session, user);
    return { id: user.id };
  }

  /** What every other request of the app stands for: no password, no I/O. */
  @Get('ping')
  ping() {
    return { pong: true };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(PLATFORMS)('verifyDjangoPassword in a live app (%s)', (platform) => {
  const t = sqliteAppPerSuite(`password-hashing-${platform}`, SECRET, (file) =>
    startSqliteApp({ platform, file, session: { secretKey: SECRET }, controllers: [LoginController] }),
  );

  beforeAll(async () => {
    const db = await SqliteFile.open(t.file);
    try {
      await db.run('CREATE TABLE auth_user (id INTEGER PRIMARY KEY, username VARCHAR(150) NOT NULL UNIQUE, password VARCHAR(128) NOT NULL)');
      for (const row of USERS) await db.run('INSERT INTO auth_user (id, username, password) VALUES (?, ?, ?)', row);
    } finally {
      await db.close();
    }
  });

  it("argon2 (Django's defaults) and scrypt (Django 5.1's) users log in with their password: 200 and Django's login keys", async () => {
    for (const [id, username] of [
      [1, 'alice'],
      [2, 'bob'],
    ] as const) {
      const client = t.client();
      const reply = await client.post('/login', { username, password: PASSWORD });
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual({ id });
      expect((await t.dataOf(client.sessionKey))?.[AUTH_SESSION_KEYS.userId]).toBe(String(id));
      expect((await t.client().post('/login', { username, password: PASSWORD + '!' })).status).toBe(401);
    }
  });

  it("8 concurrent wrong passwords for an argon2 user (Django's default cost, ~0.4 s each): other requests are answered meanwhile: each within 1 s, in 100 ms on average", async () => {
    let hashing = true;
    const logins = Promise.all(Array.from({ length: 8 }, (_, i) => t.client().post('/login', { username: 'alice', password: `wrong ${i}` }))).finally(() => {
      hashing = false;
    });
    const latencies: number[] = [];
    while (hashing) {
      const started = performance.now();
      const reply = await t.client().get('/ping');
      latencies.push(performance.now() - started);
      expect(reply.status).toBe(200);
      await sleep(20);
    }
    expect((await logins).map((reply) => reply.status)).toEqual(Array(8).fill(401));
    // The eight checks took a while (~2 s on two threads); the app answered all along. Were they on
    // the event loop, each request would wait for a whole check (~0.4 s, more on a busy machine):
    // a handful of answers in all. Off it, requests wait only for the machine's own scheduling
    // (a few ms; now and then a few hundred on a busy shared machine).
    expect(latencies.length).toBeGreaterThanOrEqual(5);
    expect(latencies.reduce((sum, latency) => sum + latency, 0) / latencies.length).toBeLessThan(100);
    expect(Math.max(...latencies)).toBeLessThan(1_000);
  }, 60_000);

  it.each(USERS.filter(([id]) => id >= 10).map(([, username, encoded]) => [username, encoded.slice(0, 44)]))(
    'a planted row past the limits (%s: %s…) is refused, not computed: 401 within 2 s',
    async (username) => {
      const started = performance.now();
      const reply = await t.client().post('/login', { username, password: 'anything' });
      expect(reply.status).toBe(401);
      expect(performance.now() - started).toBeLessThan(2_000);
    },
  );

  it('scrypt: a row at the limit (N·r·p = 2^21) is computed, and logs in; one step past it is refused, not computed: 401 within 2 s', async () => {
    expect((await t.client().post('/login', { username: 'dave', password: PASSWORD })).status).toBe(200);
    const db = await SqliteFile.open(t.file);
    try {
      await db.run('UPDATE auth_user SET password = ? WHERE username = ?', [SCRYPT_PAST_LIMIT, 'dave']);
      const started = performance.now();
      expect((await t.client().post('/login', { username: 'dave', password: PASSWORD })).status).toBe(401);
      expect(performance.now() - started).toBeLessThan(2_000);
    } finally {
      await db.run('UPDATE auth_user SET password = ? WHERE username = ?', [SCRYPT_AT_LIMIT, 'dave']);
      await db.close();
    }
  });

  it(`with ${PASSWORD_HASH_THREADS} hashing and ${MAX_WAITING_PASSWORD_HASHES} waiting, a login is answered 503 at once (not 401), and logins work again after`, async () => {
    // Fill the process's line (the app runs in this process): two slow checks hash, the cheap rest wait.
    const line = [
      ...Array.from({ length: PASSWORD_HASH_THREADS }, () => verifyDjangoPassword('wrong', ARGON2_DEFAULT)),
      ...Array.from({ length: MAX_WAITING_PASSWORD_HASHES }, () => verifyDjangoPassword('wrong', ARGON2_CHEAP)),
    ];
    const busy = await t.client().post('/login', { username: 'carol', password: PASSWORD });
    expect(busy.status).toBe(503);
    expect(busy.json()).toEqual({ statusCode: 503, message: 'Too many password checks are waiting. Try again shortly.' });
    expect(busy.setCookies).toEqual([]);

    // Nothing in the line was dropped: each answers for itself.
    expect(await Promise.all(line)).toEqual(Array(line.length).fill(false));
    const client = t.client();
    const reply = await client.post('/login', { username: 'carol', password: PASSWORD });
    expect(reply.status).toBe(200);
    expect((await t.dataOf(client.sessionKey))?.[AUTH_SESSION_KEYS.userId]).toBe('3');
  }, 60_000);
});
