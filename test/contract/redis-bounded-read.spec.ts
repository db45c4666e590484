/**
 * `SessionRedis.getAtMost(key, maxBytes)` (GETRANGE key 0 maxBytes) on every client kind the cache
 * engines accept — node-redis client, RESP3 client, pool, cluster and sentinel (also a leased
 * client); ioredis and iovalkey clients and clusters: the exact bytes of a value up to the limit,
 * `'too-large'` past it, null for no value; and `notConnected()`, the start-up check, from each
 * client's own state. Real servers: the shared one under a unique prefix; private cluster and
 * sentinel processes.
 */
import { createClient, createClientPool } from 'redis';
import { adaptRedisClient, type SessionRedis } from '../../src/exports/engines.js';
import { describeWith } from '../support/env.js';
import {
  connectNodeRedisSentinel,
  deleteKeysWithPrefix,
  privateRedisCluster,
  privateRedisSentinel,
  REDIS_CLIENTS,
  REDIS_CLUSTER_CLIENTS,
  uniquePrefix,
  type PrivateRedisCluster,
} from '../support/redis.js';

/** Every byte value, 0 to 255: not valid UTF-8, so any text decoding shows. */
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** The bounded read, on any store; `key()` gives a fresh key. */
async function expectBoundedReads(store: SessionRedis, key: () => string): Promise<void> {
  const exact = key();
  await store.set(exact, ALL_BYTES, 60);
  // Exactly at the limit: the value, byte for byte.
  const read = await store.getAtMost(exact, 256);
  expect(Buffer.isBuffer(read)).toBe(true);
  expect((read as Buffer).equals(ALL_BYTES)).toBe(true);
  expect(((await store.getAtMost(exact, 10_000)) as Buffer).equals(ALL_BYTES)).toBe(true);
  // One byte past it: refused.
  await expect(store.getAtMost(exact, 255)).resolves.toBe('too-large');
  await expect(store.getAtMost(exact, 0)).resolves.toBe('too-large');
  // No value.
  await expect(store.getAtMost(key(), 256)).resolves.toBeNull();
  await expect(store.getAtMost(exact, -1)).rejects.toThrow(RangeError);
}

describeWith(['redis'], 'bounded reads (GETRANGE) on a real Redis', ({ redis: url }) => {
  const prefix = uniquePrefix('bounded-read');
  let n = 0;
  const key = () => `${prefix}${++n}`;
  afterAll(() => deleteKeysWithPrefix(url, prefix));

  describe.each(REDIS_CLIENTS)('$name', (factory) => {
    it('reads a value up to the limit exactly, refuses a longer one, and a missing one is null', async () => {
      const client = await factory.connect(url);
      try {
        const store = adaptRedisClient(client);
        expect(store.notConnected()).toBeUndefined();
        await expectBoundedReads(store, key);
      } finally {
        await factory.close(client);
      }
      // Closed for good (disconnect() / destroy()): the start-up check says so (ioredis and
      // iovalkey reach their `end` state once the socket has closed).
      const store = adaptRedisClient(client);
      for (let i = 0; i < 40 && store.notConnected() === undefined; i++) await new Promise((r) => setTimeout(r, 50));
      expect(store.notConnected()).toMatch(/closed|not connected/);
    });
  });

  it('node-redis RESP3, a client mapping strings, and a pool', async () => {
    const client = await createClient({ url, RESP: 3 }).on('error', () => undefined).connect();
    const pool = createClientPool({ url }).on('error', () => undefined);
    await pool.connect();
    try {
      await expectBoundedReads(adaptRedisClient(client), key);
      await expectBoundedReads(adaptRedisClient(client.withTypeMapping({ 36: String })), key);
      await expectBoundedReads(adaptRedisClient(pool), key);
      expect(adaptRedisClient(pool).notConnected()).toBeUndefined();
    } finally {
      client.destroy();
      pool.destroy();
    }
  });

  it('node-redis: a client never connected is reported by notConnected(), before any command', () => {
    const client = createClient({ url }).on('error', () => undefined);
    expect(adaptRedisClient(client).notConnected()).toMatch(/connect\(\)/);
    const pool = createClientPool({ url }).on('error', () => undefined);
    expect(adaptRedisClient(pool).notConnected()).toMatch(/connect\(\)/);
  });

  describe('cluster clients (a private 3-master Redis Cluster)', () => {
    let cluster: PrivateRedisCluster;
    beforeAll(async () => {
      cluster = await privateRedisCluster(3);
    }, 60_000);
    afterAll(() => cluster?.stop());

    describe.each(REDIS_CLUSTER_CLIENTS)('$name', (factory) => {
      it('reads bounded on whichever master holds the key', async () => {
        const client = await factory.connect(cluster.nodes);
        try {
          const store = adaptRedisClient(client);
          expect(store.notConnected()).toBeUndefined();
          // Keys without a {hash tag}: several slots, several masters.
          for (let i = 0; i < 5; i++) await expectBoundedReads(store, () => `bounded-${i}-${++n}`);
        } finally {
          await factory.close(client);
        }
      });
    });
  });

  it('node-redis sentinel, and a client leased from it', async () => {
    const setup = await privateRedisSentinel();
    try {
      const sentinel = await connectNodeRedisSentinel(setup);
      try {
        const store = adaptRedisClient(sentinel);
        expect(store.notConnected()).toBeUndefined();
        await expectBoundedReads(store, () => `sentinel-${++n}`);
        const leased = await sentinel.acquire();
        try {
          await expectBoundedReads(adaptRedisClient(leased), () => `leased-${++n}`);
        } finally {
          leased.release();
        }
      } finally {
        sentinel.destroy();
      }
    } finally {
      await setup.stop();
    }
  }, 60_000);
});
