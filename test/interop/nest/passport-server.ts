/**
 * The Nest side of the Passport interop test (../passport.spec.ts): Passport logins on Django's
 * users (auth_user, read with SQL) through `DjangoPassportSerializer`. Express: `passport` +
 * `passport-local` + `@nestjs/passport`; Fastify: `@fastify/passport`, with the strategies and
 * guards of the e2e suites (test/support/passport-app.ts). Compiled with the rest of
 * test/interop/nest (and test/support) by ../support/build.ts. Configured by the environment:
 *
 *   INTEROP_DB_URL            sqlite:////abs/file | postgres://... | mysql://...
 *   INTEROP_SECRET_KEY        secretKey (Django's SECRET_KEY)
 *   INTEROP_DJANGO_VERSION    djangoVersion: the Django release under test (default the module's)
 *   INTEROP_PASSPORT_PLATFORM express (default) | fastify
 *
 * Routes: POST /login {username, password} (the password checked against auth_user.password),
 * GET /me (`req.user`), POST /logout. Prints {"port": N} once listening; exits when stdin closes.
 */
import 'reflect-metadata';
import { Controller, Get, HttpCode, Injectable, Module, Post, Req, UseGuards, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { InjectDataSource, TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import passport from 'passport';
import type { DataSource } from 'typeorm';
import { CreateDjangoSession1700000000000, SessionEntity, SessionModule, type SessionModuleOptions } from '../../../src/index.js';
import { verifyDjangoPassword } from '../../../src/exports/auth.js';
import { DjangoPassportSerializer } from '../../../src/exports/passport.js';
import { fastifyAuthenticator, fastifyLocalGuard, LocalAuthGuard, nestLocalStrategy } from '../../support/passport-app.js';

const DB_URL = process.env.INTEROP_DB_URL ?? '';
const SECRET_KEY = process.env.INTEROP_SECRET_KEY ?? '';
const DJANGO_VERSION = (process.env.INTEROP_DJANGO_VERSION || undefined) as SessionModuleOptions['djangoVersion'];
const PLATFORM = process.env.INTEROP_PASSPORT_PLATFORM || 'express';

function typeOrmOptions(url: string): TypeOrmModuleOptions {
  const common = { entities: [SessionEntity], migrations: [CreateDjangoSession1700000000000], migrationsRun: true, logging: false as const };
  if (url.startsWith('sqlite://')) return { type: 'sqlite', database: new URL(url).pathname, busyTimeout: 5000, ...common };
  if (url.startsWith('postgres')) return { type: 'postgres', url, ...common };
  if (url.startsWith('mysql')) return { type: 'mariadb', url, timezone: 'Z', ...common };
  throw new Error(`INTEROP_DB_URL: unsupported ${url}`);
}

/** A row of Django's auth_user. */
interface DjangoUser {
  id: number;
  username: string;
  password: string;
  is_active: boolean | number;
}

/** What `req.user` is: no password hash. */
const publicUser = (user: DjangoUser) => ({ id: Number(user.id), username: user.username });

@Injectable()
class Users {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** An active user (Django's ModelBackend refuses inactive ones). */
  async find(column: 'id' | 'username', value: string | number): Promise<DjangoUser | null> {
    const user = await this.dataSource
      .createQueryBuilder()
      .select(['u.id AS id', 'u.username AS username', 'u.password AS password', 'u.is_active AS is_active'])
      .from('auth_user', 'u')
      .where(`u.${column} = :value`, { value })
      .getRawOne<DjangoUser>();
    return user && user.is_active ? user : null;
  }

  /** ModelBackend.authenticate(): the user whose stored hash the password matches. */
  async check(username: string, password: string): Promise<DjangoUser | null> {
    const user = await this.find('username', username);
    return user && (await verifyDjangoPassword(password, user.password, { djangoVersion: DJANGO_VERSION })) ? user : null;
  }
}

// ---- Express: passport-local + @nestjs/passport; Fastify: @fastify/passport ------------------------

/** The app, once made: the strategies check passwords with its `Users` (only ever when a request comes). */
let app: INestApplication;
const checkPassword = (username: string, password: string) => app.get(Users).check(username, password);

/** passport-local on `passport` (what @nestjs/passport's `AuthGuard('local')` runs); `req.user` has no hash. */
const NestLocalStrategy = nestLocalStrategy(async (username, password) => {
  const user = await checkPassword(username, password);
  return user && publicUser(user);
});

@Injectable()
class UserSerializer extends DjangoPassportSerializer<DjangoUser> {
  constructor(private readonly users: Users) {
    super();
  }

  findUser(id: string) {
    return this.users.find('id', Number(id));
  }

  override toUser(user: DjangoUser) {
    return publicUser(user);
  }
}

/** passport-local on an @fastify/passport instance, and the guard that logs in with it. */
const fastifyPassport = fastifyAuthenticator(checkPassword);
const FastifyLocalGuard = fastifyLocalGuard(fastifyPassport);

@Injectable()
class FastifyUserSerializer extends UserSerializer {
  protected override getPassportInstance() {
    return fastifyPassport;
  }
}

// ---- the app ------------------------------------------------------------------------------------

@Controller()
class PassportController {
  @Post('login')
  @HttpCode(200)
  @UseGuards(PLATFORM === 'fastify' ? FastifyLocalGuard : LocalAuthGuard)
  login(@Req() request: any) {
    return { user: request.user?.username ?? null };
  }

  @Get('me')
  me(@Req() request: any) {
    return { user: request.user?.username ?? null, authenticated: request.isAuthenticated?.() ?? false };
  }

  @Post('logout')
  @HttpCode(200)
  async logout(@Req() request: any) {
    if (PLATFORM === 'fastify') await request.logout();
    else await new Promise<void>((resolve, reject) => request.logout((e: unknown) => (e ? reject(e) : resolve())));
    return { user: null };
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot(typeOrmOptions(DB_URL)),
    SessionModule.forRoot({ secretKey: SECRET_KEY, requestSession: true, djangoVersion: DJANGO_VERSION }),
    ...(PLATFORM === 'fastify' ? [] : [PassportModule.register({ session: true })]),
  ],
  controllers: [PassportController],
  providers: [Users, ...(PLATFORM === 'fastify' ? [FastifyUserSerializer, FastifyLocalGuard] : [NestLocalStrategy, UserSerializer, LocalAuthGuard])],
})
class PassportInteropModule {}

async function main(): Promise<void> {
  if (PLATFORM === 'fastify') {
    const fastifyApp = await NestFactory.create<NestFastifyApplication>(PassportInteropModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
    await fastifyApp.register(fastifyPassport.initialize());
    await fastifyApp.register(fastifyPassport.secureSession());
    app = fastifyApp;
  } else {
    app = await NestFactory.create(PassportInteropModule, { logger: ['error', 'warn'] });
    app.use(passport.session());
  }
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void app.close().finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
