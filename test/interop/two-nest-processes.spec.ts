/**
 * Two Nest processes on one PostgreSQL and one Redis (`cached_db`), as two replicas behind a load
 * balancer: one browser alternating between them sees one session. A login on A is seen on B, a
 * logout on B is seen at once on A, and no read after a write, on either, is stale.
 */
import { describeWith } from '../support/env.js';
import { deleteKeysWithPrefix, uniquePrefix } from '../support/redis.js';
import { Browser } from './support/browser.js';
import { buildNestServer, type NestBuild } from './support/build.js';
import { createDatabase, type Database } from './support/databases.js';
import { startNest, type NestEnv, type Server } from './support/processes.js';
import { SECRET_KEY } from './support/values.js';

describeWith(['postgres', 'redis'], 'two Nest processes on one PostgreSQL + one Redis (cached_db)', (env) => {
  let build: NestBuild;
  let db: Database;
  let a: Server;
  let b: Server;
  const prefix = uniquePrefix('two-nest').slice(0, -1);

  beforeAll(async () => {
    build = buildNestServer();
    db = await createDatabase('postgres', env.postgres, 'twonest', 'x');
    const common: NestEnv = { serverJs: build.serverJs, dbUrl: db.url, secretKey: SECRET_KEY, tz: 'UTC', engine: 'cached_db', redisUrl: env.redis, cachePrefix: prefix };
    // One after the other: both run the migration, which must find the table the first made.
    a = await startNest({ ...common, tz: 'Asia/Kolkata' });
    b = await startNest({ ...common, tz: 'America/New_York', redisClient: 'ioredis' });
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await deleteKeysWithPrefix(env.redis, prefix);
    await db?.drop();
    build?.remove();
  }, 60_000);

  const data = async (browser: Browser, server: Server) => ((await browser.get(server, '/session')).body as { data: Record<string, unknown> }).data;

  it('a login on A is seen on B; every write on one is read at once on the other; a logout on B is seen at once on A', async () => {
    const browser = new Browser();
    await browser.post(a, '/set', { user: 'alice' });
    expect(browser.cookie).toMatch(/^[a-z0-9]{32}$/);
    expect(await data(browser, b)).toEqual({ user: 'alice' });

    for (let visit = 1; visit <= 20; visit++) {
      const [writer, reader] = visit % 2 ? [a, b] : [b, a];
      await browser.post(writer, '/set', { visits: visit });
      expect(await data(browser, reader)).toEqual({ user: 'alice', visits: visit });
    }

    const key = browser.cookie;
    await browser.post(b, '/flush');
    expect(browser.cookie).toBeNull();
    // The old cookie, replayed on A right after the logout on B: nothing is left of the session.
    expect(await data(new Browser(key), a)).toEqual({});
  });

  it('a key cycled on B is dead on A at once, and the data moved with it', async () => {
    const browser = new Browser();
    await browser.post(a, '/set', { cart: [1, 2] });
    const before = browser.cookie;
    await browser.post(b, '/cycle');
    expect(browser.cookie).not.toBe(before);
    expect(await data(browser, a)).toEqual({ cart: [1, 2] });
    expect(await data(new Browser(before), a)).toEqual({});
  });
});
