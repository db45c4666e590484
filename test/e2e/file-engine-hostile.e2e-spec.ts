/**
 * The `file` engine's reads are bounded by type, size and time: files named like session files
 * that are FIFOs, symbolic links or a 1 GiB sparse file are refused unread (logged; the visitor
 * gets a new session; the file is left alone), and a file system that does not answer in time
 * (libuv's thread pool held by something else) answers 503 with Retry-After within
 * `backendTimeout`. All over real HTTP, on real files in a temporary directory, on Express and
 * Fastify: the process stays up, and other visitors' requests are not stalled.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, lstatSync, openSync } from 'node:fs';
import { mkdtemp, open, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logs, PLATFORMS, sessionCookieOf, startApp, TEST_SECRET, unknownKey, type Reply, type TestApp } from '../support/app.js';
import { SessionOpsController } from '../support/controllers.js';

/** Seconds a file operation may take (the app's `backendTimeout`). */
const STORE_TIMEOUT = 1;
/** How long a request may take here before the test calls it stalled: generous (2 cores, shared). */
const ANSWER_WITHIN_MS = 4_000;

/** `request`, or a rejection once `ms` have passed: a stalled request fails the test instead of hanging it. */
function within<T>(ms: number, request: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  request.catch(() => undefined);
  return Promise.race([request, timeout]).finally(() => clearTimeout(timer));
}

/** Opens each FIFO for writing without blocking and closes it: a reader blocked on it gets EOF. */
function releaseFifos(paths: string[]): void {
  for (const path of paths) {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: nobody is reading it; ENOENT: gone.
    }
  }
}

const mkfifo = (path: string) => execFileSync('mkfifo', ['-m', '600', path]);

/** What the visitor's session holds, as the ops controller answers (`items`). */
async function sessionItems(reply: Reply): Promise<Record<string, unknown>> {
  return Object.fromEntries(reply.json().results[0] as Array<[string, unknown]>);
}

for (const platform of PLATFORMS) {
  describe(`the file engine on hostile files, on ${platform}`, () => {
    let t: TestApp;
    let directory: string;
    const fifos: string[] = [];

    beforeAll(async () => {
      t = await startApp({ platform, engine: 'file', session: { secretKey: TEST_SECRET, backendTimeout: STORE_TIMEOUT }, controllers: [SessionOpsController] });
      directory = (t.store as unknown as { directory: string }).directory;
    });

    afterAll(async () => {
      // Code that still blocks on a FIFO (the code before this fix) would hold the process open.
      releaseFifos(fifos);
      await t?.close();
    });

    beforeEach(() => logs.clear());

    /** A file name the engine would read for `key`. */
    const fileOf = (key: string) => join(directory, `sessionid${key}`);

    /** A visitor with a saved session: `{ visits: 3 }`; resolves to its key. */
    async function realVisitor() {
      const client = t.client();
      const saved = await client.ops([['set', 'visits', 3]]);
      expect(saved.status).toBe(200);
      return client;
    }

    it('FIFOs named like session files: each request answers at once with a new session, the FIFOs are left alone, and another visitor is not stalled', async () => {
      const member = await realVisitor();
      // More FIFOs than libuv has threads (4 by default): each blocking open would hold one for good.
      const keys = Array.from({ length: 6 }, () => unknownKey());
      for (const key of keys) {
        mkfifo(fileOf(key));
        fifos.push(fileOf(key));
      }

      const started = Date.now();
      const hostile = keys.map((key) => within(ANSWER_WITHIN_MS, t.client().ops([['items']], { cookie: `sessionid=${key}` }), 'a request naming a FIFO'));
      const replies = await Promise.all(hostile);
      for (const reply of replies) {
        expect(reply.status).toBe(200);
        expect(await sessionItems(reply)).toEqual({});
      }
      expect(Date.now() - started).toBeLessThan(ANSWER_WITHIN_MS);

      // Another visitor's session still reads, promptly.
      const mine = await within(ANSWER_WITHIN_MS, member.ops([['items']]), "the member's request");
      expect(mine.status).toBe(200);
      expect(await sessionItems(mine)).toEqual({ visits: 3 });

      // Logged as Django logs data it cannot read, and never the key.
      const warnings = logs.at('warn', 'django.security.SuspiciousSession').map((e) => e.message);
      expect(warnings.some((m) => /not a regular file/.test(m))).toBe(true);
      expect(warnings.join('\n')).not.toContain(keys[0]);
      for (const key of keys) expect(lstatSync(fileOf(key)).isFIFO()).toBe(true);

      // A visitor who saves on top of a FIFO's key gets a session under a new key.
      const writer = t.client();
      writer.jar.set('sessionid', keys[0]!);
      const written = await within(ANSWER_WITHIN_MS, writer.ops([['set', 'a', 1]]), 'a write naming a FIFO');
      expect(written.status).toBe(200);
      expect(sessionCookieOf(written)?.value).toMatch(/^[a-z0-9]{32}$/);
      expect(sessionCookieOf(written)?.value).not.toBe(keys[0]);
      expect(lstatSync(fileOf(keys[0]!)).isFIFO()).toBe(true);
    }, 30_000);

    it('a 1 GiB sparse file named like a session file is refused unread: a new session, promptly, and the process does not grow by it', async () => {
      const key = unknownKey();
      await writeFile(fileOf(key), '', { mode: 0o600 });
      await truncate(fileOf(key), 1024 ** 3);
      const rssBefore = process.memoryUsage().rss;

      const reply = await within(ANSWER_WITHIN_MS, t.client().ops([['items']], { cookie: `sessionid=${key}` }), 'a request naming a 1 GiB file');
      expect(reply.status).toBe(200);
      expect(await sessionItems(reply)).toEqual({});
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 ** 2);
      expect(logs.at('warn', 'django.security.SuspiciousSession').some((e) => /larger than \d+ bytes/.test(e.message))).toBe(true);
      expect((await stat(fileOf(key))).size).toBe(1024 ** 3);
      await rm(fileOf(key));
    }, 30_000);

    it("a symbolic link named like a session file is not followed: it does not give another visitor's session", async () => {
      const member = await realVisitor();
      const key = unknownKey();
      await symlink(fileOf(member.sessionKey!), fileOf(key));

      const reply = await within(ANSWER_WITHIN_MS, t.client().ops([['items']], { cookie: `sessionid=${key}` }), 'a request naming a symbolic link');
      expect(reply.status).toBe(200);
      expect(await sessionItems(reply)).toEqual({});
      expect(logs.at('warn', 'django.security.SuspiciousSession').some((e) => /symbolic link/.test(e.message))).toBe(true);
      expect(lstatSync(fileOf(key)).isSymbolicLink()).toBe(true);
      await rm(fileOf(key));
    }, 30_000);

    it('when the file system does not answer within backendTimeout (the thread pool held by others), a request answers 503 with Retry-After, and works again after', async () => {
      const member = await realVisitor();
      // Something else in the process holds every libuv thread: blocking opens of FIFOs elsewhere.
      const elsewhere = await mkdtemp(join(tmpdir(), 'nds-hostile-threads-'));
      const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
      const held = Array.from({ length: threads }, (_, i) => join(elsewhere, `fifo${i}`));
      for (const path of held) mkfifo(path);
      const holders = held.map((path) => open(path, 'r').then((handle) => handle.close()));
      try {
        const started = Date.now();
        const reply = await within(ANSWER_WITHIN_MS + 2_000, member.ops([['items']]), 'a request while the file system stalls');
        expect(reply.status).toBe(503);
        expect(reply.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(Date.now() - started).toBeLessThan(STORE_TIMEOUT * 1000 + 2_500);
        expect(reply.text).not.toContain(directory);
      } finally {
        releaseFifos(held);
        await Promise.all(holders);
        await rm(elsewhere, { recursive: true, force: true });
      }
      const after = await within(ANSWER_WITHIN_MS, member.ops([['items']]), 'a request after the stall');
      expect(after.status).toBe(200);
      expect(await sessionItems(after)).toEqual({ visits: 3 });
    }, 30_000);
  });
}
