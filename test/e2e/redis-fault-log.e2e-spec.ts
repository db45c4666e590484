/**
 * What the app's log says when Redis fails under it: the client's own error (its class and
 * message), not a pointer to an error cause nobody prints — and no secret: not the password of the
 * client's URL, not the session key. A private redis-server with a password, stopped mid-run; the
 * shared server is never touched.
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import type { SessionModuleOptions } from '../../src/index.js';
import { Client, logs, removeSqliteFile, tempSqliteFile } from '../support/app.js';
import { SessionOpsController } from '../support/controllers.js';
import { describeWith } from '../support/env.js';
import { startVisitApp } from '../support/session-app.js';
import { privateRedisServer, REDIS_CLIENTS, type PrivateRedis } from '../support/redis.js';

const SECRET = 'redis-fault-log-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const PASSWORD = 'pw-Zq81xKeep0ut-of-logs';

/**
 * Each library's offline switch, as adaptRedisClient recommends: a command fails at once while
 * Redis is down. (ioredis and iovalkey do not reconnect here: a reconnect timer would outlive the test.)
 */
const FAIL_FAST: Record<string, Record<string, unknown>> = {
  'node-redis': { disableOfflineQueue: true },
  ioredis: { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => null },
  iovalkey: { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => null },
};

/** What the client reports while its server is down, in its own words (a part of its message). */
const CLIENT_WORDS: Record<string, RegExp> = {
  'node-redis': /ClientOfflineError: The client is offline/,
  ioredis: /Error: (Connection is closed|Stream isn't writeable)/,
  iovalkey: /Error: (Connection is closed|Stream isn't writeable)/,
};

/** The app on `session` (with `django_session` in `sqliteFile` when given), its logs captured. */
function startOn(session: SessionModuleOptions, sqliteFile?: string): Promise<{ app: INestApplication; url: string }> {
  return startVisitApp(session, sqliteFile === undefined ? undefined : { type: 'sqlite', database: sqliteFile }, { controllers: [SessionOpsController], logger: logs });
}

describeWith(['redis'], 'the log of a Redis fault', () => {
  let server: PrivateRedis;
  let client: unknown;
  let app: INestApplication | undefined;
  const file = tempSqliteFile('redis-fault-log');

  beforeEach(async () => {
    server = await privateRedisServer();
    // The password is set on the running server: its restart-free life in this test is all it needs.
    const setup = REDIS_CLIENTS.find((f) => f.name === 'node-redis')!;
    const admin = await setup.connect(server.url);
    await setup.call(admin, 'CONFIG', 'SET', 'requirepass', PASSWORD);
    await setup.close(admin);
    logs.clear();
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await server.stop();
    await removeSqliteFile(file);
  });

  /** Every log line of the run, one per line. */
  const allLogs = () => logs.entries.map((e) => `[${e.level}] ${e.context ?? ''} ${e.message}`).join('\n');

  for (const library of REDIS_CLIENTS) {
    it(`cache on ${library.name}: the 503's log line tells the client's error, without the password or the session key`, async () => {
      const authUrl = server.url.replace('redis://', `redis://default:${PASSWORD}@`);
      client = await library.connect(authUrl, FAIL_FAST[library.name]);
      try {
        let url: string;
        ({ app, url } = await startOn({ secretKey: SECRET, engine: 'cache', cache: { client }, backendTimeout: 1 }));
        const browser = new Client(url);
        expect((await browser.ops([['set', 'a', 1]])).status).toBe(200);
        const key = browser.sessionKey!;

        await server.stop();
        const reply = await browser.ops([['items']]);
        expect(reply.status).toBe(503);

        const errors = logs.at('error', 'SessionExceptionFilter').map((e) => e.message);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatch(/^Redis is unavailable: GETRANGE failed \(/);
        expect(errors[0]).toMatch(CLIENT_WORDS[library.name]!);
        expect(errors[0]).not.toMatch(/see this error's cause/);
        expect(allLogs()).not.toContain(PASSWORD);
        expect(allLogs()).not.toContain(key);
      } finally {
        await library.close(client);
      }
    }, 30_000);
  }

  it("cached_db: the log of a failed cache read tells the client's error, without the password or the session key", async () => {
    const nodeRedis = REDIS_CLIENTS.find((f) => f.name === 'node-redis')!;
    client = await nodeRedis.connect(server.url.replace('redis://', `redis://default:${PASSWORD}@`), FAIL_FAST['node-redis']);
    try {
      let url: string;
      ({ app, url } = await startOn({ secretKey: SECRET, engine: 'cached_db', cache: { client }, backendTimeout: 1 }, file));
      const browser = new Client(url);
      expect((await browser.ops([['set', 'a', 1]])).status).toBe(200);
      const key = browser.sessionKey!;

      await server.stop();
      const reply = await browser.ops([['items']]);
      expect(reply.status).toBe(200);

      const errors = logs.at('error', 'django.contrib.sessions').map((e) => e.message);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors[0]).toMatch(/^Error reading from the cache \(Redis is unavailable: GETRANGE failed \(ClientOfflineError: The client is offline\)\); the database is used$/);
      expect(allLogs()).not.toContain(PASSWORD);
      expect(allLogs()).not.toContain(key);
    } finally {
      await nodeRedis.close(client);
    }
  }, 30_000);
});
