/**
 * The Nest side of the interop tests: a real Express app with SessionModule on the suite's
 * database, and the same routes as the Django project (test/interop/django_site), so a test can
 * run any step on either side. Run as a child process (see ../support/nest-process.ts) so its
 * time zone (TZ) is its own. Configured by the environment:
 *
 *   INTEROP_DB_URL             sqlite:////abs/file | postgres://... | mysql://...
 *   INTEROP_SECRET_KEY         secretKey (Django's SECRET_KEY)
 *   INTEROP_SECRET_FALLBACKS   JSON array: secretKeyFallbacks
 *   INTEROP_SESSION_ENGINE     engine: db (default) | cache | cached_db | signed_cookies | file
 *   INTEROP_REDIS_URL          cache, cached_db: the Redis server the app's client connects to
 *   INTEROP_REDIS_CLIENT       node-redis (default: `createClient({ url }).connect()`) | ioredis
 *   INTEROP_CACHE_PREFIX       cache.keyPrefix (Django's KEY_PREFIX)
 *   INTEROP_CACHE_SERIALIZER   cache.serializer: pickle | json
 *   INTEROP_CACHE_BACKEND      cache.backend: django_redis.cache.RedisCache (default) |
 *                              django.core.cache.backends.redis.RedisCache (Django's CACHES BACKEND)
 *   INTEROP_FILE_PATH          file: filePath (SESSION_FILE_PATH)
 *   INTEROP_DJANGO_VERSION     djangoVersion: the Django release under test ('3.2', '5.2', '6.1'; default the module's)
 *
 * The database is there on every engine: Django's auth_user lives in it (login, whoami), and
 * /store shows the django_session row (which only db and cached_db write).
 *
 * Prints {"port": N} once listening; exits when stdin closes (closing the app, then its Redis client).
 */
import 'reflect-metadata';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Body, Controller, Get, HttpCode, Injectable, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InjectDataSource, TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import {
  CreateDjangoSession1700000000000,
  Session,
  SessionEntity,
  SessionModule,
  SessionService,
  SessionStore,
  type EngineName,
  type SessionModuleOptions,
} from '../../../src/index.js';

const DB_URL = process.env.INTEROP_DB_URL ?? '';
const SECRET_KEY = process.env.INTEROP_SECRET_KEY ?? '';
const DJANGO_VERSION = (process.env.INTEROP_DJANGO_VERSION || undefined) as SessionModuleOptions['djangoVersion'];
const FALLBACKS = JSON.parse(process.env.INTEROP_SECRET_FALLBACKS ?? '[]') as string[];
const ENGINE = (process.env.INTEROP_SESSION_ENGINE || 'db') as EngineName;
const REDIS_URL = process.env.INTEROP_REDIS_URL ?? '';
const REDIS_CLIENT = process.env.INTEROP_REDIS_CLIENT || 'node-redis';
const CACHE_PREFIX = process.env.INTEROP_CACHE_PREFIX ?? '';
const CACHE_SERIALIZER = (process.env.INTEROP_CACHE_SERIALIZER || 'pickle') as 'pickle' | 'json';
const CACHE_BACKEND = (process.env.INTEROP_CACHE_BACKEND || undefined) as NonNullable<SessionModuleOptions['cache']>['backend'];
const FILE_PATH = process.env.INTEROP_FILE_PATH;

/** The app's own Redis client, as an app has it: connected before the module is made, closed after the app. */
interface AppRedis {
  client: unknown;
  close(): Promise<void>;
}

async function connectRedis(): Promise<AppRedis> {
  if (!REDIS_URL) throw new Error(`engine ${ENGINE} needs INTEROP_REDIS_URL`);
  if (REDIS_CLIENT === 'ioredis') {
    const { Redis } = await import('ioredis');
    const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', (error: Error) => process.stderr.write(`ioredis: ${error.message}\n`));
    await client.connect();
    return { client, close: async () => void (await client.quit()) };
  }
  if (REDIS_CLIENT !== 'node-redis') throw new Error(`INTEROP_REDIS_CLIENT: unsupported ${REDIS_CLIENT}`);
  const { createClient } = await import('redis');
  const client = createClient({ url: REDIS_URL });
  client.on('error', (error: Error) => process.stderr.write(`node-redis: ${error.message}\n`));
  await client.connect();
  return { client, close: () => client.close() };
}

/** SessionModule.forRoot's options for INTEROP_SESSION_ENGINE. */
function sessionOptions(redis: AppRedis | undefined): SessionModuleOptions {
  const options: SessionModuleOptions = { secretKey: SECRET_KEY, secretKeyFallbacks: FALLBACKS, engine: ENGINE, djangoVersion: DJANGO_VERSION };
  if (redis) options.cache = { client: redis.client, keyPrefix: CACHE_PREFIX, serializer: CACHE_SERIALIZER, ...(CACHE_BACKEND ? { backend: CACHE_BACKEND } : {}) };
  if (FILE_PATH) options.filePath = FILE_PATH;
  return options;
}

function typeOrmOptions(url: string): TypeOrmModuleOptions {
  const common = {
    entities: [SessionEntity],
    migrations: [CreateDjangoSession1700000000000],
    migrationsRun: true,
    logging: false as const,
  };
  if (url.startsWith('sqlite://')) return { type: 'sqlite', database: new URL(url).pathname, busyTimeout: 5000, ...common };
  if (url.startsWith('postgres')) return { type: 'postgres', url, ...common };
  // mysql2 turns DATETIME into a Date in the *process* zone unless told the column is UTC.
  if (url.startsWith('mysql')) return { type: 'mariadb', url, timezone: 'Z', ...common };
  throw new Error(`INTEROP_DB_URL: unsupported ${url}`);
}

const AUTH_HASH_SALT = 'django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash';

/** Django's `user.get_session_auth_hash()`: salted_hmac(key_salt, password, SECRET_KEY, 'sha256').hexdigest(). */
function sessionAuthHash(password: string): string {
  const key = createHash('sha256').update(AUTH_HASH_SALT + SECRET_KEY).digest();
  return createHmac('sha256', key).update(password).digest('hex');
}

interface DjangoUser {
  id: number;
  username: string;
  password: string;
}

function describeSession(session: SessionStore) {
  const data = Object.fromEntries(session.items());
  return {
    key: session.sessionKey,
    data,
    browser_close: session.getExpireAtBrowserClose(),
    expiry_age: session.getExpiryAge(),
    expiry_date: session.getExpiryDate().toISOString(),
  };
}

@Injectable()
class Users {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  find(where: { username: string } | { id: string }): Promise<DjangoUser | undefined> {
    const [column, value] = 'username' in where ? ['username', where.username] : ['id', Number(where.id)];
    return this.dataSource
      .createQueryBuilder()
      .select('u.id', 'id')
      .addSelect('u.username', 'username')
      .addSelect('u.password', 'password')
      .from('auth_user', 'u')
      .where(`u.${column} = :value`, { value })
      .getRawOne<DjangoUser>();
  }
}

@Controller()
class InteropController {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: Users,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  @Get('session')
  session(@Session() session: SessionStore) {
    return describeSession(session);
  }

  @Post('set')
  @HttpCode(200)
  set(@Session() session: SessionStore, @Body() body: Record<string, unknown>) {
    session.update(body);
    return describeSession(session);
  }

  @Post('pop')
  @HttpCode(200)
  pop(@Session() session: SessionStore, @Body() body: { key: string }) {
    session.pop(body.key, null);
    return describeSession(session);
  }

  @Post('expiry')
  @HttpCode(200)
  expiry(@Session() session: SessionStore, @Body() body: { seconds?: number; date?: string; reset?: boolean }) {
    if (body.reset) session.setExpiry(null);
    else if (body.date !== undefined) session.setExpiry(new Date(body.date));
    else session.setExpiry(Number(body.seconds));
    return describeSession(session);
  }

  /** What `django.contrib.auth.login()` writes, then `cycle_key()` against session fixation. */
  @Post('login')
  @HttpCode(200)
  async login(@Session() session: SessionStore, @Body() body: { username: string }) {
    const user = await this.users.find({ username: body.username });
    if (user === undefined) throw new Error(`no Django user ${body.username}`);
    session.set('_auth_user_id', String(user.id));
    session.set('_auth_user_backend', 'django.contrib.auth.backends.ModelBackend');
    session.set('_auth_user_hash', sessionAuthHash(user.password));
    await session.cycleKey();
    return describeSession(session);
  }

  @Post('logout')
  @HttpCode(200)
  async logout(@Session() session: SessionStore) {
    await session.flush();
    return describeSession(session);
  }

  /** Django's `request.user`: the user named by `_auth_user_id` whose password hash matches `_auth_user_hash`. */
  @Get('whoami')
  async whoami(@Session() session: SessionStore) {
    const id = session.get('_auth_user_id') as string | undefined;
    const hash = session.get('_auth_user_hash') as string | undefined;
    if (id === undefined || hash === undefined) return { user: null };
    const user = await this.users.find({ id });
    if (user === undefined) return { user: null };
    const expected = Buffer.from(sessionAuthHash(user.password));
    const given = Buffer.from(hash);
    return { user: expected.length === given.length && timingSafeEqual(expected, given) ? user.username : null };
  }

  @Post('cycle')
  @HttpCode(200)
  async cycle(@Session() session: SessionStore) {
    await session.cycleKey();
    return describeSession(session);
  }

  @Post('flush')
  @HttpCode(200)
  async flush(@Session() session: SessionStore) {
    await session.flush();
    return describeSession(session);
  }

  /** `SessionService.load(key)` outside the request cycle, plus the row through the TypeORM repository. */
  @Get('store/:key')
  async store(@Param('key') key: string) {
    const store = await this.sessions.load(key);
    const row = await this.dataSource.getRepository(SessionEntity).findOneBy({ sessionKey: key });
    return {
      ...describeSession(store),
      exists: await this.sessions.exists(key),
      row: row === null ? null : { expire_date: row.expireDate.toISOString(), session_data: row.sessionData, decoded: row.getDecoded() },
    };
  }

  @Post('clear-expired')
  @HttpCode(200)
  async clearExpired() {
    return { deleted: await this.sessions.clearExpired() };
  }

  /** The process's zone, so a test can check it really runs away from UTC. */
  @Get('tz')
  tz() {
    return { tz: process.env.TZ ?? null, offsetMinutes: new Date().getTimezoneOffset() };
  }
}

function appModule(session: SessionModuleOptions) {
  @Module({
    imports: [TypeOrmModule.forRoot(typeOrmOptions(DB_URL)), SessionModule.forRoot(session)],
    controllers: [InteropController],
    providers: [Users],
  })
  class InteropAppModule {}
  return InteropAppModule;
}

async function main(): Promise<void> {
  const redis = ENGINE === 'cache' || ENGINE === 'cached_db' ? await connectRedis() : undefined;
  const app = await NestFactory.create(appModule(sessionOptions(redis)), { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void app
      .close()
      .then(() => redis?.close())
      .finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
