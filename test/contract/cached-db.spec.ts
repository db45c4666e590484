/**
 * The cached_db engine: the engine contract on sqlite + the real Redis, then Django's order of
 * work between the row and the cache entry, and a Redis that goes away while the database stays.
 */
import { DataSource } from 'typeorm';
import { CreateDjangoSession1700000000000, resolveSessionOptions, SessionCodec, SessionEntity } from '../../src/index.js';
import { CachedDbSessionBackend, SessionCacheEntries } from '../../src/exports/engines.js';
import { createDatabase, type Database } from '../interop/support/databases.js';
import { describeWith } from '../support/env.js';
import { deleteKeysWithPrefix, privateRedisServer, REDIS_CLIENTS, uniquePrefix } from '../support/redis.js';
import { defineEngineContract } from './engine.contract.js';

const DAY = { date: new Date(Date.now() + 86_400_000), age: 86_400 };
const factory = REDIS_CLIENTS[0]!;

async function openCachedDb(redisUrl: string, clientOptions: Record<string, unknown> = {}, timeout = 2000) {
  const db: Database = await createDatabase('sqlite', undefined, 'cacheddb', 'x');
  const dataSource = new DataSource({
    type: 'sqlite',
    database: new URL(db.url).pathname,
    entities: [SessionEntity],
    migrations: [CreateDjangoSession1700000000000],
    logging: false,
  });
  await dataSource.initialize();
  await dataSource.runMigrations();
  const client: any = await factory.connect(redisUrl, clientOptions);
  const prefix = uniquePrefix('cached-db');
  const options = resolveSessionOptions({ secretKey: 'k', engine: 'cached_db', cache: { client, keyPrefix: prefix }, backendTimeout: timeout / 1000 });
  const backend = new CachedDbSessionBackend(dataSource, new SessionCodec({ secretKey: 'k' }), SessionCacheEntries.forOptions(options, 'django.contrib.sessions.cached_db'));
  await backend.onModuleInit();
  return {
    backend,
    client,
    db,
    prefix,
    close: async () => {
      await deleteKeysWithPrefix(redisUrl, prefix).catch(() => undefined);
      await factory.close(client);
      await dataSource.destroy();
      await db.drop();
    },
  };
}

defineEngineContract({
  title: 'cached_db on sqlite + Redis',
  services: ['redis'],
  open: ({ redis }) => openCachedDb(redis),
});

describeWith(['redis'], 'cached_db engine: the row and the cache entry, in Django\'s order', ({ redis }) => {
  let opened: Awaited<ReturnType<typeof openCachedDb>>;
  beforeAll(async () => {
    opened = await openCachedDb(redis);
  });
  afterAll(() => opened?.close());

  const rowOf = async (key: string) => (await opened.db.query<{ session_data: string }>('SELECT session_data FROM django_session WHERE session_key = ?', [key]))[0];
  const cached = (key: string) => factory.call(opened.client, 'EXISTS', `${opened.prefix}:1:django.contrib.sessions.cached_db${key}`);

  it('a save writes the row and the entry (KEY_PREFIX:1:django.contrib.sessions.cached_db<key>)', async () => {
    const key = await opened.backend.create(new Map([['a', 1]]), DAY);
    expect(new SessionCodec({ secretKey: 'k' }).decode((await rowOf(key))!.session_data).data).toEqual({ a: 1 });
    expect(await cached(key)).toBe(1);
  });

  it('a session only in the database (entry evicted) is read from the row and refills the cache with the row\'s remaining life', async () => {
    const key = await opened.backend.create(new Map([['a', 1]]), { date: new Date(Date.now() + 600_000), age: 600 });
    await factory.call(opened.client, 'DEL', `${opened.prefix}:1:django.contrib.sessions.cached_db${key}`);
    await expect(opened.backend.load(key)).resolves.toEqual(new Map([['a', 1]]));
    const ttl = Number(await factory.call(opened.client, 'TTL', `${opened.prefix}:1:django.contrib.sessions.cached_db${key}`));
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  it('a read is served by the cache alone (the row changed behind its back is not seen until the entry goes)', async () => {
    const key = await opened.backend.create(new Map([['v', 'cached']]), DAY);
    await opened.db.query('UPDATE django_session SET session_data = ? WHERE session_key = ?', [new SessionCodec({ secretKey: 'k' }).encode({ v: 'row' }), key]);
    expect((await opened.backend.load(key))!.get('v')).toBe('cached');
  });

  it('delete removes both', async () => {
    const key = await opened.backend.create(new Map([['a', 1]]), DAY);
    await opened.backend.delete(key);
    expect(await rowOf(key)).toBeUndefined();
    expect(await cached(key)).toBe(0);
  });
});

describeWith(['redis'], 'cached_db engine when Redis goes away: the database carries on', () => {
  it('reads, writes, creates and deletes keep working from the row while Redis is down, and the cache is used again after', async () => {
    const server = await privateRedisServer();
    const opened = await openCachedDb(server.url, { disableOfflineQueue: true }, 300);
    try {
      const key = await opened.backend.create(new Map([['a', 1]]), DAY);
      await server.stop();
      await expect(opened.backend.load(key)).resolves.toEqual(new Map([['a', 1]]));
      await opened.backend.save(key, new Map([['a', 2]]), DAY, false);
      await expect(opened.backend.load(key)).resolves.toEqual(new Map([['a', 2]]));
      const other = await opened.backend.create(new Map([['b', 1]]), DAY);
      await expect(opened.backend.exists(other)).resolves.toBe(true);
      await opened.backend.delete(other);
      await expect(opened.backend.load(other)).resolves.toBeNull();
      await server.start();
      // Back: the next save refills the entry.
      for (let i = 0; i < 50; i++) {
        await opened.backend.save(key, new Map([['a', 3]]), DAY, false);
        if ((await factory.call(opened.client, 'EXISTS', `${opened.prefix}:1:django.contrib.sessions.cached_db${key}`).catch(() => 0)) === 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await factory.call(opened.client, 'EXISTS', `${opened.prefix}:1:django.contrib.sessions.cached_db${key}`)).toBe(1);
    } finally {
      await opened.close();
      await server.stop();
    }
  }, 30_000);
});
