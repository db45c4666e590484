/**
 * Passport, unmodified, on `req.session` (`requestSession: true`): Express with `passport` +
 * `passport-local` + `@nestjs/passport` (a `LocalAuthGuard` that calls `super.logIn()`, a
 * `PassportSerializer`, `app.use(passport.session())`), Fastify with `@fastify/passport`
 * (`initialize()` + `secureSession()` registered after `NestFactory.create`). Real HTTP, a real
 * SQLite file: log in → a new session key (no fixation) → `req.user` on the next request → log out
 * → the old key is dead and the next request is anonymous.
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
import { AuthGuard, PassportModule, PassportSerializer, PassportStrategy } from '@nestjs/passport';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Authenticator } from '@fastify/passport';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import sqlite3 from 'sqlite3';
import { CreateDjangoSession1700000000000, Session, SessionCodec, SessionEntity, SessionModule, type SessionStore } from '../../src/index.js';
import { Client, PLATFORMS, tempSqliteFile, type Platform } from '../support/app.js';
import { rm } from 'node:fs/promises';

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

@Injectable()
class NestLocalStrategy extends PassportStrategy(LocalStrategy) {
  validate(username: string, password: string): User {
    const user = verify(username, password);
    if (!user) throw new UnauthorizedException();
    return user;
  }
}

@Injectable()
class LocalAuthGuard extends AuthGuard('local') {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const result = (await super.canActivate(context)) as boolean;
    const request = context.switchToHttp().getRequest();
    if (request.query.keep === undefined) await super.logIn(request);
    // passport's keepSessionInfo: the new session gets the old one's data.
    else await new Promise<void>((resolve, reject) => request.logIn(request.user, { keepSessionInfo: true }, (e: unknown) => (e ? reject(e) : resolve())));
    return result;
  }
}

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

const fastifyPassport = new Authenticator();
fastifyPassport.use('local', new LocalStrategy((username, password, done) => done(null, verify(username, password))));
fastifyPassport.registerUserSerializer(async (user: User) => user.id);
fastifyPassport.registerUserDeserializer(async (id: number) => byId(id) || null);

/** `fastifyPassport.authenticate('local')` as a Nest guard: a failed login is Nest's 401. */
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
    await request.logIn(user, request.query.keep === undefined ? undefined : { keepSessionInfo: true });
    return true;
  }
}

// ---- the same controller on both ----------------------------------------------------------------

function controllerFor(platform: Platform) {
  const Guard = platform === 'express' ? LocalAuthGuard : FastifyLocalGuard;
  @Controller()
  class AuthController {
    /** Puts something in the session before any login (the key a fixation attack would plant). */
    @Post('visit')
    @HttpCode(200)
    visit(@Session() session: SessionStore) {
      session.set('visits', Number(session.get('visits', 0)) + 1);
      return { key: session.sessionKey };
    }

    @Post('login')
    @HttpCode(200)
    @UseGuards(Guard)
    login(@Req() request: any) {
      return { user: request.user };
    }

    /** No @Session(): Passport alone reads the session. */
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

async function start(platform: Platform, file: string): Promise<{ app: INestApplication; url: string }> {
  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'sqlite', database: file, entities: [SessionEntity], migrations: [CreateDjangoSession1700000000000], migrationsRun: true }),
      SessionModule.forRoot({ secretKey: SECRET, requestSession: true }),
      ...(platform === 'express' ? [PassportModule.register({ session: true })] : []),
    ],
    controllers: [controllerFor(platform)],
    providers: platform === 'express' ? [NestLocalStrategy, UserSerializer, LocalAuthGuard] : [FastifyLocalGuard],
  })
  class PassportAppModule {}
  let app: INestApplication;
  if (platform === 'fastify') {
    const fastifyApp = await NestFactory.create<NestFastifyApplication>(PassportAppModule, new FastifyAdapter(), { logger: false });
    await fastifyApp.register(fastifyPassport.initialize());
    await fastifyApp.register(fastifyPassport.secureSession());
    app = fastifyApp;
  } else {
    app = await NestFactory.create(PassportAppModule, { logger: false });
    app.use(passport.session());
  }
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

describe.each(PLATFORMS)('Passport on req.session (%s)', (platform) => {
  let app: INestApplication;
  let url: string;
  const file = tempSqliteFile(`passport-${platform}`);
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
    return row && new SessionCodec({ secretKey: SECRET }).decode(row.session_data).data;
  };

  /** Another browser, holding `key` (an attacker's copy of a cookie). */
  const holding = (key: string | undefined): Client => {
    const other = new Client(url);
    other.jar.set('sessionid', key!);
    return other;
  };

  beforeAll(async () => {
    ({ app, url } = await start(platform, file));
  });
  afterAll(async () => {
    await app?.close();
    await Promise.all(['', '-journal', '-wal', '-shm'].map((s) => rm(file + s, { force: true })));
  });

  it('log in → a new key (no fixation), req.user on the next request; log out → the old key is dead, the next request anonymous', async () => {
    const client = new Client(url);
    await client.post('/visit');
    const planted = client.sessionKey;
    expect(planted).toMatch(/^[a-z0-9]{32}$/);

    const login = await client.post('/login', { username: 'alice', password: 'wonderland' });
    expect(login.status).toBe(200);
    expect(login.json()).toEqual({ user: { id: 1, username: 'alice' } });
    const loggedIn = client.sessionKey;
    expect(loggedIn).toMatch(/^[a-z0-9]{32}$/);
    expect(loggedIn).not.toBe(planted);
    expect(await dataOf(planted)).toBeUndefined();
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
    const client = new Client(url);
    await client.post('/visit');
    await client.post('/visit');
    const planted = client.sessionKey;
    await client.post('/login?keep', { username: 'alice', password: 'wonderland' });
    expect(client.sessionKey).not.toBe(planted);
    expect(await dataOf(planted)).toBeUndefined();
    expect(await dataOf(client.sessionKey)).toEqual({ visits: 2, passport: platform === 'express' ? { user: 1 } : 1 });
    expect((await client.get('/me')).json().user).toEqual({ id: 1, username: 'alice' });
  });

  it('a wrong password: 401, no session created', async () => {
    const client = new Client(url);
    const before = (await rows()).length;
    const reply = await client.post('/login', { username: 'alice', password: 'nope' });
    expect(reply.status).toBe(401);
    expect(client.sessionKey).toBeUndefined();
    expect((await rows()).length).toBe(before);
  });

  it('a login without a prior session, then another user on the same browser: each login a new key', async () => {
    const client = new Client(url);
    await client.post('/login', { username: 'alice', password: 'wonderland' });
    const first = client.sessionKey;
    expect((await client.get('/me')).json().user).toEqual({ id: 1, username: 'alice' });
    await client.post('/login', { username: 'bob', password: 'builder' });
    expect(client.sessionKey).not.toBe(first);
    expect(await dataOf(first)).toBeUndefined();
    expect((await client.get('/me')).json().user).toEqual({ id: 2, username: 'bob' });
  });

  it('a session whose user is gone: anonymous (the deserializer says no user)', async () => {
    const client = new Client(url);
    USERS.push({ id: 3, username: 'carol', secret: 'c' });
    await client.post('/login', { username: 'carol', password: 'c' });
    expect((await client.get('/me')).json().user).toEqual({ id: 3, username: 'carol' });
    USERS.pop();
    expect((await client.get('/me')).json()).toEqual({ user: null, authenticated: false });
  });
});
