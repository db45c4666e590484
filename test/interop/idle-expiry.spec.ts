/**
 * The `touchAfter` option against a real Django (3.2, 5.2 and 6.x), on each engine both share:
 * a session Django wrote, idle for longer than `touchAfter`, is read by Nest, which extends its
 * stored expiry without writing the data (db: `expire_date`; cache: the TTL; cached_db: both; file:
 * the modification time; signed_cookies: the cookie signed again) — and Django, once the old
 * expiry has passed, still loads it, with the data it wrote. A second session, aged alike but not
 * read by Nest, is gone for Django by then: the control that the aging took.
 *
 * The age is simulated in storage (the expiry moved to 2 s from now, as if the session had been
 * saved SESSION_COOKIE_AGE - 2 s ago), so the test waits 2.5 s, not two weeks. The Nest app runs in
 * this process (touchAfter: 60) on the same storage as the Django process.
 */
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { createClient } from 'redis';
import { SessionCodec, type SessionModuleOptions } from '../../src/index.js';
import { SIGNED_COOKIES_SALT } from '../../src/exports/engines.js';
import { djangoDateText } from '../support/app.js';
import { deleteKeysWithPrefix, uniquePrefix } from '../support/redis.js';
import { startVisitApp } from '../support/session-app.js';
import { Browser, COOKIE_NAME, instant, parseSetCookie, sleepUntil } from './support/browser.js';
import { createDatabase, type Database } from './support/databases.js';
import { describeWithEachDjango } from './support/djangos.js';
import { manage, startDjango, type DjangoEnv, type Server, type SessionEngineName } from './support/processes.js';
import { COOKIE_AGE, SECRET_KEY } from './support/values.js';

const ENGINES: SessionEngineName[] = ['db', 'cache', 'cached_db', 'file', 'signed_cookies'];
const TOUCH_AFTER = 60;
/** How far the aged sessions' expiry is moved: it passes during the test. */
const LEFT_MS = 2000;

describeWithEachDjango(['redis'], (django) => `touchAfter: ${django} honours the expiry Nest extended`, (env, version) => {
  for (const engine of ENGINES) {
    describe(`SESSION_ENGINE '${engine}'`, () => {
      const usesCache = engine === 'cache' || engine === 'cached_db';
      let db: Database;
      let dir = '';
      let cachePrefix = '';
      let redis: ReturnType<typeof createClient> | undefined;
      let appRedis: ReturnType<typeof createClient> | undefined;
      let djangoServer: Server | undefined;
      let nestApp: INestApplication | undefined;
      let nest: Server;

      const cacheKey = (key: string) => `${cachePrefix}:1:django.contrib.sessions.${engine}${key}`;
      const sessionFile = (key: string) => join(dir, `${COOKIE_NAME}${key}`);

      beforeAll(async () => {
        db = await createDatabase('sqlite', undefined, 'idle', engine);
        if (engine === 'file') dir = mkdtempSync(join(tmpdir(), 'djs-idle-files-'));
        if (usesCache) cachePrefix = uniquePrefix(`idle-${engine}`).slice(0, -1);
        const djangoEnv: DjangoEnv = {
          python: env.django,
          dbUrl: db.url,
          secretKey: SECRET_KEY,
          engine,
          ...(usesCache ? { redisUrl: env.redis, cachePrefix, cacheSerializer: 'pickle' as const } : {}),
          ...(engine === 'file' ? { filePath: dir } : {}),
        };
        await manage(djangoEnv, ['migrate', '--noinput', '-v', '0']);
        djangoServer = await startDjango(djangoEnv);
        const session: SessionModuleOptions = { secretKey: SECRET_KEY, engine, djangoVersion: version.release as SessionModuleOptions['djangoVersion'], touchAfter: TOUCH_AFTER };
        if (usesCache) {
          redis = createClient({ url: env.redis });
          appRedis = createClient({ url: env.redis });
          for (const client of [redis, appRedis]) client.on('error', () => undefined);
          await Promise.all([redis.connect(), appRedis.connect()]);
          session.cache = { client: appRedis, keyPrefix: cachePrefix, serializer: 'pickle' };
        }
        if (engine === 'file') session.filePath = dir;
        const started = await startVisitApp(session, { type: 'sqlite', database: new URL(db.url).pathname, busyTimeout: 5000 });
        nestApp = started.app;
        nest = { name: 'Nest', url: started.url, logs: () => '', stop: async () => undefined };
      }, 120_000);

      afterAll(async () => {
        await nestApp?.close();
        await djangoServer?.stop();
        if (cachePrefix) await deleteKeysWithPrefix(env.redis, `${cachePrefix}:`);
        for (const client of [redis, appRedis]) if (client?.isOpen) client.destroy();
        if (dir) rmSync(dir, { recursive: true, force: true });
        await db?.drop();
      }, 60_000);

      /**
       * Moves the stored expiry of the session `key` names (data `data`) to `at`, as if it had been
       * saved SESSION_COOKIE_AGE before that; resolves to the cookie value now naming it.
       */
      async function age(key: string, data: Record<string, unknown>, at: number): Promise<string> {
        if (engine === 'db' || engine === 'cached_db') {
          await db.query('UPDATE django_session SET expire_date = ? WHERE session_key = ?', [djangoDateText(at), key]);
        }
        if (usesCache) expect(await redis!.pExpireAt(cacheKey(key), at)).toBe(1);
        if (engine === 'file') {
          const written = (at - COOKIE_AGE * 1000) / 1000;
          utimesSync(sessionFile(key), written, written);
        }
        if (engine === 'signed_cookies') {
          return new SessionCodec({ secretKey: SECRET_KEY, salt: SIGNED_COOKIES_SALT }).encode(data, Math.floor(at / 1000) - COOKIE_AGE);
        }
        return key;
      }

      it('a session Django wrote and Nest read after touchAfter is still live for Django past its old expiry, with its data; an untouched one is not', async () => {
        const data = { by: 'Django', text: 'Zoë 😀' };
        const write = async () => {
          const browser = new Browser();
          expect((await browser.post(djangoServer!, '/set', data)).status).toBe(200);
          return browser.cookie!;
        };
        const [readKey, controlKey] = await Promise.all([write(), write()]);
        const oldExpiry = Date.now() + LEFT_MS;
        const reader = new Browser(await age(readKey, data, oldExpiry));
        const control = new Browser(await age(controlKey, data, oldExpiry));

        // Nest reads it (POST /visit without a write: the session is not modified).
        const visit = await reader.post(nest, '/visit', {});
        expect(visit.status).toBe(200);
        expect(visit.setCookie).toHaveLength(1);
        const { value, attributes } = parseSetCookie(visit.setCookie[0]!);
        expect(attributes['max-age']).toBe(String(COOKIE_AGE));
        if (engine !== 'signed_cookies') expect(value).toBe(readKey);
        expect(reader.cookie).toBe(value);

        // What Django's storage now says, looked at through Django where it tells.
        if (engine === 'db' || engine === 'cached_db') {
          const { row } = (await new Browser().get(djangoServer!, `/store/${readKey}`)).body;
          expect(instant(row.expire_date)).toBeGreaterThan(visit.sentAt + COOKIE_AGE * 1000 - 2000);
          expect(row.decoded).toEqual(data);
        }
        if (usesCache) {
          const entry = (await new Browser().get(djangoServer!, `/cache-entry/${readKey}`)).body;
          expect(entry.pttl).toBeGreaterThan(COOKIE_AGE * 1000 - 60_000);
          expect(entry.data).toEqual(data);
        }

        await sleepUntil(oldExpiry + 500);
        const read = await reader.get(djangoServer!, '/session');
        expect(read.body.data).toEqual(data);
        expect(reader.cookie).toBe(value); // not deleted, not replaced
        if (engine !== 'signed_cookies') expect(read.body.key).toBe(readKey);

        // The control, aged alike and never read by Nest: gone for Django.
        expect((await control.get(djangoServer!, '/session')).body.data).toEqual({});
      });
    });
  }
});
