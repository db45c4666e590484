/**
 * `DjangoPassportSerializer`: Passport logins written as Django's (`_auth_user_id`,
 * `_auth_user_backend`, `_auth_user_hash`), and Django's logins read as Passport users. Express
 * with `passport` + `passport-local` + `@nestjs/passport`; Fastify with `@fastify/passport`. Real
 * HTTP, a real SQLite file, users with Django password hashes.
 */
import 'reflect-metadata';
import {
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Post,
  Req,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Authenticator } from '@fastify/passport';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import sqlite3 from 'sqlite3';
import { rm } from 'node:fs/promises';
import {
  CreateDjangoSession1700000000000,
  DjangoPassportSerializer,
  MODEL_BACKEND,
  Session,
  SessionCodec,
  SessionEntity,
  SessionModule,
  SessionService,
  makeDjangoPassword,
  sessionAuthHash,
  useDjangoSessions,
  verifyDjangoPassword,
  type SessionStore,
} from '../../src/index.js';
import { Client, PLATFORMS, tempSqliteFile, type Platform } from '../support/app.js';

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

@Injectable()
class NestLocalStrategy extends PassportStrategy(LocalStrategy) {
  async validate(username: string, password: string) {
    const user = await checkPassword(username, password);
    if (!user) throw new UnauthorizedException();
    return publicUser(user); // no password hash: the manager finds it with findUser()
  }
}

@Injectable()
class LocalAuthGuard extends AuthGuard('local') {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const result = (await super.canActivate(context)) as boolean;
    await super.logIn(context.switchToHttp().getRequest());
    return result;
  }
}

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

const fastifyPassport = new Authenticator();
fastifyPassport.use('local', new LocalStrategy((username, password, done) => void checkPassword(username, password).then((u) => done(null, u), done)));

@Injectable()
class FastifyUserSerializer extends UserSerializer {
  protected override getPassportInstance() {
    return fastifyPassport;
  }
}

@Injectable()
class FastifyLocalGuard implements CanActivate {
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest();
    let user: unknown;
    const authenticate = fastifyPassport.authenticate('local', async (_request, _reply, error, found) => {
      if (error) throw error;
      user = found;
    });
    await authenticate.call(request.server, request, http.getResponse());
    if (!user) throw new UnauthorizedException();
    await request.logIn(user); // the whole auth_user row here: no lookup needed for the hash
    request.user = publicUser(user as AuthUser);
    return true;
  }
}

// ---- the app -----------------------------------------------------------------------------------

function controllerFor(platform: Platform) {
  const Guard = platform === 'express' ? LocalAuthGuard : FastifyLocalGuard;
  @Controller()
  class AuthController {
    @Post('visit')
    @HttpCode(200)
    visit(@Session() session: SessionStore) {
      session.set('visits', Number(session.get('visits', 0)) + 1);
      return {};
    }

    @Post('login')
    @HttpCode(200)
    @UseGuards(Guard)
    login(@Req() request: any) {
      return { user: request.user };
    }

    @Get('me')
    me(@Req() request: any) {
      return { user: request.user ?? null, authenticated: request.isAuthenticated?.() ?? false };
    }

    @Post('logout')
    @HttpCode(200)
    async logout(@Req() request: any) {
      if (platform === 'express') await new Promise<void>((resolve, reject) => request.logout((e: unknown) => (e ? reject(e) : resolve())));
      else await request.logout();
      return { user: request.user ?? null };
    }
  }
  return AuthController;
}

async function start(platform: Platform, file: string): Promise<INestApplication> {
  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'sqlite', database: file, entities: [SessionEntity], migrations: [CreateDjangoSession1700000000000], migrationsRun: true }),
      SessionModule.forRoot({ secretKey: SECRET, requestSession: true }),
      ...(platform === 'express' ? [PassportModule.register({ session: true })] : []),
    ],
    controllers: [controllerFor(platform)],
    providers: platform === 'express' ? [NestLocalStrategy, UserSerializer, LocalAuthGuard] : [FastifyUserSerializer, FastifyLocalGuard],
  })
  class DjangoPassportModule {}
  if (platform === 'fastify') {
    const app = await NestFactory.create<NestFastifyApplication>(DjangoPassportModule, new FastifyAdapter(), { logger: false });
    await app.register(fastifyPassport.initialize());
    await app.register(fastifyPassport.secureSession());
    return app;
  }
  const app = await NestFactory.create(DjangoPassportModule, { logger: false });
  app.use(passport.session());
  return app;
}

beforeAll(async () => {
  let id = 0;
  for (const [username, plain] of Object.entries(PLAIN)) {
    USERS.push({ id: ++id, username, password: await makeDjangoPassword(plain, { iterations: 1000 }), is_active: true });
  }
});

describe.each(PLATFORMS)('DjangoPassportSerializer (%s)', (platform) => {
  let app: INestApplication;
  let url: string;
  const file = tempSqliteFile(`passport-django-${platform}`);
  const codec = new SessionCodec({ secretKey: SECRET });
  const rows = (): Promise<Array<{ session_key: string; session_data: string }>> =>
    new Promise((resolve, reject) => {
      const db = new sqlite3.Database(file);
      db.all('SELECT session_key, session_data FROM django_session', (e, r) => {
        db.close();
        if (e) reject(e);
        else resolve(r as Array<{ session_key: string; session_data: string }>);
      });
    });
  const dataOf = async (key: string | undefined) => {
    const row = (await rows()).find((r) => r.session_key === key);
    return row && codec.decode(row.session_data).data;
  };
  const holding = (key: string | undefined): Client => {
    const other = new Client(url);
    other.jar.set('sessionid', key!);
    return other;
  };
  const user = (name: string) => USERS.find((u) => u.username === name)!;
  const djangoKeys = (name: string) => ({
    _auth_user_id: String(user(name).id),
    _auth_user_backend: MODEL_BACKEND,
    _auth_user_hash: sessionAuthHash(user(name).password, SECRET),
  });
  /** A session as Django's login() leaves it, stored in the table (what Django itself would write). */
  const djangoLogin = async (data: Record<string, unknown>): Promise<string> => {
    const session = await app.get(SessionService).create(data);
    return session.sessionKey!;
  };
  const anonymous = { user: null, authenticated: false };

  beforeAll(async () => {
    app = await start(platform, file);
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
    await Promise.all(['', '-journal', '-wal', '-shm'].map((s) => rm(file + s, { force: true })));
  });

  it("a Passport login writes Django's keys under a new key (the data kept, as Django's cycle_key); req.user next; logout kills the key", async () => {
    const client = new Client(url);
    await client.post('/visit');
    const planted = client.sessionKey;

    const login = await client.post('/login', { username: 'alice', password: 'wonderland' });
    expect(login.status).toBe(200);
    expect(login.json()).toEqual({ user: { id: 1, username: 'alice' } });
    const loggedIn = client.sessionKey;
    expect(loggedIn).toMatch(/^[a-z0-9]{32}$/);
    expect(loggedIn).not.toBe(planted);
    expect(await dataOf(planted)).toBeUndefined();
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
    const client = new Client(url);
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
    const client = new Client(url);
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

  it('a wrong password: 401, no session created', async () => {
    const client = new Client(url);
    const before = (await rows()).length;
    const reply = await client.post('/login', { username: 'alice', password: 'nope' });
    expect(reply.status).toBe(401);
    expect(client.sessionKey).toBeUndefined();
    expect((await rows()).length).toBe(before);
  });
});

describe('useDjangoSessions()', () => {
  it('refuses what is not a passport ≥ 0.6 or @fastify/passport instance, and a missing findUser', () => {
    expect(() => useDjangoSessions({ use() {} }, { findUser: () => null })).toThrow(/no session manager/);
    expect(() => useDjangoSessions(new Authenticator(), {} as never)).toThrow(/findUser/);
  });
});
