/**
 * Redis going away under a running app (a private redis-server, stopped mid-run; the shared one is
 * never touched): on `cache` a request that needs its session answers 503 with Retry-After — not
 * a hang, not a stack trace — and the app recovers when Redis is back; on `cached_db` requests go
 * on from the database throughout.
 */
import type { INestApplication } from '@nestjs/common';
import { rm } from 'node:fs/promises';
import { Client, tempSqliteFile } from '../support/app.js';
import { describeWith } from '../support/env.js';
import { privateRedisServer, REDIS_CLIENTS, type PrivateRedis } from '../support/redis.js';
import { startVisitApp } from '../support/session-app.js';

const SECRET = 'redis-faults-secret';
const nodeRedis = REDIS_CLIENTS.find((f) => f.name === 'node-redis')!;

/** Retries `request` until it answers 200 (Redis just came back; the client reconnects). */
async function until200(request: () => Promise<{ status: number }>): Promise<{ status: number }> {
  let reply = await request();
  for (let i = 0; i < 40 && reply.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 250));
    reply = await request();
  }
  return reply;
}

describeWith(['redis'], 'when Redis goes away mid-run', () => {
  let server: PrivateRedis;
  let client: unknown;
  let app: INestApplication | undefined;
  const file = tempSqliteFile('redis-faults');

  beforeEach(async () => {
    server = await privateRedisServer();
    client = await nodeRedis.connect(server.url, { disableOfflineQueue: true });
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await nodeRedis.close(client);
    await server.stop();
    await rm(file, { force: true });
  });

  it('cache: 503 with Retry-After while it is down (quickly, no driver words), and sessions work again once it is back', async () => {
    let url: string;
    ({ app, url } = await startVisitApp({ secretKey: SECRET, engine: 'cache', cache: { client }, backendTimeout: 1 }));
    const browser = new Client(url);
    expect((await browser.post('/visit', { write: true })).status).toBe(200);
    expect((await browser.post('/visit', { write: true })).json()).toEqual({ visits: 1 });

    await server.stop();
    for (const body of [{}, { write: true }]) {
      const started = Date.now();
      const reply = await browser.post('/visit', body);
      expect(reply.status).toBe(503);
      expect(reply.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(reply.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|redis:\/\//i);
      expect(Date.now() - started).toBeLessThan(2_500);
    }

    await server.start();
    // The private server keeps nothing across a restart (--save ""): a fresh session, and it works.
    const back = await until200(() => browser.post('/visit', { write: true }));
    expect(back.status).toBe(200);
    expect((await browser.post('/visit', {})).json()).toEqual({ visits: 1 });
  }, 30_000);

  it('cached_db: every request keeps working from the database while Redis is down, and after', async () => {
    let url: string;
    ({ app, url } = await startVisitApp({ secretKey: SECRET, engine: 'cached_db', cache: { client }, backendTimeout: 1 }, { type: 'sqlite', database: file }));
    const browser = new Client(url);
    expect((await browser.post('/visit', { write: true })).status).toBe(200);

    await server.stop();
    for (let visit = 2; visit <= 4; visit++) {
      const reply = await browser.post('/visit', { write: true });
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual({ visits: visit - 1 });
    }
    const fresh = new Client(url);
    expect((await fresh.post('/visit', { write: true })).status).toBe(200);
    expect((await fresh.post('/visit', {})).json()).toEqual({ visits: 1 });

    await server.start();
    const after = await until200(() => browser.post('/visit', {}));
    expect(after.status).toBe(200);
    expect((after as unknown as { json(): unknown }).json()).toEqual({ visits: 4 });
  }, 30_000);
});
