/**
 * adaptRedisClient against real Redis servers, once per supported client library: the commands the
 * cache session engines rely on (binary-safe GET/SET, SET's NX/XX and TTL, DEL, EXISTS, PING), and
 * what a request sees when Redis goes away (a SessionBackendUnavailable within the timeout, not a
 * hang) and comes back (the same client works again).
 *
 * The shared server (TEST_REDIS_URL) only ever sees keys under a unique prefix, deleted afterwards;
 * the fault, cluster and sentinel tests run on private redis-server processes of their own.
 */
import { createClient, createClientPool } from 'redis';
import { Redis as IoRedis } from 'ioredis';
import { SessionBackendUnavailable } from '../../src/index.js';
import { adaptRedisClient, isRedisClient, type SessionRedis } from '../../src/exports/engines.js';
import { describeWith } from '../support/env.js';
import {
  connectNodeRedisSentinel,
  deleteKeysWithPrefix,
  privateRedisCluster,
  privateRedisSentinel,
  privateRedisServer,
  REDIS_CLIENTS,
  REDIS_CLUSTER_CLIENTS,
  uniquePrefix,
  type PrivateRedis,
  type PrivateRedisCluster,
} from '../support/redis.js';

/** Every byte value, 0 to 255: not valid UTF-8 (0x80-0xff alone), so any text decoding shows. */
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
/** The start of a pickle (protocol 4), as Django's cache backend stores session dicts. */
const PICKLE_LIKE = Buffer.from('80049525000000000000007d948c0a5f617574685f75736572948c0131942e', 'hex');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls PING until the client is back (it reconnects with its own backoff, up to ~2 s a try). */
async function untilAnswering(store: SessionRedis, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await store.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

/** The storage commands, checked on any client kind; `key()` gives a fresh key under the test's prefix. */
function storageContract(get: () => { store: SessionRedis; key: () => string }) {
  it('PING resolves', async () => {
    await expect(get().store.ping()).resolves.toBeUndefined();
  });

  it('round-trips all 256 byte values exactly, as a Buffer', async () => {
    const { store, key } = get();
    const k = key();
    expect(ALL_BYTES.toString('utf8') === ALL_BYTES.toString('latin1')).toBe(false); // not valid UTF-8
    await expect(store.set(k, ALL_BYTES, 60)).resolves.toBe(true);
    const back = await store.get(k);
    expect(Buffer.isBuffer(back)).toBe(true);
    expect(back!.equals(ALL_BYTES)).toBe(true);
  });

  it('round-trips a pickle and an empty value', async () => {
    const { store, key } = get();
    const [a, b] = [key(), key()];
    await store.set(a, PICKLE_LIKE, 60);
    await store.set(b, Buffer.alloc(0), 60);
    expect((await store.get(a))!.equals(PICKLE_LIKE)).toBe(true);
    const empty = await store.get(b);
    expect(Buffer.isBuffer(empty) && empty.length === 0).toBe(true);
  });

  it('GET of a missing key is null', async () => {
    await expect(get().store.get(get().key())).resolves.toBeNull();
  });

  it('SET without a condition writes and overwrites', async () => {
    const { store, key } = get();
    const k = key();
    await expect(store.set(k, Buffer.from('one'), 60)).resolves.toBe(true);
    await expect(store.set(k, Buffer.from('two'), 60)).resolves.toBe(true);
    expect((await store.get(k))!.toString()).toBe('two');
  });

  it('NX writes a missing key and refuses an existing one (value kept)', async () => {
    const { store, key } = get();
    const k = key();
    await expect(store.set(k, Buffer.from('first'), 60, 'NX')).resolves.toBe(true);
    await expect(store.set(k, Buffer.from('second'), 60, 'NX')).resolves.toBe(false);
    expect((await store.get(k))!.toString()).toBe('first');
  });

  it('XX refuses a missing key without creating it, and overwrites an existing one', async () => {
    const { store, key } = get();
    const k = key();
    await expect(store.set(k, Buffer.from('x'), 60, 'XX')).resolves.toBe(false);
    await expect(store.exists(k)).resolves.toBe(false);
    await expect(store.get(k)).resolves.toBeNull();
    await store.set(k, Buffer.from('old'), 60);
    await expect(store.set(k, Buffer.from('new'), 60, 'XX')).resolves.toBe(true);
    expect((await store.get(k))!.toString()).toBe('new');
  });

  it('EXISTS and DEL; deleting a missing key is fine', async () => {
    const { store, key } = get();
    const k = key();
    await store.set(k, Buffer.from('v'), 60);
    await expect(store.exists(k)).resolves.toBe(true);
    await expect(store.del(k)).resolves.toBeUndefined();
    await expect(store.exists(k)).resolves.toBe(false);
    await expect(store.get(k)).resolves.toBeNull();
    await expect(store.del(k)).resolves.toBeUndefined();
  });

  it('refuses a TTL below one second or not whole, before sending anything', async () => {
    const { store, key } = get();
    const k = key();
    await expect(store.set(k, Buffer.from('v'), 0)).rejects.toBeInstanceOf(RangeError);
    await expect(store.set(k, Buffer.from('v'), 1.5)).rejects.toBeInstanceOf(RangeError);
    await expect(store.exists(k)).resolves.toBe(false);
  });
}

describe('adaptRedisClient: what it accepts', () => {
  it('refuses what is not a supported client, naming what it got', () => {
    class NotRedis {}
    for (const [value, named] of [
      [null, 'got null'],
      [undefined, 'got undefined'],
      ['redis://127.0.0.1:6379', 'got a string'],
      [{}, 'got a plain object'],
      [new NotRedis(), 'got an instance of NotRedis'],
    ] as const) {
      expect(isRedisClient(value)).toBe(false);
      expect(() => adaptRedisClient(value)).toThrow(TypeError);
      expect(() => adaptRedisClient(value)).toThrow(named);
    }
  });

  it('accepts unconnected node-redis and ioredis clients, refuses a legacy-mode node-redis client', () => {
    const nodeRedis = createClient();
    const ioredis = new IoRedis({ lazyConnect: true });
    try {
      expect(isRedisClient(nodeRedis)).toBe(true);
      expect(isRedisClient(ioredis)).toBe(true);
      expect(isRedisClient(nodeRedis.withTypeMapping({}))).toBe(true);
      expect(isRedisClient(nodeRedis.legacy())).toBe(false);
      expect(() => adaptRedisClient(nodeRedis.legacy())).toThrow(/legacy-mode/);
    } finally {
      ioredis.disconnect();
    }
  });

  it('returns an adapter passed to it as it is; refuses a bad timeoutMs', () => {
    const adapter = adaptRedisClient(createClient());
    expect(adaptRedisClient(adapter)).toBe(adapter);
    expect(isRedisClient(adapter)).toBe(true);
    for (const timeoutMs of [0, -1, Number.NaN, Infinity]) {
      expect(() => adaptRedisClient(createClient(), { timeoutMs })).toThrow(RangeError);
    }
  });

  it('a node-redis client that was never connected: SessionBackendUnavailable, the client error as cause', async () => {
    const error = await adaptRedisClient(createClient()).get('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionBackendUnavailable);
    expect((error as Error).name).toBe('SessionBackendUnavailable');
    expect((error as Error).message).toContain('GET');
    expect((error as Error).cause).toBeInstanceOf(Error);
  });
});

describeWith(['redis'], 'adaptRedisClient on a real Redis', ({ redis: url }) => {
  describe.each(REDIS_CLIENTS)('$name', (factory) => {
    const prefix = uniquePrefix(`client-${factory.name}`);
    let n = 0;
    const key = () => `${prefix}${++n}`;
    let client: unknown;
    let store: SessionRedis;

    beforeAll(async () => {
      client = await factory.connect(url);
      store = adaptRedisClient(client);
    });

    afterAll(async () => {
      await deleteKeysWithPrefix(url, prefix);
      if (client) await factory.close(client);
    });

    storageContract(() => ({ store, key }));

    it('SET EX sets the TTL (PTTL through the client itself); XX sets the new one', async () => {
      const k = key();
      await store.set(k, Buffer.from('v'), 120);
      const pttl = Number(await factory.call(client, 'PTTL', k));
      expect(pttl).toBeGreaterThan(110_000);
      expect(pttl).toBeLessThanOrEqual(120_000);
      await store.set(k, Buffer.from('v'), 30, 'XX');
      const after = Number(await factory.call(client, 'TTL', k));
      expect(after).toBeGreaterThan(20);
      expect(after).toBeLessThanOrEqual(30);
    });

    it('the key expires after its TTL', async () => {
      const k = key();
      await store.set(k, Buffer.from('v'), 1);
      await sleep(1200);
      await expect(store.get(k)).resolves.toBeNull();
      await expect(store.exists(k)).resolves.toBe(false);
    });

    it("a server error reply (WRONGTYPE) comes through as the client's error, not as unavailability", async () => {
      const k = key();
      await factory.call(client, 'RPUSH', k, 'item');
      const error = await store.get(k).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(SessionBackendUnavailable);
      expect((error as Error).message).toMatch(/WRONGTYPE/);
    });
  });

  describe('node-redis variants', () => {
    const prefix = uniquePrefix('node-redis-variants');
    let n = 0;
    const key = () => `${prefix}${++n}`;
    afterAll(() => deleteKeysWithPrefix(url, prefix));

    it('RESP3, and a client whose own type mapping reads strings: GET still gives the exact bytes', async () => {
      const client = await createClient({ url, RESP: 3 }).on('error', () => undefined).connect();
      try {
        for (const c of [client, client.withTypeMapping({ 36: String })]) {
          const store = adaptRedisClient(c);
          const k = key();
          await expect(store.set(k, ALL_BYTES, 60, 'NX')).resolves.toBe(true);
          expect((await store.get(k))!.equals(ALL_BYTES)).toBe(true);
          await expect(store.set(k, ALL_BYTES, 60, 'NX')).resolves.toBe(false);
          await expect(store.exists(k)).resolves.toBe(true);
        }
      } finally {
        client.destroy();
      }
    });

    it('a client pool (createClientPool)', async () => {
      const pool = createClientPool({ url }).on('error', () => undefined);
      await pool.connect();
      try {
        const store = adaptRedisClient(pool);
        const k = key();
        await expect(store.set(k, ALL_BYTES, 60, 'NX')).resolves.toBe(true);
        expect((await store.get(k))!.equals(ALL_BYTES)).toBe(true);
        await store.del(k);
        await expect(store.exists(k)).resolves.toBe(false);
      } finally {
        pool.destroy();
      }
    });
  });

  describe('when Redis goes away (a private redis-server, stopped and restarted)', () => {
    const TIMEOUT_MS = 500;
    let server: PrivateRedis;

    beforeAll(async () => {
      server = await privateRedisServer();
    });

    afterAll(async () => {
      await server?.stop();
    });

    describe.each(REDIS_CLIENTS)('$name', (factory) => {
      let client: unknown;
      let store: SessionRedis;

      beforeAll(async () => {
        await server.start(); // a previous client's test may have left it stopped
        client = await factory.connect(server.url);
        store = adaptRedisClient(client, { timeoutMs: TIMEOUT_MS });
      });

      afterAll(async () => {
        if (client) await factory.close(client);
      });

      it('rejects with SessionBackendUnavailable within the timeout, then works again once Redis is back', async () => {
        await store.set('k', ALL_BYTES, 60);
        expect((await store.get('k'))!.equals(ALL_BYTES)).toBe(true);

        await server.stop();
        const attempts = [
          () => store.get('k'),
          () => store.set('written-while-down', ALL_BYTES, 60),
          () => store.exists('k'),
          () => store.del('k'),
          () => store.ping(),
        ];
        for (const attempt of attempts) {
          const started = Date.now();
          const error = await attempt().catch((e: unknown) => e);
          const took = Date.now() - started;
          expect(error).toBeInstanceOf(SessionBackendUnavailable);
          expect(took).toBeLessThan(TIMEOUT_MS + 1000);
          // No URL, host or port in the message (a URL may carry a password).
          expect((error as Error).message).not.toMatch(/redis:\/\/|127\.0\.0\.1/);
          expect((error as Error).message).not.toContain(String(server.port));
        }

        await server.start(); // empty: nothing persisted
        await untilAnswering(store);
        await expect(store.get('k')).resolves.toBeNull();
        await expect(store.set('k', PICKLE_LIKE, 60, 'NX')).resolves.toBe(true);
        expect((await store.get('k'))!.equals(PICKLE_LIKE)).toBe(true);
      }, 30_000);
    });

    // What adaptRedisClient's JSDoc tells users to set. With the defaults, ioredis/iovalkey keep a
    // command the adapter gave up on and send it when Redis is back (a stale session write);
    // node-redis does not, as the adapter withdraws it from the offline queue.
    const RECOMMENDED: Record<string, Record<string, unknown>> = {
      'node-redis': { disableOfflineQueue: true },
      ioredis: { enableOfflineQueue: false, autoResendUnfulfilledCommands: false },
      iovalkey: { enableOfflineQueue: false, autoResendUnfulfilledCommands: false },
    };

    describe.each(REDIS_CLIENTS)('$name, with the recommended options', (factory) => {
      it('with the recommended options: fails at once while Redis is down, and never replays the write later', async () => {
        await server.start();
        const client = await factory.connect(server.url, RECOMMENDED[factory.name]);
        try {
          const store = adaptRedisClient(client, { timeoutMs: 5000 });
          await store.ping();
          await server.stop();
          const started = Date.now();
          await expect(store.set('stale', Buffer.from('late'), 60)).rejects.toBeInstanceOf(SessionBackendUnavailable);
          expect(Date.now() - started).toBeLessThan(1000);
          await server.start();
          await untilAnswering(store);
          await sleep(200);
          await expect(store.exists('stale')).resolves.toBe(false);
        } finally {
          await factory.close(client);
        }
      }, 30_000);
    });

    it('node-redis with its defaults: a write given up on while Redis was down is not sent when it comes back', async () => {
      await server.start();
      const factory = REDIS_CLIENTS.find((f) => f.name === 'node-redis')!;
      const client = await factory.connect(server.url);
      try {
        const store = adaptRedisClient(client, { timeoutMs: TIMEOUT_MS });
        await store.ping();
        await server.stop();
        await expect(store.set('stale', Buffer.from('late'), 60)).rejects.toBeInstanceOf(SessionBackendUnavailable);
        await server.start();
        await untilAnswering(store);
        await sleep(200);
        await expect(store.exists('stale')).resolves.toBe(false);
      } finally {
        await factory.close(client);
      }
    }, 30_000);
  });

  describe('cluster clients (a private 3-master Redis Cluster)', () => {
    let cluster: PrivateRedisCluster;

    beforeAll(async () => {
      cluster = await privateRedisCluster(3);
    }, 60_000);

    afterAll(async () => {
      await cluster?.stop();
    });

    describe.each(REDIS_CLUSTER_CLIENTS)('$name', (factory) => {
      const prefix = uniquePrefix(`cluster-${factory.name}`);
      let n = 0;
      // Keys without a {hash tag}, so they land in slots all over the cluster.
      const key = () => `${prefix}${++n}`;
      let client: unknown;
      let store: SessionRedis;

      beforeAll(async () => {
        client = await factory.connect(cluster.nodes);
        store = adaptRedisClient(client);
      });

      afterAll(async () => {
        if (client) await factory.close(client);
      });

      it('is recognised', () => {
        expect(isRedisClient(client)).toBe(true);
      });

      storageContract(() => ({ store, key }));

      it('many keys, on every master', async () => {
        const keys = Array.from({ length: 30 }, key);
        for (const [i, k] of keys.entries()) await store.set(k, Buffer.concat([ALL_BYTES, Buffer.from([i])]), 60, 'NX');
        for (const [i, k] of keys.entries()) expect((await store.get(k))!.equals(Buffer.concat([ALL_BYTES, Buffer.from([i])]))).toBe(true);
      });
    });
  });

  describe('node-redis sentinel client (a private Redis and Sentinel)', () => {
    it('round-trips bytes and honours NX/XX through the sentinel-found master, also on a leased client', async () => {
      const setup = await privateRedisSentinel();
      try {
        const sentinel = await connectNodeRedisSentinel(setup);
        try {
          expect(isRedisClient(sentinel)).toBe(true);
          const store = adaptRedisClient(sentinel);
          await store.ping();
          await expect(store.set('k', ALL_BYTES, 60, 'XX')).resolves.toBe(false);
          await expect(store.set('k', ALL_BYTES, 60, 'NX')).resolves.toBe(true);
          await expect(store.set('k', ALL_BYTES, 60, 'NX')).resolves.toBe(false);
          expect((await store.get('k'))!.equals(ALL_BYTES)).toBe(true);
          await store.del('k');
          await expect(store.exists('k')).resolves.toBe(false);

          // A client leased from it (sentinel.acquire()) has the same sendCommand.
          const leased = await sentinel.acquire();
          try {
            const leasedStore = adaptRedisClient(leased);
            await expect(leasedStore.set('leased', ALL_BYTES, 60, 'NX')).resolves.toBe(true);
            expect((await leasedStore.get('leased'))!.equals(ALL_BYTES)).toBe(true);
          } finally {
            leased.release();
          }
          // After the release: with the default masterPoolSize of 1, the sentinel waits for it.
          await expect(store.exists('leased')).resolves.toBe(true);
        } finally {
          sentinel.destroy();
        }
      } finally {
        await setup.stop();
      }
    }, 30_000);
  });
});
