/**
 * Django's auth and Nest's src/auth on one SQLite file: passwords and logins made on either side
 * are honoured by the other, and a password changed by Django ends the Nest-made login. The
 * Django side is django.contrib.auth itself (test/interop/django_auth.py, Django 3.2); the Nest
 * side is a SessionService over the same file, reading auth_user with plain SQL.
 */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import {
  AUTH_SESSION_KEYS,
  getUser,
  login,
  logout,
  makeDjangoPassword,
  SessionEntity,
  SessionModule,
  SessionService,
  verifyDjangoPassword,
} from '../../src/index.js';
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
        SessionModule.forRoot({ secretKey: SECRET }),
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
});
