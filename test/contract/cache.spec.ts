/**
 * The cache engine on the real Redis: the engine contract once per client library × serializer,
 * then what only the cache engine has (Django's key names, the TTL, the value as django-redis
 * writes it) and a Redis that goes away.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolveSessionOptions, SessionBackendUnavailable } from '../../src/index.js';
import { CacheSessionBackend, SessionCacheEntries } from '../../src/exports/engines.js';
import { CACHE_SERIALIZERS } from '../../src/exports/codec.js';
import { describeWith } from '../support/env.js';
import { deleteKeysWithPrefix, privateRedisServer, REDIS_CLIENTS, uniquePrefix } from '../support/redis.js';
import { defineEngineContract } from './engine.contract.js';

const DAY = { date: new Date(Date.now() + 86_400_000), age: 86_400 };

/** A cache engine as the module builds it, on `client`, under a private KEY_PREFIX. */
function cacheEngine(client: unknown, keyPrefix: string, serializer: 'pickle' | 'json', timeout = 2000): CacheSessionBackend {
  const options = resolveSessionOptions({ secretKey: 'k', engine: 'cache', cache: { client, keyPrefix, serializer }, backendTimeout: timeout / 1000 });
  return new CacheSessionBackend(SessionCacheEntries.forOptions(options, 'django.contrib.sessions.cache'));
}

for (const [library, serializer] of [['node-redis', 'pickle'], ['ioredis', 'json'], ['iovalkey', 'pickle']] as const) {
  const factory = REDIS_CLIENTS.find((f) => f.name === library)!;
  defineEngineContract({
    title: `cache on Redis (${library}, ${serializer})`,
    services: ['redis'],
    async open({ redis }) {
      const client = await factory.connect(redis);
      const prefix = uniquePrefix('cache-contract');
      return {
        backend: cacheEngine(client, prefix, serializer),
        close: async () => {
          await deleteKeysWithPrefix(redis, prefix);
          await factory.close(client);
        },
      };
    },
  });
}

describeWith(['redis'], 'cache engine: keys, TTL and values as Django with django-redis has them', ({ redis }) => {
  const factory = REDIS_CLIENTS[0]!;
  let client: any;
  const prefix = uniquePrefix('cache-keys');
  beforeAll(async () => {
    client = await factory.connect(redis);
  });
  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await factory.close(client);
  });

  it.each(['pickle', 'json'] as const)('%s: the key is KEY_PREFIX:VERSION:django.contrib.sessions.cache<key>, the TTL the expiry age, the value the serializer\'s bytes', async (serializer) => {
    const options = resolveSessionOptions({ secretKey: 'k', engine: 'cache', cache: { client, keyPrefix: prefix + serializer, version: 7, serializer } });
    const backend = new CacheSessionBackend(SessionCacheEntries.forOptions(options, 'django.contrib.sessions.cache'));
    const data = new Map<string, unknown>([['_auth_user_id', '1'], ['name', 'Zoë']]);
    const key = await backend.create(data, { date: new Date(Date.now() + 3_600_000), age: 3600 });
    const redisKey = `${prefix}${serializer}:7:django.contrib.sessions.cache${key}`;
    const ttl = Number(await factory.call(client, 'TTL', redisKey));
    expect(ttl).toBeGreaterThan(3590);
    expect(ttl).toBeLessThanOrEqual(3600);
    const raw = await client.sendCommand(['GET', redisKey], { typeMapping: { 36: Buffer } });
    expect(Buffer.compare(raw, CACHE_SERIALIZERS[serializer].dumps(data))).toBe(0);
    if (serializer === 'json') expect(raw.toString()).toBe('{"_auth_user_id": "1", "name": "Zo\\u00eb"}');
    else expect(raw[0]).toBe(0x80); // PROTO
  });

  it('a value that is not a session dict (a foreign or tampered entry) is no session, and nothing is executed', async () => {
    const backend = cacheEngine(client, prefix + 'bad', 'pickle');
    const key = backend.newKey();
    // Python's pickle.dumps of an object reducing to os.system('touch /tmp/pwned-by-session-test'):
    // refused (STACK_GLOBAL/REDUCE), never run.
    const marker = '/tmp/pwned-by-session-test';
    await rm(marker, { force: true });
    const evil = Buffer.from('8004953b000000000000008c05706f736978948c0673797374656d9493948c20746f756368202f746d702f70776e65642d62792d73657373696f6e2d7465737494859452942e', 'hex');
    await client.sendCommand(['SET', backend.entries.keyOf(key), evil]);
    await expect(backend.load(key)).resolves.toBeNull();
    expect(existsSync(marker)).toBe(false);
  });

  it('an already expired save deletes the entry (django-redis: a timeout <= 0 deletes)', async () => {
    const backend = cacheEngine(client, prefix + 'past', 'pickle');
    const key = await backend.create(new Map([['a', 1]]), DAY);
    await backend.save(key, new Map([['a', 2]]), { date: new Date(Date.now() - 1000), age: -1 }, false);
    await expect(backend.exists(key)).resolves.toBe(false);
  });
});

describeWith(['redis'], 'cache engine when Redis goes away (a private redis-server, stopped mid-run)', () => {
  it('load/save reject with SessionBackendUnavailable within the timeout (no hang), and work again once Redis is back', async () => {
    const server = await privateRedisServer();
    const factory = REDIS_CLIENTS[0]!;
    const client = await factory.connect(server.url, { disableOfflineQueue: true });
    try {
      const backend = cacheEngine(client, uniquePrefix('fault'), 'pickle', 500);
      const key = await backend.create(new Map([['a', 1]]), DAY);
      await server.stop();
      const started = Date.now();
      await expect(backend.load(key)).rejects.toBeInstanceOf(SessionBackendUnavailable);
      await expect(backend.save(key, new Map([['a', 2]]), DAY, false)).rejects.toBeInstanceOf(SessionBackendUnavailable);
      expect(Date.now() - started).toBeLessThan(5_000);
      await server.start();
      for (let i = 0; i < 50 && !(await backend.exists(key).catch(() => false)); i++) await new Promise((r) => setTimeout(r, 100));
      // The private server keeps nothing across a restart (--save ""): the session is gone, and new ones work.
      const again = await backend.create(new Map([['b', 1]]), DAY);
      await expect(backend.load(again)).resolves.toEqual(new Map([['b', 1]]));
    } finally {
      await factory.close(client);
      await server.stop();
    }
  }, 30_000);
});
