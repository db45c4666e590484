/**
 * Passport, unmodified, on `req.session` (`requestSession: true`): Express with `passport` +
 * `passport-local` + `@nestjs/passport` (a `LocalAuthGuard` that calls `super.logIn()`, a
 * `PassportSerializer`, `app.use(passport.session())`), Fastify with `@fastify/passport`
 * (`initialize()` + `secureSession()` registered after `NestFactory.create`). Real HTTP, a real
 * SQLite file: log in → a new session key (no fixation) → `req.user` on the next request → log out
 * → the old key is dead and the next request is anonymous. The app: test/support/passport-app.ts.
 */
import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { PassportSerializer } from '@nestjs/passport';
import { PLATFORMS, sqliteAppPerSuite } from '../support/app.js';
import { expectAliceLoggedInUnderANewKey, fastifyAuthenticator, itRefusesAWrongPassword, nestLocalStrategy, startPassportApp } from '../support/passport-app.js';

const SECRET = 'passport-e2e-secret';

interface User {
  id: number;
  username: string;
}
const USERS: Array<User & { secret: string }> = [
  { id: 1, username: 'alice', secret: 'wonderland' },
  { id: 2, username: 'bob', secret: 'builder' },
];
const verify = (username: string, password: string): User | false => {
  const found = USERS.find((u) => u.username === username && u.secret === password);
  return found ? { id: found.id, username: found.username } : false;
};
const byId = (id: unknown): User | false => {
  const found = USERS.find((u) => u.id === id);
  return found ? { id: found.id, username: found.username } : false;
};

// ---- Express: passport + passport-local + @nestjs/passport ---------------------------------------

const NestLocalStrategy = nestLocalStrategy(verify);

@Injectable()
class UserSerializer extends PassportSerializer {
  serializeUser(user: User, done: (error: unknown, id?: number) => void): void {
    done(null, user.id);
  }
  deserializeUser(id: number, done: (error: unknown, user?: User | false) => void): void {
    done(null, byId(id));
  }
}

// ---- Fastify: @fastify/passport ------------------------------------------------------------------

const fastifyPassport = fastifyAuthenticator(verify);
fastifyPassport.registerUserSerializer(async (user: User) => user.id);
fastifyPassport.registerUserDeserializer(async (id: number) => byId(id) || null);

describe.each(PLATFORMS)('Passport on req.session (%s)', (platform) => {
  const t = sqliteAppPerSuite(`passport-${platform}`, SECRET, (file) =>
    startPassportApp({ platform, file, secretKey: SECRET, fastifyPassport, providers: platform === 'express' ? [NestLocalStrategy, UserSerializer] : [] }),
  );
  const { dataOf, holding } = t;

  it('log in → a new key (no fixation), req.user on the next request; log out → the old key is dead, the next request anonymous', async () => {
    const client = t.client();
    await client.post('/visit');
    const planted = client.sessionKey;
    expect(planted).toMatch(/^[a-z0-9]{32}$/);

    const loggedIn = await expectAliceLoggedInUnderANewKey(t, client, planted);
    // passport keeps { user } under 'passport'; @fastify/passport the serialized user itself.
    expect(await dataOf(loggedIn)).toEqual({ passport: platform === 'express' ? { user: 1 } : 1 });
    // The planted key is worth nothing.
    expect((await holding(planted).get('/me')).json()).toEqual({ user: null, authenticated: false });

    expect((await client.get('/me')).json()).toEqual({ user: { id: 1, username: 'alice' }, authenticated: true });
    expect((await client.get('/me')).json().user).toEqual({ id: 1, username: 'alice' });

    const logout = await client.post('/logout');
    expect(logout.status).toBe(200);
    expect(logout.json()).toEqual({ user: null });
    expect(await dataOf(loggedIn)).toBeUndefined();
    // The old cookie is anonymous; so is whatever the client holds now.
    expect((await holding(loggedIn).get('/me')).json()).toEqual({ user: null, authenticated: false });
    expect((await client.get('/me')).json()).toEqual({ user: null, authenticated: false });
    if (client.sessionKey !== undefined) {
      expect(client.sessionKey).not.toBe(loggedIn);
      expect((await dataOf(client.sessionKey))?.passport).toBeUndefined();
    }
  });

  it('keepSessionInfo: the data logged in with survives under the new key (regenerate(keys) on Fastify)', async () => {
    const client = t.client();
    await client.post('/visit');
    await client.post('/visit');
    const planted = client.sessionKey;
    await client.post('/login?keep', { username: 'alice', password: 'wonderland' });
    expect(client.sessionKey).not.toBe(planted);
    expect(await dataOf(planted)).toBeUndefined();
    expect(await dataOf(client.sessionKey)).toEqual({ visits: 2, passport: platform === 'express' ? { user: 1 } : 1 });
    expect((await client.get('/me')).json().user).toEqual({ id: 1, username: 'alice' });
  });

  itRefusesAWrongPassword(t);

  it('a login without a prior session, then another user on the same browser: each login a new key', async () => {
    const client = t.client();
    await client.post('/login', { username: 'alice', password: 'wonderland' });
    const first = client.sessionKey;
    expect((await client.get('/me')).json().user).toEqual({ id: 1, username: 'alice' });
    await client.post('/login', { username: 'bob', password: 'builder' });
    expect(client.sessionKey).not.toBe(first);
    expect(await dataOf(first)).toBeUndefined();
    expect((await client.get('/me')).json().user).toEqual({ id: 2, username: 'bob' });
  });

  it('a session whose user is gone: anonymous (the deserializer says no user)', async () => {
    const client = t.client();
    USERS.push({ id: 3, username: 'carol', secret: 'c' });
    await client.post('/login', { username: 'carol', password: 'c' });
    expect((await client.get('/me')).json().user).toEqual({ id: 3, username: 'carol' });
    USERS.pop();
    expect((await client.get('/me')).json()).toEqual({ user: null, authenticated: false });
  });
});
