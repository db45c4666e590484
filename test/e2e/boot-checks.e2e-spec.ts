/**
 * Start-up checks: a store the engine cannot use fails the boot with what to do, instead of the
 * app starting and every visitor meeting a 500 or a 503. The db and cached_db engines check that
 * `django_session` can be read (after TypeORM ran the app's migrations: `migrationsRun` apps
 * boot); the cache engines check that the Redis client is connected. On real stores: sqlite,
 * PostgreSQL, MariaDB, Redis.
 */
import 'reflect-metadata';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { Redis as IoRedis } from 'ioredis';
import { Redis as IoValkey } from 'iovalkey';
import { createClient } from 'redis';
import { CreateDjangoSession1700000000000, SessionEntity, SessionModule, type SessionModuleOptions } from '../../src/index.js';
import { createDatabase, type Database, type Engine } from '../interop/support/databases.js';
import { Client, tempSqliteFile, removeSqliteFile } from '../support/app.js';
import { describeWith, type Service } from '../support/env.js';
import { REDIS_CLIENTS, uniquePrefix } from '../support/redis.js';
import { startVisitApp } from '../support/session-app.js';

const SECRET = 'boot-checks-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

/** Boots an app of `session` over `typeorm` (no migrations unless given); resolves to the boot's error, or to the listening app. */
async function boot(session: SessionModuleOptions, typeorm?: TypeOrmModuleOptions): Promise<{ error: Error } | { app: INestApplication; url: string }> {
  @Module({ imports: [...(typeorm ? [TypeOrmModule.forRoot({ ...typeorm, entities: [SessionEntity], logging: false } as TypeOrmModuleOptions)] : []), SessionModule.forRoot(session)] })
  class BootModule {}
  const app = await NestFactory.create(BootModule, { logger: false, abortOnError: false });
  try {
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close().catch(() => undefined);
    return { error: error as Error };
  }
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

function bootError(result: Awaited<ReturnType<typeof boot>>): Error {
  if ('app' in result) {
    void result.app.close();
    throw new Error('the app booted');
  }
  return result.error;
}

interface Target {
  engine: Engine;
  services: Service[];
  typeorm(db: Database): TypeOrmModuleOptions;
}

const TARGETS: Target[] = [
  { engine: 'sqlite', services: [], typeorm: (db) => ({ type: 'sqlite', database: new URL(db.url).pathname }) },
  { engine: 'postgres', services: ['postgres'], typeorm: (db) => ({ type: 'postgres', url: db.url }) },
  { engine: 'mariadb', services: ['mysql'], typeorm: (db) => ({ type: 'mariadb', url: db.url }) },
];

for (const target of TARGETS) {
  describeWith(target.services, `the db engine's start-up check on ${target.engine}`, (env) => {
    let db: Database;
    beforeEach(async () => {
      const server = target.services[0];
      db = await createDatabase(target.engine, server ? env[server] : undefined, 'boot', 'x');
    }, 60_000);
    afterEach(() => db?.drop(), 60_000);

    it('without django_session the boot fails, naming the table and the migration; with migrationsRun the same app boots and serves', async () => {
      const error = bootError(await boot({ secretKey: SECRET }, target.typeorm(db)));
      expect(error.name).toBe('SessionConfigError');
      expect(error.message).toMatch(/django_session/);
      expect(error.message).toMatch(/does not exist/);
      expect(error.message).toMatch(/CreateDjangoSession1700000000000/);
      expect(error.message).toMatch(/migrationsRun: true/);
      expect(error.message).toMatch(/migrate sessions/);

      // The migration runs when TypeORM initialises the DataSource, before the check.
      const { app, url } = await startVisitApp({ secretKey: SECRET }, target.typeorm(db));
      try {
        const browser = new Client(url);
        expect((await browser.post('/visit', { write: true })).status).toBe(200);
        expect((await browser.post('/visit', {})).json()).toEqual({ visits: 1 });
      } finally {
        await app.close();
      }
    }, 60_000);
  });
}

describeWith(['redis'], "the cache engines' start-up check of the Redis client", ({ redis }) => {
  it('node-redis: a client never connected fails the boot of the cache engine, saying to connect() it; connected, it boots', async () => {
    const client = createClient({ url: redis });
    client.on('error', () => undefined);
    const cache = { client, keyPrefix: uniquePrefix('boot') };
    const error = bootError(await boot({ secretKey: SECRET, engine: 'cache', cache }));
    expect(error.name).toBe('SessionConfigError');
    expect(error.message).toMatch(/"cache\.client"/);
    expect(error.message).toMatch(/connect\(\)/);
    expect(error.message).not.toContain(redis);

    await client.connect();
    try {
      const booted = await boot({ secretKey: SECRET, engine: 'cache', cache });
      if ('error' in booted) throw booted.error;
      await booted.app.close();
    } finally {
      client.destroy();
    }
  });

  it('node-redis: a client closed before the app starts fails the boot', async () => {
    const client = createClient({ url: redis });
    client.on('error', () => undefined);
    await client.connect();
    client.destroy();
    const error = bootError(await boot({ secretKey: SECRET, engine: 'cache', cache: { client, keyPrefix: uniquePrefix('boot') } }));
    expect(error.message).toMatch(/not connected/);
  });

  for (const [name, Library] of [
    ['ioredis', IoRedis],
    ['iovalkey', IoValkey],
  ] as const) {
    it(`${name}: a lazyConnect client not connected yet fails the boot, saying to connect() it; connected, it boots`, async () => {
      const client = new Library(redis, { lazyConnect: true, enableOfflineQueue: false });
      client.on('error', () => undefined);
      const cache = { client, keyPrefix: uniquePrefix('boot') };
      try {
        const error = bootError(await boot({ secretKey: SECRET, engine: 'cache', cache }));
        expect(error.name).toBe('SessionConfigError');
        expect(error.message).toMatch(/lazyConnect/);
        expect(error.message).toMatch(/connect\(\)/);

        await client.connect();
        const booted = await boot({ secretKey: SECRET, engine: 'cache', cache });
        if ('error' in booted) throw booted.error;
        await booted.app.close();
      } finally {
        client.disconnect();
      }
    });
  }

  it('cached_db: a node-redis client never connected fails the boot too (the table being there)', async () => {
    const file = tempSqliteFile('boot-cached-db');
    const client = createClient({ url: redis });
    client.on('error', () => undefined);
    try {
      const error = bootError(
        await boot(
          { secretKey: SECRET, engine: 'cached_db', cache: { client, keyPrefix: uniquePrefix('boot') } },
          { type: 'sqlite', database: file, migrations: [CreateDjangoSession1700000000000], migrationsRun: true },
        ),
      );
      expect(error.name).toBe('SessionConfigError');
      expect(error.message).toMatch(/cached_db/);
      expect(error.message).toMatch(/connect\(\)/);
    } finally {
      await removeSqliteFile(file);
    }
  });

  it('cached_db: a missing django_session fails the boot although Redis is connected', async () => {
    const file = tempSqliteFile('boot-cached-db');
    const nodeRedis = REDIS_CLIENTS.find((f) => f.name === 'node-redis')!;
    const client = await nodeRedis.connect(redis);
    try {
      const error = bootError(await boot({ secretKey: SECRET, engine: 'cached_db', cache: { client, keyPrefix: uniquePrefix('boot') } }, { type: 'sqlite', database: file }));
      expect(error.message).toMatch(/django_session/);
      expect(error.message).toMatch(/CreateDjangoSession1700000000000/);
    } finally {
      await nodeRedis.close(client);
      await removeSqliteFile(file);
    }
  });
});
