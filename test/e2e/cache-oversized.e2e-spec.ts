/**
 * `maxDecodedBytes` on the cache engines: a Redis value longer than the limit is refused as
 * corrupt data (logged; the visitor gets a new session; the value is left in place) without being
 * downloaded — Redis sends at most the limit and a byte, one round trip — with node-redis, ioredis
 * and iovalkey; on `cached_db` the row is used instead. On a private redis-server, whose INFO
 * counts the bytes it sends (the shared server is not loaded with 128 MiB values).
 */
import 'reflect-metadata';
import { Body, Controller, HttpCode, Post, type INestApplication } from '@nestjs/common';
import { createClient } from 'redis';
import { Session, type SessionModuleOptions, type SessionStore } from '../../src/index.js';
import { CACHE_SERIALIZERS } from '../../src/codec/cache-serializers.js';
import { Client, logs, removeSqliteFile, tempSqliteFile, unknownKey } from '../support/app.js';
import { describeWith } from '../support/env.js';
import { startVisitApp } from '../support/session-app.js';
import { privateRedisServer, REDIS_CLIENTS, type PrivateRedis } from '../support/redis.js';

const SECRET = 'cache-oversized-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const KEY_PREFIX = 'nds-oversized';
const LIMIT = 64 * 1024;
const MiB = 1024 * 1024;

/** Beside `POST /visit` (test/support/session-app.ts): a session of `count` floats. */
@Controller()
class FloatsController {
  /** Stores `count` floats: 5 bytes each in JSON ("0.1, "), 9 in a pickle (BINFLOAT). */
  @Post('floats')
  @HttpCode(200)
  floats(@Session() session: SessionStore, @Body() body: { count?: number }) {
    if (body.count !== undefined) session.set('floats', Array.from({ length: body.count }, () => 0.1));
    return { visits: session.get('visits', 0), floats: (session.get('floats', []) as unknown[]).length };
  }
}

/** The app on `session` (with `django_session` in `sqliteFile` when given), its logs captured. */
function startOn(session: SessionModuleOptions, sqliteFile?: string): Promise<{ app: INestApplication; url: string }> {
  return startVisitApp(session, sqliteFile === undefined ? undefined : { type: 'sqlite', database: sqliteFile }, { controllers: [FloatsController], logger: logs });
}

/** A valid django-redis pickle of a session with `visits` and `padBytes` characters of padding. */
function plantedSession(visits: number, padBytes: number): Buffer {
  return CACHE_SERIALIZERS.pickle.dumps(new Map<string, unknown>([['visits', visits], ['pad', 'x'.repeat(padBytes)]]));
}

describeWith(['redis'], 'cache values longer than maxDecodedBytes', () => {
  let server: PrivateRedis;
  /** The test's own connection to the private server: planting values, reading INFO. */
  let admin: ReturnType<typeof createClient>;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    server = await privateRedisServer();
    admin = createClient({ url: server.url });
    admin.on('error', () => undefined);
    await admin.connect();
  }, 30_000);

  afterAll(async () => {
    admin?.destroy();
    await server?.stop();
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    logs.clear();
  });

  /** Bytes the private server has sent to its clients so far. */
  async function bytesSent(): Promise<number> {
    const info = await admin.info('stats');
    return Number(/total_net_output_bytes:(\d+)/.exec(info)![1]);
  }

  const cacheKey = (enginePrefix: string, sessionKey: string) => `${KEY_PREFIX}:1:django.contrib.sessions.${enginePrefix}${sessionKey}`;

  for (const library of REDIS_CLIENTS) {
    describe(`the cache engine on ${library.name}`, () => {
      let client: unknown;
      beforeEach(async () => {
        client = await library.connect(server.url);
      });
      afterEach(() => library.close(client));

      it('a valid session value longer than maxDecodedBytes is refused: logged, a new session for the visitor, the value left in place, and not downloaded', async () => {
        let url: string;
        ({ app, url } = await startOn({ secretKey: SECRET, engine: 'cache', cache: { client, keyPrefix: KEY_PREFIX }, maxDecodedBytes: LIMIT }));
        const key = unknownKey();
        const planted = plantedSession(41, 4 * LIMIT);
        await admin.set(cacheKey('cache', key), planted, { EX: 600 });

        const before = await bytesSent();
        const browser = new Client(url);
        browser.jar.set('sessionid', key);
        const reply = await browser.post('/visit', {});
        const sent = (await bytesSent()) - before;
        expect(reply.status).toBe(200);
        expect(reply.json()).toEqual({ visits: 0 });
        expect(sent).toBeLessThan(LIMIT + 16 * 1024);
        expect(logs.at('warn', 'django.security.SuspiciousSession').map((e) => e.message)).toContain(
          'Session data corrupted (the cached value is larger than maxDecodedBytes)',
        );
        expect(await admin.strLen(cacheKey('cache', key))).toBe(planted.length);

        // Saving gives the visitor a session of its own, under a new key; the planted value stays.
        const saved = await browser.post('/visit', { write: true });
        expect(saved.status).toBe(200);
        expect(browser.sessionKey).toMatch(/^[a-z0-9]{32}$/);
        expect(browser.sessionKey).not.toBe(key);
        expect((await browser.post('/visit', {})).json()).toEqual({ visits: 1 });
        expect(await admin.strLen(cacheKey('cache', key))).toBe(planted.length);
      }, 30_000);

      it('a 128 MiB value under a session key (default maxDecodedBytes): the request answers promptly and Redis sends at most 4 MiB of it', async () => {
        let url: string;
        ({ app, url } = await startOn({ secretKey: SECRET, engine: 'cache', cache: { client, keyPrefix: KEY_PREFIX } }));
        const key = unknownKey();
        // Made on the server itself (SETRANGE pads with zero bytes): nothing this size crosses the network to make it.
        await admin.set(cacheKey('cache', key), plantedSession(41, 10), { EX: 600 });
        await admin.setRange(cacheKey('cache', key), 128 * MiB - 1, 'x');

        const before = await bytesSent();
        const started = Date.now();
        const reply = await new Client(url, 'sessionid').post('/visit', {}, { cookie: `sessionid=${key}` });
        const sent = (await bytesSent()) - before;
        expect(reply.status).toBe(200);
        expect(reply.json()).toEqual({ visits: 0 });
        expect(sent).toBeLessThan(4 * MiB + 64 * 1024);
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(await admin.strLen(cacheKey('cache', key))).toBe(128 * MiB);
        await admin.del(cacheKey('cache', key));
      }, 60_000);
    });
  }

  describe('the cached_db engine', () => {
    let client: unknown;
    const file = tempSqliteFile('cache-oversized');
    const nodeRedis = REDIS_CLIENTS.find((f) => f.name === 'node-redis')!;
    beforeEach(async () => {
      client = await nodeRedis.connect(server.url);
    });
    afterEach(async () => {
      await nodeRedis.close(client);
      await removeSqliteFile(file);
    });

    it('a cached value longer than maxDecodedBytes is refused unread and the row is used', async () => {
      let url: string;
      ({ app, url } = await startOn({ secretKey: SECRET, engine: 'cached_db', cache: { client, keyPrefix: KEY_PREFIX }, maxDecodedBytes: LIMIT }, file));
      const browser = new Client(url);
      for (let i = 0; i < 3; i++) expect((await browser.post('/visit', { write: true })).status).toBe(200);
      const key = browser.sessionKey!;
      const planted = plantedSession(99, 4 * LIMIT);
      await admin.set(cacheKey('cached_db', key), planted, { KEEPTTL: true });

      const before = await bytesSent();
      const reply = await browser.post('/visit', {});
      const sent = (await bytesSent()) - before;
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual({ visits: 3 });
      expect(sent).toBeLessThan(LIMIT + 16 * 1024);
      expect(logs.at('warn', 'django.security.SuspiciousSession').map((e) => e.message)).toContain(
        'Session data corrupted (the cached value is larger than maxDecodedBytes)',
      );
      // As Django's cached_db does after a cache miss, the row's data is cached again.
      expect(await admin.strLen(cacheKey('cached_db', key))).toBeLessThan(1024);
      expect((await browser.post('/visit', {})).json()).toEqual({ visits: 3 });
    }, 30_000);

    it('a session too large for the cache is saved to the row and dropped from the cache, so no older copy is read', async () => {
      let url: string;
      ({ app, url } = await startOn({ secretKey: SECRET, engine: 'cached_db', cache: { client, keyPrefix: KEY_PREFIX }, maxDecodedBytes: LIMIT }, file));
      const browser = new Client(url);
      expect((await browser.post('/visit', { write: true })).status).toBe(200);
      const key = browser.sessionKey!;
      expect(await admin.exists(cacheKey('cached_db', key))).toBe(1);

      // 10,000 floats: about 50 KB of JSON (the row takes it), 90 KB of pickle (past the 64 KiB limit).
      const stored = await browser.post('/floats', { count: 10_000 });
      expect(stored.status).toBe(200);
      expect(await admin.exists(cacheKey('cached_db', key))).toBe(0);
      expect(logs.at('error', 'django.contrib.sessions').some((e) => /more than maxDecodedBytes/.test(e.message))).toBe(true);
      expect((await browser.post('/floats', {})).json()).toEqual({ visits: 1, floats: 10_000 });
    }, 30_000);
  });
});
