/**
 * `DjangoPassportSerializer`: Passport logins written as Django's (`_auth_user_id`,
 * `_auth_user_backend`, `_auth_user_hash`), and Django's logins read as Passport users. Express
 * with `passport` + `passport-local` + `@nestjs/passport`; Fastify with `@fastify/passport`. Real
 * HTTP, a real SQLite file, users with Django password hashes. The app: test/support/passport-app.ts.
 */
import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Authenticator } from '@fastify/passport';
import { SessionService } from '../../src/index.js';
import { MODEL_BACKEND, makeDjangoPassword, sessionAuthHash, verifyDjangoPassword } from '../../src/exports/auth.js';
import { DjangoPassportSerializer, useDjangoSessions } from '../../src/exports/passport.js';
import { PLATFORMS, sqliteAppPerSuite } from '../support/app.js';
import { expectAliceLoggedInUnderANewKey, fastifyAuthenticator, itRefusesAWrongPassword, nestLocalStrategy, startPassportApp } from '../support/passport-app.js';

const SECRET = 'passport-django-e2e-secret';

/** A row of Django's auth_user, as the app's repository would give it. */
interface AuthUser {
  id: number;
  username: string;
  password: string;
  is_active: boolean;
}
const USERS: AuthUser[] = [];
const PLAIN: Record<string, string> = { alice: 'wonderland', bob: 'builder', carol: 'c4rol' };
const publicUser = ({ password: _password, is_active: _active, ...user }: AuthUser) => user;

async function checkPassword(username: string, password: string): Promise<AuthUser | false> {
  const user = USERS.find((u) => u.username === username && u.is_active);
  return user !== undefined && (await verifyDjangoPassword(password, user.password)) ? user : false;
}

// ---- Express -----------------------------------------------------------------------------------

// No password hash in req.user: the manager finds it with findUser().
const NestLocalStrategy = nestLocalStrategy(async (username, password) => {
  const user = await checkPassword(username, password);
  return user && publicUser(user);
});

/** The app's serializer: how to find a user by the primary key Django stores, and what req.user is. */
@Injectable()
class UserSerializer extends DjangoPassportSerializer<AuthUser> {
  findUser(id: string): AuthUser | null {
    return USERS.find((u) => u.id === Number(id) && u.is_active) ?? null;
  }
  override toUser(user: AuthUser) {
    return publicUser(user);
  }
}

// ---- Fastify -----------------------------------------------------------------------------------

const fastifyPassport = fastifyAuthenticator(checkPassword);

@Injectable()
class FastifyUserSerializer extends UserSerializer {
  protected override getPassportInstance() {
    return fastifyPassport;
  }
}

beforeAll(async () => {
  let id = 0;
  for (const [username, plain] of Object.entries(PLAIN)) {
    USERS.push({ id: ++id, username, password: await makeDjangoPassword(plain, { iterations: 1000 }), is_active: true });
  }
});

describe.each(PLATFORMS)('DjangoPassportSerializer (%s)', (platform) => {
  const t = sqliteAppPerSuite(`passport-django-${platform}`, SECRET, (file) =>
    startPassportApp({
      platform,
      file,
      secretKey: SECRET,
      fastifyPassport,
      // Fastify logs in the whole auth_user row (no lookup needed for the hash); req.user has no hash.
      fastifyUser: publicUser,
      providers: platform === 'express' ? [NestLocalStrategy, UserSerializer] : [FastifyUserSerializer],
    }),
  );
  const { dataOf, holding } = t;
  const user = (name: string) => USERS.find((u) => u.username === name)!;
  const djangoKeys = (name: string) => ({
    _auth_user_id: String(user(name).id),
    _auth_user_backend: MODEL_BACKEND,
    _auth_user_hash: sessionAuthHash(user(name).password, SECRET),
  });
  /** A session as Django's login() leaves it, stored in the table (what Django itself would write). */
  const djangoLogin = async (data: Record<string, unknown>): Promise<string> => {
    const session = await t.app.get(SessionService).create(data);
    return session.sessionKey!;
  };
  const anonymous = { user: null, authenticated: false };

  it("a Passport login writes Django's keys under a new key (the data kept, as Django's cycle_key); req.user next; logout kills the key", async () => {
    const client = t.client();
    await client.post('/visit');
    const planted = client.sessionKey;

    const loggedIn = await expectAliceLoggedInUnderANewKey(t, client, planted);
    // Exactly what django.contrib.auth.login() stores; no `passport` key.
    expect(await dataOf(loggedIn)).toEqual({ visits: 1, ...djangoKeys('alice') });
    expect((await holding(planted).get('/me')).json()).toEqual(anonymous);

    expect((await client.get('/me')).json()).toEqual({ user: { id: 1, username: 'alice' }, authenticated: true });

    const logout = await client.post('/logout');
    expect(logout.json()).toEqual({ user: null });
    expect(client.sessionKey).toBeUndefined();
    expect(await dataOf(loggedIn)).toBeUndefined();
    expect((await holding(loggedIn).get('/me')).json()).toEqual(anonymous);
    expect((await client.get('/me')).json()).toEqual(anonymous);
  });

  it("a session logged in by Django's login() is a Passport user", async () => {
    const key = await djangoLogin({ ...djangoKeys('bob'), _language: 'fr' });
    const client = holding(key);
    expect((await client.get('/me')).json()).toEqual({ user: { id: 2, username: 'bob' }, authenticated: true });
    expect(client.sessionKey).toBe(key); // read only: nothing rewritten
    expect(await dataOf(key)).toEqual({ ...djangoKeys('bob'), _language: 'fr' });
  });

  it('another user logging in on the same browser: the first session is flushed, not reused', async () => {
    const client = t.client();
    await client.post('/login', { username: 'alice', password: 'wonderland' });
    await client.post('/visit');
    const alices = client.sessionKey;
    await client.post('/login', { username: 'bob', password: 'builder' });
    expect(client.sessionKey).not.toBe(alices);
    expect(await dataOf(alices)).toBeUndefined();
    expect(await dataOf(client.sessionKey)).toEqual(djangoKeys('bob')); // alice's visits are gone
    expect((await client.get('/me')).json().user).toEqual({ id: 2, username: 'bob' });
  });

  it("a password changed since the login: anonymous, and the session flushed (Django's get_user)", async () => {
    const client = t.client();
    await client.post('/login', { username: 'carol', password: 'c4rol' });
    const key = client.sessionKey;
    expect((await client.get('/me')).json().user).toEqual({ id: 3, username: 'carol' });
    const carol = user('carol');
    const before = carol.password;
    carol.password = await makeDjangoPassword('n3w', { iterations: 1000 });
    try {
      const reply = await client.get('/me');
      expect(reply.json()).toEqual(anonymous);
      expect(client.sessionKey).toBeUndefined(); // cookie deleted
      expect(await dataOf(key)).toBeUndefined();
    } finally {
      carol.password = before;
    }
  });

  it('a backend not in AUTHENTICATION_BACKENDS, an unknown user, a missing hash, an inactive user: anonymous', async () => {
    const other = await djangoLogin({ ...djangoKeys('bob'), _auth_user_backend: 'allauth.account.auth_backends.AuthenticationBackend' });
    expect((await holding(other).get('/me')).json()).toEqual(anonymous);
    expect(await dataOf(other)).toBeDefined(); // Django keeps it (another backend's login)

    const unknown = await djangoLogin({ ...djangoKeys('bob'), _auth_user_id: '999' });
    expect((await holding(unknown).get('/me')).json()).toEqual(anonymous);

    const { _auth_user_hash: _hash, ...noHash } = djangoKeys('bob');
    const unhashed = await djangoLogin(noHash);
    expect((await holding(unhashed).get('/me')).json()).toEqual(anonymous);
    expect(await dataOf(unhashed)).toBeUndefined(); // flushed, as Django does

    const bob = user('bob');
    bob.is_active = false;
    try {
      expect((await holding(await djangoLogin(djangoKeys('bob'))).get('/me')).json()).toEqual(anonymous);
    } finally {
      bob.is_active = true;
    }
  });

  itRefusesAWrongPassword(t);
});

describe('useDjangoSessions()', () => {
  it('refuses what is not a passport ≥ 0.6 or @fastify/passport instance, and a missing findUser', () => {
    expect(() => useDjangoSessions({ use() {} }, { findUser: () => null })).toThrow(/no session manager/);
    expect(() => useDjangoSessions(new Authenticator(), {} as never)).toThrow(/findUser/);
  });
});
