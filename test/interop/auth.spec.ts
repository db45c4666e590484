/**
 * Django's auth and Nest's src/auth on one SQLite file: passwords and logins made on either side
 * are honoured by the other, and a password changed by Django ends the Nest-made login. The
 * Django side is django.contrib.auth itself (test/interop/django_auth.py, each Django version);
 * the Nest side is a SessionService over the same file, reading auth_user with plain SQL, with
 * `djangoVersion` set to the Django under test.
 */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { SessionEntity, SessionModule, SessionService, type DjangoVersion, type SessionStore } from '../../src/index.js';
import { AUTH_SESSION_KEYS, getUser, login, logout, makeDjangoPassword, verifyDjangoPassword } from '../../src/exports/auth.js';
import { legacySessionAuthHash } from '../../src/auth/session-auth-hash.js';
import { saltedHmac } from '../../src/codec/signing.js';
import { tempSqliteFile } from '../support/app.js';
import { REPO_ROOT } from './support/build.js';
import { describeWithEachDjango } from './support/djangos.js';

const SECRET = 'interop-auth-secret-ünïcode';
const SCRIPT = join(REPO_ROOT, 'test', 'interop', 'django_auth.py');

interface AuthUser {
  id: number;
  password: string;
}

describeWithEachDjango(['django'], (django) => `${django} auth and Nest share users, passwords and logins (SQLite)`, ({ django: python }, version) => {
  const file = tempSqliteFile('interop-auth');
  const djangoVersion = version.release as DjangoVersion;
  let context: INestApplicationContext;
  let sessions: SessionService;
  let dataSource: DataSource;

  /** Runs one django_auth.py command on the shared file. */
  function django<T>(command: string, args: Record<string, unknown> = {}): Promise<T> {
    return new Promise((resolve, reject) => {
      execFile(
        python,
        [SCRIPT, file, SECRET, command, JSON.stringify(args)],
        { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONWARNINGS: 'ignore' }, timeout: 60_000 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`django_auth.py ${command} failed: ${error.message}\n${stderr}`));
          else resolve(JSON.parse(stdout) as T);
        },
      );
    });
  }

  /** Nest's user lookup: auth_user read with SQL, as an app's repository would. */
  async function findUser(id: string): Promise<AuthUser | null> {
    const rows = (await dataSource.query('SELECT id, password FROM auth_user WHERE id = ?', [Number(id)])) as AuthUser[];
    return rows[0] ?? null;
  }

  async function createUser(username: string, password: string, hasher?: string): Promise<AuthUser> {
    return django<AuthUser>('create_user', { username, password, ...(hasher ? { hasher } : {}) });
  }

  beforeAll(async () => {
    // Django makes every table first (auth_user, django_session...); Nest then opens the file.
    await django('migrate');
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'sqlite', database: file, entities: [SessionEntity], busyTimeout: 5_000 }),
        SessionModule.forRoot({ secretKey: SECRET, djangoVersion }),
      ],
    })
    class AuthInteropModule {}
    context = await NestFactory.createApplicationContext(AuthInteropModule, { logger: false, abortOnError: false });
    sessions = context.get(SessionService);
    dataSource = context.get<DataSource>(getDataSourceToken() as string);
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await Promise.all(['', '-journal', '-wal', '-shm'].map((s) => rm(file + s, { force: true })));
  });

  it('a user created by Django (create_user) logs in on Nest with the right password only', async () => {
    const alice = await createUser('alice', 'Tr0ub4dor & 3 ✓');
    expect(alice.password).toMatch(new RegExp(`^pbkdf2_sha256\\$${version.pbkdf2Iterations}\\$`));
    const stored = (await findUser(String(alice.id)))!;
    await expect(verifyDjangoPassword('Tr0ub4dor & 3 ✓', stored.password)).resolves.toBe(true);
    await expect(verifyDjangoPassword('Tr0ub4dor & 3', stored.password)).resolves.toBe(false);
    await expect(verifyDjangoPassword('', stored.password)).resolves.toBe(false);
  });

  it("users made by every hasher this Django can load are verified by Nest", async () => {
    const hashers = await django<string[]>('hashers');
    expect(hashers).toEqual(expect.arrayContaining(['pbkdf2_sha256', 'pbkdf2_sha1']));
    for (const hasher of hashers) {
      const user = await createUser(`user-${hasher}`, `pw of ${hasher} ✓`, hasher);
      expect(user.password.startsWith(`${hasher}$`)).toBe(true);
      await expect(verifyDjangoPassword(`pw of ${hasher} ✓`, user.password)).resolves.toBe(true);
      await expect(verifyDjangoPassword(`pw of ${hasher}`, user.password)).resolves.toBe(false);
    }
  });

  it("a password made by Nest (makeDjangoPassword) passes Django's check_password and authenticate()", async () => {
    const encoded = await makeDjangoPassword('made in Nest ✓');
    await expect(django('check_password', { password: 'made in Nest ✓', encoded })).resolves.toBe(true);
    await expect(django('check_password', { password: 'made in Nest', encoded })).resolves.toBe(false);

    const bob = await createUser('bob', 'a Django password');
    await dataSource.query('UPDATE auth_user SET password = ? WHERE id = ?', [encoded, bob.id]);
    await expect(django('authenticate', { username: 'bob', password: 'made in Nest ✓' })).resolves.toBe(bob.id);
    await expect(django('authenticate', { username: 'bob', password: 'a Django password' })).resolves.toBeNull();
  });

  it("a login made by Nest is Django's get_user(), with Django's own session auth hash", async () => {
    const carol = await createUser('carol', 'pw');
    const session = await sessions.create<Record<string, unknown>>({ cart: [1] });
    await login(session, (await findUser(String(carol.id)))!);
    await session.save();
    expect(session.get(AUTH_SESSION_KEYS.hash)).toBe(await django<string>('session_auth_hash', { id: carol.id }));
    await expect(django('get_user', { session_key: session.sessionKey })).resolves.toEqual({ id: carol.id, exists: true });
  });

  it("a login made by Django is Nest's getUser()", async () => {
    const dave = await createUser('dave', 'pw');
    const key = await django<string>('login', { id: dave.id });
    const session = await sessions.load(key);
    expect(session.get(AUTH_SESSION_KEYS.userId)).toBe(String(dave.id));
    await expect(getUser(session, findUser)).resolves.toEqual({ id: dave.id, password: dave.password });
  });

  it('after Django changes the password (set_password + save), the Nest-made login ends on both sides', async () => {
    const erin = await createUser('erin', 'old password');
    const forNest = await sessions.create();
    await login(forNest, (await findUser(String(erin.id)))!);
    await forNest.save();
    const forDjango = await sessions.create();
    await login(forDjango, (await findUser(String(erin.id)))!);
    await forDjango.save();
    await expect(getUser(await sessions.load(forNest.sessionKey!), findUser)).resolves.not.toBeNull();

    await django('set_password', { id: erin.id, password: 'new password' });

    const reopened = await sessions.load(forNest.sessionKey!);
    await expect(getUser(reopened, findUser)).resolves.toBeNull();
    // Flushed, as Django's get_user() does on a mismatch: the row is gone.
    await expect(sessions.exists(forNest.sessionKey!)).resolves.toBe(false);
    await expect(django('get_user', { session_key: forDjango.sessionKey })).resolves.toEqual({ id: null, exists: false });
  });

  it("Nest's logout() ends a Django-made login for Django too", async () => {
    const frank = await createUser('frank', 'pw');
    const key = await django<string>('login', { id: frank.id });
    await logout(await sessions.load(key));
    await expect(django('get_user', { session_key: key })).resolves.toEqual({ id: null, exists: false });
  });

  /** A user whose stored hash is `encoded`, logged in by Nest in another session (another device). */
  async function userWithPassword(username: string, encoded: string): Promise<{ user: AuthUser; elsewhere: SessionStore }> {
    const user = await createUser(username, 'a Django password');
    await dataSource.query('UPDATE auth_user SET password = ? WHERE id = ?', [encoded, user.id]);
    const elsewhere = await sessions.create();
    await login(elsewhere, (await findUser(String(user.id)))!);
    await elsewhere.save();
    return { user, elsewhere };
  }

  // Item 3 of issue 17: each Django re-hashes, at a login, a PBKDF2 password of another count than
  // its own (must_update), which changes _auth_user_hash and so ends the user's other sessions.
  it("a password Nest makes for this Django (djangoVersion) is kept as it is at the user's Django login, and the user's other sessions stay", async () => {
    const encoded = await makeDjangoPassword('for this Django ✓', { djangoVersion });
    expect(encoded).toMatch(new RegExp(`^pbkdf2_sha256\\$${version.pbkdf2Iterations}\\$`));
    const { user: grace, elsewhere } = await userWithPassword('grace', encoded);

    await expect(django('authenticate', { username: 'grace', password: 'for this Django ✓' })).resolves.toBe(grace.id);
    expect((await findUser(String(grace.id)))!.password).toBe(encoded);
    await expect(django('get_user', { session_key: elsewhere.sessionKey })).resolves.toEqual({ id: grace.id, exists: true });
    await expect(getUser(await sessions.load(elsewhere.sessionKey!), findUser)).resolves.toMatchObject({ id: grace.id });
  });

  it('a password made at another cost is re-hashed by the Django login, which ends the other sessions on both sides (why djangoVersion matters)', async () => {
    const encoded = await makeDjangoPassword('another cost ✓', { iterations: 1000 });
    const { user: heidi, elsewhere } = await userWithPassword('heidi', encoded);

    await expect(django('authenticate', { username: 'heidi', password: 'another cost ✓' })).resolves.toBe(heidi.id);
    const rehashed = (await findUser(String(heidi.id)))!.password;
    expect(rehashed).toMatch(new RegExp(`^pbkdf2_sha256\\$${version.pbkdf2Iterations}\\$`));
    await expect(verifyDjangoPassword('another cost ✓', rehashed, { djangoVersion })).resolves.toBe(true);
    await expect(django('get_user', { session_key: elsewhere.sessionKey })).resolves.toEqual({ id: null, exists: false });
    await expect(getUser(await sessions.load(elsewhere.sessionKey!), findUser)).resolves.toBeNull();
  });

  // Item 4: Django 3.2 accepts what Django < 3.1 wrote; 4.0 removed it. With djangoVersion set to
  // the Django under test, and no other option, both sides agree.
  const legacyAccepted = version.since < 400;

  it(`a login with the SHA-1 _auth_user_hash of Django < 3.1 is ${legacyAccepted ? 'kept by Django 3.2 and by Nest' : 'flushed by Django 4.0+ and by Nest'}`, async () => {
    const ivan = await createUser('ivan', 'pw');
    const { password } = (await findUser(String(ivan.id)))!;
    const sha1Login = async () =>
      (
        await sessions.create({
          [AUTH_SESSION_KEYS.userId]: String(ivan.id),
          [AUTH_SESSION_KEYS.backend]: 'django.contrib.auth.backends.ModelBackend',
          [AUTH_SESSION_KEYS.hash]: legacySessionAuthHash(password, SECRET),
        })
      ).sessionKey!;
    const [forDjango, forNest] = [await sha1Login(), await sha1Login()];

    await expect(django('get_user', { session_key: forDjango })).resolves.toEqual(legacyAccepted ? { id: ivan.id, exists: true } : { id: null, exists: false });
    const user = await getUser(await sessions.load(forNest), findUser);
    expect(user?.id ?? null).toBe(legacyAccepted ? ivan.id : null);
    await expect(sessions.exists(forNest)).resolves.toBe(legacyAccepted);
  });

  it(`session data in Django's pre-3.1 format is ${legacyAccepted ? 'read by Django 3.2 and by Nest' : 'discarded by Django 4.0+ and by Nest'}`, async () => {
    // standard_base64(hex HMAC-SHA1 + ':' + JSON), as Django < 3.1 wrote it (see test/unit/codec.spec.ts).
    const json = '{"plan":"pro","name":"Zo\\u00eb"}';
    const hash = saltedHmac('django.contrib.sessionsSessionStore', json, SECRET, 'sha1').toString('hex');
    const key = 'legacyformat' + 'x'.repeat(20);
    await dataSource.query('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)', [
      key,
      Buffer.from(`${hash}:${json}`, 'latin1').toString('base64'),
      '2099-01-01 00:00:00',
    ]);

    const expected = legacyAccepted ? { plan: 'pro', name: 'Zoë' } : {};
    await expect(django('session', { session_key: key })).resolves.toEqual(expected);
    expect(Object.fromEntries((await sessions.load(key)).items())).toEqual(expected);
  });
});
