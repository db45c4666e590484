/**
 * Nest and a real Django 3.2 share sessions on each of the other engines (Django's SESSION_ENGINE,
 * SessionModule's `engine`), over real HTTP, both ways. One suite, run per engine by the
 * engine-*.spec.ts files (one jest worker each): one Django and one Nest process per file, both
 * configured from the same INTEROP_* variables (django_site/interop_site/settings.py,
 * nest/server.ts), and one Browser carrying the `sessionid` cookie to both.
 *
 *  - cache / cached_db: one Redis (TEST_REDIS_URL), django-redis 5.2 on the Django side under a
 *    KEY_PREFIX of this run's own; pickle (django-redis's default) or its JSONSerializer; the Nest
 *    app's client is node-redis v5 or ioredis. cached_db also shares django_session. Or Django
 *    4.0+'s own RedisCache (`cacheBackend`, pickle protocol 5), left out on Django 3.2.
 *  - file: one temporary directory as SESSION_FILE_PATH / filePath.
 *  - signed_cookies: nothing shared but SECRET_KEY; the cookie is the session.
 *
 * The database (SQLite, or PostgreSQL for one cached_db run) is there on every engine: Django's
 * auth_user lives in it (login, whoami).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, RESP_TYPES } from 'redis';
import { SessionCodec } from '../../src/index.js';
import { SIGNED_COOKIES_SALT } from '../../src/exports/engines.js';
import { pickleLoadsDict } from '../../src/codec/pickle.js';
import type { Service } from '../support/env.js';
import { deleteKeysWithPrefix, uniquePrefix } from '../support/redis.js';
import { Browser, COOKIE_NAME, instant, parseSetCookie, sleepUntil, type Reply } from './support/browser.js';
import { buildNestServer, type NestBuild } from './support/build.js';
import { createDatabase } from './support/databases.js';
import { describeWithEachDjango } from './support/djangos.js';
import { manage, startDjango, startNest, type NestEnv, type Server } from './support/processes.js';
import {
  djangoSessionWithDateExpiry,
  expectExpirySet,
  expectLoggedInSessionModified,
  expectLoginCrosses,
  expectSameSessionCookie,
  expectValuesRead,
  expectValuesWritten,
  type SuiteContext,
} from './support/steps.js';
import { allSettled, COOKIE_AGE, DIRECTIONS, MODERN_FORMAT, OLD_SECRET_KEY, PYTHON_TYPES, SECRET_KEY, VALUES, type SideName } from './support/values.js';

export type SharedEngine = 'cache' | 'cached_db' | 'signed_cookies' | 'file';

export interface EngineTarget {
  engine: SharedEngine;
  title: string;
  /** cache, cached_db: django-redis's SERIALIZER / the `cache.serializer` option. Default pickle. */
  serializer?: 'pickle' | 'json';
  /**
   * cache, cached_db: Django's CACHES BACKEND / the `cache.backend` option. Default django-redis.
   * Django's own RedisCache exists from Django 4.0: the suite is skipped on 3.2.
   */
  cacheBackend?: 'django_redis.cache.RedisCache' | 'django.core.cache.backends.redis.RedisCache';
  /** cache, cached_db: the Nest app's Redis client library. Default node-redis. */
  redisClient?: 'node-redis' | 'ioredis';
  /** Where auth_user (and cached_db's django_session) live. Default sqlite. */
  database?: 'sqlite' | 'postgres';
}

const NEST_TZ = 'Asia/Kolkata';
const DJANGO_TIME_ZONE = 'America/Chicago';

/** A Redis connection of the test itself, to look at the entries the two sides write. */
class RedisInspector {
  private constructor(private readonly client: ReturnType<typeof createClient>) {}

  static async connect(url: string): Promise<RedisInspector> {
    const client = createClient({ url });
    client.on('error', () => undefined);
    await client.connect();
    return new RedisInspector(client);
  }

  /** The value's exact bytes. */
  get(key: string): Promise<Buffer | null> {
    return this.client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get(key) as Promise<Buffer | null>;
  }

  pttl(key: string): Promise<number> {
    return this.client.pTTL(key);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.client.exists(key)) === 1;
  }

  del(key: string): Promise<number> {
    return this.client.del(key);
  }

  /** Every key matching `pattern` (SCAN, never KEYS). */
  async scan(pattern: string): Promise<string[]> {
    const found: string[] = [];
    for await (const keys of this.client.scanIterator({ MATCH: pattern, COUNT: 1000 })) found.push(...keys);
    return found.sort();
  }

  close(): void {
    this.client.destroy();
  }
}

interface Context extends SuiteContext {
  redis?: RedisInspector;
  /** cache, cached_db: KEY_PREFIX. */
  cachePrefix: string;
  /** file: SESSION_FILE_PATH. */
  dir: string;
}

export function defineEngineSuite(target: EngineTarget): void {
  const { engine } = target;
  const usesCache = engine === 'cache' || engine === 'cached_db';
  const database = target.database ?? 'sqlite';
  const serializer = target.serializer ?? 'pickle';
  const djangoOwnCache = target.cacheBackend === 'django.core.cache.backends.redis.RedisCache';
  /** The pickle protocol both sides write: django-redis's pickle.DEFAULT_PROTOCOL (Python <= 3.13), Django's RedisCache's HIGHEST_PROTOCOL. */
  const pickleProtocol = djangoOwnCache ? 5 : 4;
  const services: Service[] = ['django'];
  if (usesCache) services.push('redis');
  if (database === 'postgres') services.push('postgres');

  describeWithEachDjango(services, (django) => `Nest and ${django} share sessions on SESSION_ENGINE '${engine}' (${target.title})`, (env, version) => {
    if (djangoOwnCache && version.since < 400) {
      it.skip(`not run: ${version.name} has no django.core.cache.backends.redis.RedisCache (Django 4.0 added it)`, () => undefined);
      return;
    }
    let build: NestBuild | undefined;
    const ctx = {} as Context;
    const side = (name: SideName): Server => (name === 'Nest' ? ctx.nest : ctx.django);
    const store = async (name: SideName, key: string) => (await new Browser().get(side(name), `/store/${encodeURIComponent(key)}`)).body;
    /** Whether a session can be revoked server-side (not signed_cookies: the cookie *is* the session). */
    const revocable = engine !== 'signed_cookies';
    /** A session key as each engine makes it: 32 of [a-z0-9], or the signed session itself. */
    const KEY_FORMAT = engine === 'signed_cookies' ? MODERN_FORMAT : /^[a-z0-9]{32}$/;
    /** Django's cache key of a session: make_key(<engine's KEY_PREFIX> + key) = KEY_PREFIX:VERSION:... */
    const cacheKey = (key: string) => `${ctx.cachePrefix}:1:django.contrib.sessions.${engine}${key}`;
    const sessionFile = (key: string) => join(ctx.dir, `${COOKIE_NAME}${key}`);
    const fileExists = (key: string) => readdirSync(ctx.dir).includes(`${COOKIE_NAME}${key}`);
    const rowExists = async (key: string) => (await ctx.db.query('SELECT session_key FROM django_session WHERE session_key = ?', [key])).length > 0;
    /** Whether anything is still stored under `key`: the cache entry, the row, the file. */
    const holds = async (key: string): Promise<boolean> => {
      if (engine === 'cache') return ctx.redis!.exists(cacheKey(key));
      if (engine === 'cached_db') return (await ctx.redis!.exists(cacheKey(key))) || (await rowExists(key));
      if (engine === 'file') return fileExists(key);
      return false;
    };
    /** A cache value as the Nest side reads it (its own pickle reader / JSON.parse), as a plain object. */
    const nestDecode = (raw: Buffer): Record<string, unknown> =>
      serializer === 'pickle' ? Object.fromEntries(pickleLoadsDict(raw)) : (JSON.parse(raw.toString('utf8')) as Record<string, unknown>);
    /** The entry as Django's own `pickle.loads` / `json.loads` reads it (views.cache_entry_view). */
    const djangoCacheEntry = async (key: string) => (await new Browser().get(ctx.django, `/cache-entry/${key}`)).body;

    beforeAll(async () => {
      build = buildNestServer();
      ctx.db = await createDatabase(database, database === 'postgres' ? env.postgres : undefined, 'engines', engine);
      ctx.cachePrefix = usesCache ? uniquePrefix(`interop-${engine}`).slice(0, -1) : '';
      ctx.dir = engine === 'file' ? mkdtempSync(join(tmpdir(), 'djs-interop-files-')) : '';
      const shared = {
        engine,
        ...(usesCache ? { redisUrl: env.redis, cachePrefix: ctx.cachePrefix, cacheSerializer: serializer, cacheBackend: target.cacheBackend } : {}),
        ...(engine === 'file' ? { filePath: ctx.dir } : {}),
      };
      ctx.djangoEnv = { python: env.django, dbUrl: ctx.db.url, secretKey: SECRET_KEY, timeZone: DJANGO_TIME_ZONE, ...shared };
      const nestEnv: NestEnv = {
        serverJs: build.serverJs,
        dbUrl: ctx.db.url,
        secretKey: SECRET_KEY,
        secretKeyFallbacks: [OLD_SECRET_KEY],
        tz: NEST_TZ,
        djangoVersion: version.release,
        ...shared,
        ...(target.redisClient ? { redisClient: target.redisClient } : {}),
      };
      if (usesCache) ctx.redis = await RedisInspector.connect(env.redis!);
      // Django makes the tables (auth_user, django_session); the Nest app's migration then skips.
      await manage(ctx.djangoEnv, ['migrate', '--noinput', '-v', '0']);
      const [nest, django] = await Promise.allSettled([startNest(nestEnv), startDjango(ctx.djangoEnv)]);
      if (nest.status === 'fulfilled') ctx.nest = nest.value;
      if (django.status === 'fulfilled') ctx.django = django.value;
      for (const started of [nest, django]) if (started.status === 'rejected') throw started.reason; // afterAll stops the other
      ctx.aliceId = (await new Browser().post(ctx.django, '/users', { username: 'alice' })).body.id;
    }, 120_000);

    afterAll(async () => {
      await Promise.all([ctx.nest?.stop(), ctx.django?.stop()]);
      ctx.redis?.close();
      if (ctx.cachePrefix) await deleteKeysWithPrefix(env.redis!, `${ctx.cachePrefix}:`);
      if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
      await ctx.db?.drop();
      build?.remove();
    }, 60_000);

    /** What each engine keeps of a session `write` saved with `data`, looked at directly. */
    async function expectStored(key: string, data: Record<string, unknown>, write: Reply, types?: Record<string, string>): Promise<void> {
      if (usesCache) {
        const name = cacheKey(key);
        const entry = await djangoCacheEntry(key);
        expect(entry.cache_key).toBe(name);
        expect(await ctx.redis!.scan(`*${key}`)).toEqual([name]);
        expect(entry).toMatchObject({ exists: true, type: 'dict', data });
        if (types) expect(entry.types).toEqual(types);
        const raw = (await ctx.redis!.get(name))!;
        expect(raw.toString('base64')).toBe(entry.raw);
        expect(nestDecode(raw)).toEqual(data);
        // PROTO 4 (django-redis: pickle.DEFAULT_PROTOCOL) or 5 (Django's own RedisCache: pickle.HIGHEST_PROTOCOL).
        if (serializer === 'pickle') expect([...raw.subarray(0, 2)]).toEqual([0x80, pickleProtocol]);
        else expect(raw.toString('utf8')).toMatch(/^\{"/);
        // TTL: the expiry age at the save, counting down since.
        const age = (write.body.expiry_age as number) * 1000;
        const pttl = await ctx.redis!.pttl(name);
        expect(pttl).toBeLessThanOrEqual(age);
        expect(pttl).toBeGreaterThan(age - (Date.now() - write.sentAt) - 1500);
      }
      if (engine === 'cached_db') {
        // The row too, holding the same dict (signed session_data, as on the db engine).
        const row = (await store('Django', key)).row;
        expect(row.decoded).toEqual(data);
        expect(row.session_data).toMatch(MODERN_FORMAT);
        const expires = instant(row.expire_date);
        expect(expires).toBeGreaterThanOrEqual(write.sentAt + (write.body.expiry_age as number) * 1000);
        expect(expires).toBeLessThanOrEqual(write.receivedAt + (write.body.expiry_age as number) * 1000);
      }
      if (engine === 'file') {
        const file = sessionFile(key);
        const text = readFileSync(file, 'latin1');
        expect(text).toMatch(MODERN_FORMAT);
        expect(new SessionCodec({ secretKey: SECRET_KEY }).decode(text)).toMatchObject({ status: 'ok', data });
        expect(statSync(file).mode & 0o777).toBe(0o600);
        expect(readdirSync(ctx.dir).filter((name) => name.includes(key))).toEqual([`${COOKIE_NAME}${key}`]); // no temporary file left
      }
      if (engine === 'signed_cookies') {
        // signing.dumps(session, compress=True, salt='django.contrib.sessions.backends.signed_cookies').
        expect(key).toMatch(MODERN_FORMAT);
        expect(new SessionCodec({ secretKey: SECRET_KEY, salt: SIGNED_COOKIES_SALT }).decode(key)).toMatchObject({ status: 'ok', data });
        expect(new SessionCodec({ secretKey: SECRET_KEY }).decode(key).status).toBe('bad-signature'); // not the stores' salt
      }
    }

    it.each(DIRECTIONS)(
      'a session a %s handler writes is read by %s with the same values and types (every JSON type, Zoë — 日本語 😀)',
      async (writerName, readerName) => {
        const { browser, write, key } = await expectValuesWritten(side, writerName, KEY_FORMAT);
        if (engine === 'signed_cookies') expect(key.startsWith('.')).toBe(true); // compressed

        await expectValuesRead(browser, side, readerName, key);
        expect((await browser.get(side(writerName), '/session')).body.data).toEqual(VALUES); // and the writer reads it back

        // SessionStore(key) / SessionService.load(key); exists() (always false for signed_cookies, on both).
        const stored = await store(readerName, key);
        expect(stored).toMatchObject({ exists: revocable, data: VALUES, expiry_age: COOKIE_AGE });
        // Only cached_db also writes django_session.
        expect(stored.row === null).toBe(engine !== 'cached_db');
        await expectStored(key, VALUES, write, PYTHON_TYPES);
      },
    );

    it('both sides send the same session cookie (name, Max-Age, Path, HttpOnly, SameSite)', async () => {
      await expectSameSessionCookie(side);
    });

    it.each(DIRECTIONS)('a %s login is a %s login (cycled key, _auth_user_* keys, the same auth hash)', async (writerName, readerName) => {
      const anonymousKey = await expectLoginCrosses(side, writerName, readerName, KEY_FORMAT, ctx.aliceId);
      for (const name of ['Nest', 'Django'] as const) {
        if (revocable) {
          expect(await store(name, anonymousKey)).toMatchObject({ exists: false, data: {} });
        } else {
          // The pre-login cookie is not revoked (nothing is stored to revoke): both still read it.
          expect((await store(name, anonymousKey)).data).toEqual({ cart: ['apple'] });
        }
      }
      expect(await holds(anonymousKey)).toBe(false);
    });

    it.each(DIRECTIONS)('%s modifies, cycles and logs out a session %s created; the creator sees each step', async (otherName, creatorName) => {
      const creator = side(creatorName);
      const other = side(otherName);
      // Create, then modify.
      const { browser, createdKey, afterModify } = await expectLoggedInSessionModified(creator, other, ctx.aliceId, revocable);
      const keyBeforeCycle = browser.cookie!;

      // Cycle: same data under a new key; the old key is dead on both sides.
      await browser.post(other, '/cycle');
      const cycledKey = browser.cookie!;
      expect(cycledKey).toMatch(KEY_FORMAT);
      // (A signed cookie is only re-signed: within the same second, the same value.)
      if (revocable) expect(cycledKey).not.toBe(keyBeforeCycle);
      expect((await browser.get(creator, '/session')).body.data).toEqual(afterModify.body.data);
      expect((await browser.get(creator, '/whoami')).body).toEqual({ user: 'alice' });
      for (const name of ['Nest', 'Django'] as const) {
        const stale = new Browser(keyBeforeCycle);
        const staleRead = await stale.get(side(name), '/session');
        if (revocable) {
          expect(await store(name, keyBeforeCycle)).toMatchObject({ exists: false, data: {} });
          expect(staleRead.body.data).toEqual({});
          expect(stale.cookie).toBeNull(); // the stale cookie is deleted
        } else {
          // Django's documented limitation of signed cookies: an old cookie stays valid (until its age).
          expect(staleRead.body.data).toEqual(afterModify.body.data);
        }
      }
      expect(await holds(keyBeforeCycle)).toBe(false);
      if (revocable) expect(await holds(cycledKey)).toBe(true);

      // Logout (flush): stored session deleted, cookie deleted.
      const loggedOut = await browser.post(other, '/logout');
      expect(loggedOut.setCookie).toHaveLength(1);
      expect(browser.cookie).toBeNull();
      expect(await holds(cycledKey)).toBe(false);
      for (const name of ['Nest', 'Django'] as const) {
        const replay = new Browser(cycledKey);
        if (revocable) {
          expect(await store(name, cycledKey)).toMatchObject({ exists: false, data: {} });
          expect((await replay.get(side(name), '/whoami')).body).toEqual({ user: null });
          expect((await replay.get(side(name), '/session')).body.data).toEqual({});
        } else {
          // Nothing to revoke: a copy of the cookie kept elsewhere still logs in, on both sides alike.
          expect((await replay.get(side(name), '/whoami')).body).toEqual({ user: 'alice' });
        }
      }
    });

    it('set_expiry(2) on either side: the other sees the session live at +1 s and, after 2 s, what Django does', async () => {
      await allSettled(
        DIRECTIONS.map(async ([writerName, readerName]) => {
          const { set, key } = await expectExpirySet(side, writerName, 2);
          expect((await store(readerName, key)).expiry_age).toBe(2);
          const data = { x: writerName, _session_expiry: 2 };
          if (usesCache) {
            const pttl = await ctx.redis!.pttl(cacheKey(key));
            expect(pttl).toBeGreaterThan(0);
            expect(pttl).toBeLessThanOrEqual(2000);
          }

          await sleepUntil(set.receivedAt + 1000);
          const live = new Browser(key);
          expect((await live.get(side(readerName), '/session')).body.data).toEqual(data);
          expect(live.cookie).toBe(key);

          await sleepUntil(set.receivedAt + 2600);
          const late = (name: SideName) => new Browser(key).get(side(name), '/session');
          if (engine === 'signed_cookies') {
            // Only the browser forgets it (Max-Age=2): Django checks a cookie's age against
            // SESSION_COOKIE_AGE alone (ticket #19201), so a replayed copy still reads on both sides.
            expect((await late(readerName)).body.data).toEqual(data);
            expect((await late(writerName)).body.data).toEqual(data);
            return;
          }
          if (engine === 'file') {
            // Django 3.2's file engine reads an integer _session_expiry as an age from *now*, so on
            // its own it never expires this file; Nest expires it 2 s after the write and deletes it,
            // which Django then reads as a session that is gone.
            expect((await late('Django')).body.data).toEqual(data);
            const nestRead = await late('Nest');
            expect(nestRead.body.data).toEqual({});
            expect(await holds(key)).toBe(false);
            expect((await late('Django')).body.data).toEqual({});
            return;
          }
          for (const name of [readerName, writerName]) {
            const reader = new Browser(key);
            expect((await reader.get(side(name), '/session')).body.data).toEqual({});
            expect(reader.cookie).toBeNull();
          }
          // The cache entry is gone by its TTL; cached_db's row waits for clearsessions.
          if (usesCache) expect(await ctx.redis!.exists(cacheKey(key))).toBe(false);
          if (engine === 'cached_db') expect(await rowExists(key)).toBe(true);
        }),
      );
    });

    if (engine === 'cache') {
      it(`the Redis entry: key exactly <KEY_PREFIX>:1:django.contrib.sessions.cache<key>, TTL the expiry age, the same ${serializer === 'pickle' ? `pickle protocol ${pickleProtocol}` : serializer} bytes from both sides`, async () => {
        const data = { ...VALUES, _session_expiry: 600 };
        const [fromNest, fromDjango] = await Promise.all(
          (['Nest', 'Django'] as const).map(async (name) => {
            const browser = new Browser();
            await browser.post(side(name), '/set', VALUES);
            const write = await browser.post(side(name), '/expiry', { seconds: 600 });
            expect(write.body.expiry_age).toBe(600);
            const key = browser.cookie!;
            await expectStored(key, data, write);
            return ctx.redis!.get(cacheKey(key));
          }),
        );
        // The same dict, in the same order, serialized alike: django-redis's exact bytes.
        expect(fromNest!.equals(fromDjango!)).toBe(true);
      });
    }

    if (engine === 'cache' && serializer === 'pickle' && version.since >= 400) {
      it(`a session ${version.name} gave set_expiry(datetime) (its isoformat() string, pickled as a str) is read by Nest with that expiry; after Nest saves it, Django still reads it`, async () => {
        const { browser, key, target, set } = await djangoSessionWithDateExpiry(ctx.django);
        expect(set.body.types).toEqual({ x: 'int', _session_expiry: 'str' });
        expect((await djangoCacheEntry(key)).types).toEqual({ x: 'int', _session_expiry: 'str' });
        const iso = set.body.data._session_expiry as string;

        const read = await browser.get(ctx.nest, '/session');
        expect(read.body.data).toEqual({ x: 1, _session_expiry: iso });
        expect(Math.abs(Date.parse(read.body.expiry_date) - target)).toBeLessThan(1000);
        await browser.post(ctx.nest, '/set', { y: 2 });
        expect(browser.cookie).toBe(key);
        expect((await browser.get(ctx.django, '/session')).body.data).toEqual({ x: 1, _session_expiry: iso, y: 2 });
      });
    }

    if (engine === 'cache' && serializer === 'pickle' && version.since < 400) {
      it('a session stock Django 3.2 gave set_expiry(datetime) (pickled as a datetime.datetime, no JSON step on this engine) is read by Nest, with that expiry', async () => {
        const { browser, key, target, set } = await djangoSessionWithDateExpiry(ctx.django);
        // Django keeps the datetime itself in the session dict and pickles it (GLOBAL datetime.datetime, REDUCE).
        expect(set.body.types).toEqual({ x: 'int', _session_expiry: 'datetime' });
        expect((await djangoCacheEntry(key)).types).toEqual({ x: 'int', _session_expiry: 'datetime' });
        expect((await browser.get(ctx.django, '/session')).body.data.x).toBe(1);

        const read = await browser.get(ctx.nest, '/session');
        expect(read.body.data).toMatchObject({ x: 1 });
        expect(Math.abs(Date.parse(read.body.expiry_date) - target)).toBeLessThan(1000);
        expect(browser.cookie).toBe(key);
      });
    }

    if (engine === 'cached_db') {
      it.each(DIRECTIONS)(
        'a session only in the db (its cache entry deleted by hand) that %s wrote is read by %s, which refills the cache',
        async (writerName, readerName) => {
          const browser = new Browser();
          const write = await browser.post(side(writerName), '/set', { by: writerName, text: VALUES.text });
          const key = browser.cookie!;
          const data = { by: writerName, text: VALUES.text };
          expect(await ctx.redis!.del(cacheKey(key))).toBe(1);
          expect(await rowExists(key)).toBe(true);

          const read = await browser.get(side(readerName), '/session');
          expect(read.body.data).toEqual(data);
          expect(read.setCookie).toEqual([]);
          // Refilled: the dict, for the session's remaining whole seconds (Django: get_expiry_age(expiry=expire_date)).
          await expectStored(key, data, write);
          // And the writer reads the entry the reader put back.
          expect((await browser.get(side(writerName), '/session')).body.data).toEqual(data);
        },
      );

      /** A session Django wrote, whose row is then deleted by hand (its cache entry stays). */
      const cacheOnlySession = async () => {
        const browser = new Browser();
        await browser.post(ctx.django, '/set', { only: 'cache' });
        const key = browser.cookie!;
        await ctx.db.query('DELETE FROM django_session WHERE session_key = ?', [key]);
        return key;
      };

      it('a session only in the cache (its row deleted by hand) is read from the cache by both (Django trusts a cache hit)', async () => {
        const key = await cacheOnlySession();
        for (const name of ['Nest', 'Django'] as const) {
          expect((await new Browser(key).get(side(name), '/session')).body.data).toEqual({ only: 'cache' });
        }
        expect(await rowExists(key)).toBe(false);
      });

      it.each(['Django', 'Nest'] as const)('a save of a session whose row was deleted is refused by %s (UpdateError, 400), though its cache entry remains', async (name) => {
        // Django's save is an UPDATE of the row: no row, UpdateError, SessionInterrupted (400); the
        // cache is written only after the row.
        const key = await cacheOnlySession();
        const before = (await ctx.redis!.get(cacheKey(key)))!;
        const reply = await new Browser(key).post(side(name), '/set', { more: name });
        expect(reply.status).toBe(400);
        expect(await rowExists(key)).toBe(false);
        expect((await ctx.redis!.get(cacheKey(key)))!.equals(before)).toBe(true);
      });
    }

    if (engine === 'file') {
      it("a file older than SESSION_COOKIE_AGE is deleted by Django's clearsessions and by SessionService.clearExpired(), whoever wrote it; a fresh one stays", async () => {
        const write = async (name: SideName) => {
          const browser = new Browser();
          await browser.post(side(name), '/set', { by: name });
          return browser.cookie!;
        };
        const makeStale = (key: string) => {
          const then = new Date(Date.now() - (COOKIE_AGE + 60) * 1000);
          utimesSync(sessionFile(key), then, then);
        };
        const [nestStale, djangoStale, nestFresh, djangoFresh] = await Promise.all([write('Nest'), write('Django'), write('Nest'), write('Django')]);
        makeStale(nestStale!);
        await new Browser().post(ctx.django, '/clear-expired');
        expect(fileExists(nestStale!)).toBe(false);
        expect(fileExists(djangoStale!)).toBe(true);

        makeStale(djangoStale!);
        expect((await new Browser().post(ctx.nest, '/clear-expired')).body).toEqual({ deleted: 1 });
        expect(fileExists(djangoStale!)).toBe(false);
        for (const key of [nestFresh!, djangoFresh!]) expect(fileExists(key)).toBe(true);

        // A stale file is an empty session when read, on either side (and is deleted).
        for (const [writerName, readerName] of DIRECTIONS) {
          const key = await write(writerName);
          makeStale(key);
          const reader = new Browser(key);
          expect((await reader.get(side(readerName), '/session')).body.data).toEqual({});
          // Nest deletes the cookie; Django's load() calls create() after deleting the file, so it
          // answers with a new key (an empty session file of its own). Either way the stale key is gone.
          expect(reader.cookie).not.toBe(key);
          expect(fileExists(key)).toBe(false);
        }
      });
    }

    if (engine === 'signed_cookies') {
      it('secretKeyFallbacks: Nest reads a cookie Django signed with the old SECRET_KEY (Django 3.2 itself no longer does) and re-signs it on save', async () => {
        const old = JSON.parse(
          await manage({ ...ctx.djangoEnv, secretKey: OLD_SECRET_KEY }, ['interop_session', 'create', '--data', JSON.stringify({ plan: 'pro', name: 'Zoë 😀' })]),
        ) as { key: string; data: Record<string, unknown> };
        expect(old.key).toMatch(MODERN_FORMAT);
        const signedWith = (value: string, secretKey: string) => new SessionCodec({ secretKey, salt: SIGNED_COOKIES_SALT }).decode(value).status;
        expect(signedWith(old.key, OLD_SECRET_KEY)).toBe('ok');
        // Django 3.2 has no SECRET_KEY_FALLBACKS: with only the new key it starts afresh.
        expect((await new Browser(old.key).get(ctx.django, '/session')).body.data).toEqual({});

        const browser = new Browser(old.key);
        expect((await browser.get(ctx.nest, '/session')).body.data).toEqual(old.data);
        await browser.post(ctx.nest, '/set', { seen_by_nest: true });
        expect(signedWith(browser.cookie!, SECRET_KEY)).toBe('ok');
        expect((await browser.get(ctx.django, '/session')).body.data).toEqual({ ...old.data, seen_by_nest: true });
      });

      it("the Set-Cookie value is the signed session verbatim, as Django's SimpleCookie writes it (no %-encoding of ':'), and the writer reads it back", async () => {
        for (const name of ['Nest', 'Django'] as const) {
          const reply = await new Browser().post(side(name), '/set', { name: 'Zoë' });
          const { value } = parseSetCookie(reply.setCookie[0]!);
          // What a browser sends back is that value, as it came.
          const readBack = (await new Browser(value).get(side(name), '/session')).body.data;
          expect({ name, value, readBack }).toEqual({ name, value: expect.stringMatching(MODERN_FORMAT), readBack: { name: 'Zoë' } });
        }
      });

      it('a tampered cookie is an empty session on both sides', async () => {
        const browser = new Browser();
        await browser.post(ctx.django, '/set', { role: 'user' });
        const good = browser.cookie!;
        const last = good.at(-1) === 'A' ? 'B' : 'A';
        const tampered = good.slice(0, -1) + last;
        for (const name of ['Nest', 'Django'] as const) {
          const reader = new Browser(tampered);
          const read = await reader.get(side(name), '/session');
          expect(read.body.data).toEqual({});
          expect(reader.cookie).not.toBe(tampered);
        }
      });
    }
  });
}
