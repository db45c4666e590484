/**
 * The Passport apps of the e2e suites (passport.e2e-spec.ts, passport-django.e2e-spec.ts), on
 * `req.session` (`requestSession: true`) over a SQLite file: Express with `passport` +
 * `passport-local` + `@nestjs/passport` (a `LocalAuthGuard` that calls `super.logIn()`,
 * `app.use(passport.session())`), Fastify with `@fastify/passport` (`initialize()` +
 * `secureSession()` registered after `NestFactory.create`). Each suite brings its users: how a
 * username and password are checked, and its serializer.
 *
 * The strategies and guards are also those of the Passport interop server
 * (test/interop/nest/passport-server.ts, run as its own process).
 *
 * Routes: POST /visit (counts visits in the session before any login), POST /login[?keep]
 * ({username, password}; `keep`: passport's keepSessionInfo), GET /me (`req.user`, read by Passport
 * alone), POST /logout.
 */
import 'reflect-metadata';
import {
  Controller,
  Get,
  HttpCode,
  Injectable,
  Post,
  Req,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type ModuleMetadata,
  type Provider,
  type Type,
} from '@nestjs/common';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Authenticator } from '@fastify/passport';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { Session, type SessionStore } from '../../src/index.js';
import { startSqliteApp, type Client, type Platform, type SqliteAppHandle } from './app.js';

/** A `@fastify/passport` instance (the package exports the class as a value only). */
export type FastifyPassport = InstanceType<typeof Authenticator>;

/** Checks a username and password: the user, or a falsy value when they do not match. */
export type CheckPassword = (username: string, password: string) => unknown;

// ---- Express: passport + passport-local + @nestjs/passport ---------------------------------------

/** A `passport-local` strategy for @nestjs/passport: `req.user` is what `check` gives (none: Nest's 401). */
export function nestLocalStrategy(check: CheckPassword): Type {
  @Injectable()
  class NestLocalStrategy extends PassportStrategy(LocalStrategy) {
    async validate(username: string, password: string): Promise<unknown> {
      const user = await check(username, password);
      if (!user) throw new UnauthorizedException();
      return user;
    }
  }
  return NestLocalStrategy;
}

/** `AuthGuard('local')` that logs the user in (`?keep`: with passport's keepSessionInfo: the new session gets the old one's data). */
@Injectable()
export class LocalAuthGuard extends AuthGuard('local') {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const result = (await super.canActivate(context)) as boolean;
    const request = context.switchToHttp().getRequest();
    if (request.query.keep === undefined) await super.logIn(request);
    else await new Promise<void>((resolve, reject) => request.logIn(request.user, { keepSessionInfo: true }, (e: unknown) => (e ? reject(e) : resolve())));
    return result;
  }
}

// ---- Fastify: @fastify/passport ------------------------------------------------------------------

/** A `@fastify/passport` instance whose 'local' strategy is `check`. */
export function fastifyAuthenticator(check: CheckPassword): FastifyPassport {
  const authenticator = new Authenticator();
  authenticator.use(
    'local',
    new LocalStrategy((username, password, done) => void Promise.resolve(check(username, password)).then((user) => done(null, user as Express.User | false), done)),
  );
  return authenticator;
}

/**
 * `authenticator.authenticate('local')` as a Nest guard: a failed login is Nest's 401; `?keep` logs
 * in with keepSessionInfo. `toUser`: what `req.user` is made of the user logged in (default: that user).
 */
export function fastifyLocalGuard(authenticator: FastifyPassport, toUser?: (user: any) => unknown): Type<CanActivate> {
  @Injectable()
  class FastifyLocalGuard implements CanActivate {
    async canActivate(context: ExecutionContext): Promise<boolean> {
      const http = context.switchToHttp();
      const request = http.getRequest();
      let user: unknown;
      const authenticate = authenticator.authenticate('local', async (_request, _reply, error, found) => {
        if (error) throw error;
        user = found;
      });
      await authenticate.call(request.server, request, http.getResponse());
      if (!user) throw new UnauthorizedException();
      await request.logIn(user, request.query.keep === undefined ? undefined : { keepSessionInfo: true });
      if (toUser) request.user = toUser(user);
      return true;
    }
  }
  return FastifyLocalGuard;
}

// ---- the same controller on both ----------------------------------------------------------------

function passportController(platform: Platform, guard: Type<CanActivate>): Type {
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
    @UseGuards(guard)
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

// ---- the app ------------------------------------------------------------------------------------

export interface PassportAppOptions {
  platform: Platform;
  /** The SQLite file (see `tempSqliteFile`); the caller deletes it (`removeSqliteFile`). */
  file: string;
  secretKey: string;
  /** The Fastify app's `@fastify/passport` instance (see `fastifyAuthenticator`). */
  fastifyPassport: FastifyPassport;
  /** Fastify: what `req.user` is made of the user logged in (see `fastifyLocalGuard`). */
  fastifyUser?: (user: any) => unknown;
  /** The suite's Passport providers on `platform` (Express: its strategy and serializer; Fastify: a serializer, if any). */
  providers: Provider[];
  /** More modules and controllers of the suite's own. */
  imports?: NonNullable<ModuleMetadata['imports']>;
  controllers?: Type[];
}

/** Starts the Passport app on 127.0.0.1, port 0. */
export function startPassportApp(options: PassportAppOptions): Promise<{ app: INestApplication; url: string }> {
  const { platform, fastifyPassport } = options;
  const guard = platform === 'express' ? LocalAuthGuard : fastifyLocalGuard(fastifyPassport, options.fastifyUser);
  return startSqliteApp({
    platform,
    file: options.file,
    session: { secretKey: options.secretKey, requestSession: true },
    imports: [...(platform === 'express' ? [PassportModule.register({ session: true })] : []), ...(options.imports ?? [])],
    controllers: [passportController(platform, guard), ...(options.controllers ?? [])],
    providers: [...options.providers, guard],
    async beforeListen(app) {
      if (platform === 'fastify') {
        const fastifyApp = app as NestFastifyApplication;
        await fastifyApp.register(fastifyPassport.initialize());
        await fastifyApp.register(fastifyPassport.secureSession());
      } else {
        app.use(passport.session());
      }
    },
  });
}

// ---- what both suites check ---------------------------------------------------------------------

/**
 * Logs `client`, holding the session `planted`, in as alice (id 1): 200 with alice as `req.user`,
 * a new key (no fixation), and `planted` no longer stored. Resolves to the new key.
 */
export async function expectAliceLoggedInUnderANewKey(t: SqliteAppHandle, client: Client, planted: string | undefined): Promise<string | undefined> {
  const login = await client.post('/login', { username: 'alice', password: 'wonderland' });
  expect(login.status).toBe(200);
  expect(login.json()).toEqual({ user: { id: 1, username: 'alice' } });
  const loggedIn = client.sessionKey;
  expect(loggedIn).toMatch(/^[a-z0-9]{32}$/);
  expect(loggedIn).not.toBe(planted);
  expect(await t.dataOf(planted)).toBeUndefined();
  return loggedIn;
}

/** The test of a failed login on the app `t` (alice's password is not 'nope'): 401, and no session stored. */
export function itRefusesAWrongPassword(t: SqliteAppHandle): void {
  it('a wrong password: 401, no session created', async () => {
    const client = t.client();
    const before = (await t.rows()).length;
    const reply = await client.post('/login', { username: 'alice', password: 'nope' });
    expect(reply.status).toBe(401);
    expect(client.sessionKey).toBeUndefined();
    expect((await t.rows()).length).toBe(before);
  });
}
