/**
 * The `touchAfter` option (issue 15, item 5): a request that leaves its session unchanged extends
 * the session's stored expiry once it was set more than `touchAfter` seconds ago — one cheap write
 * (db: `expire_date` alone; cache: `EXPIRE`; file: the modification time; signed_cookies: the same
 * data signed again), the cookie's Max-Age sent again, the data untouched — and writes nothing
 * within `touchAfter`. On every engine of the e2e harness, Express and Fastify. The session's age is
 * simulated by moving its stored expiry directly in storage (`t.store.setExpiresAt`), never by
 * sleeping; what was written is read back from storage directly, and the storage I/O counted (db:
 * every SQL statement; cache: every Redis command).
 */
import { describeEngines, sessionCookieOf, startApp, TEST_SECRET, type EngineUnderTest, type TestApp } from '../support/app.js';
import { SessionOpsController } from '../support/controllers.js';

const AGE = 1_209_600; // cookieAge: Django's default
const TOUCH = 60;
const SECOND = 1000;

/** The storage operations of a read, a touch and a save, on the engines whose I/O is counted. */
const OPS: Partial<Record<EngineUnderTest, { read: string[]; touch: string[]; save: string[] }>> = {
  db: { read: ['SELECT'], touch: ['UPDATE'], save: ['UPDATE'] },
  // The PTTL goes with the read (sent with it, no round trip of its own).
  cache: { read: ['GETRANGE', 'PTTL'], touch: ['EXPIRE'], save: ['SET'] },
};

describeEngines('idle expiry (touchAfter)', (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, session: { secretKey: TEST_SECRET, touchAfter: TOUCH }, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  const ops = OPS[engine];

  /** A client holding a saved session `{ a: 1 }` (plus `more` ops) whose stored expiry was set `ago` seconds ago. */
  async function sessionSetAgo(ago: number, more: Array<[string, ...unknown[]]> = [], lifetime = AGE) {
    const client = t.client();
    await client.ops([['set', 'a', 1], ...more]);
    const cookie = await t.store.setExpiresAt(client.sessionKey!, Date.now() + (lifetime - ago) * SECOND);
    client.jar.set('sessionid', cookie);
    return { client, key: cookie, raw: t.store.stores ? await t.store.raw(cookie) : undefined, expiresAt: (await t.store.expiresAt(cookie))! };
  }

  it(`a read of a session whose expiry was set more than touchAfter ago extends it: one cheap write, the cookie again with Max-Age, the data untouched`, async () => {
    const { client, key, raw } = await sessionSetAgo(2 * TOUCH);
    t.io?.reset();
    const before = Date.now();
    const reply = await client.ops([['get', 'a']]);
    const after = Date.now();
    expect(reply.json().results).toEqual([1]);

    const cookie = sessionCookieOf(reply);
    expect(cookie?.attributes['max-age']).toBe(String(AGE));
    expect(reply.vary).toMatch(/Cookie/);
    const now = cookie!.value;
    if (t.store.stores) expect(now).toBe(key);
    else expect(now).not.toBe(key); // signed again: a new timestamp
    const expiresAt = (await t.store.expiresAt(now))!;
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / SECOND) * SECOND + AGE * SECOND - SECOND);
    expect(expiresAt).toBeLessThanOrEqual(after + AGE * SECOND + SECOND);

    expect(await t.store.data(now)).toEqual({ a: 1 });
    if (t.store.stores) expect(await t.store.raw(now)).toEqual(raw); // not written again
    if (ops) expect(t.io!.ops).toEqual([...ops.read, ...ops.touch]);
    if (engine === 'db') {
      const update = t.sql.statements.at(-1)!;
      expect(update).toMatch(/expire_date/);
      expect(update).not.toMatch(/session_data/);
    }

    // Refreshed now: the next request writes nothing.
    t.io?.reset();
    const next = await client.ops([['get', 'a']]);
    expect(next.json().results).toEqual([1]);
    expect(sessionCookieOf(next)).toBeUndefined();
    if (ops) expect(t.io!.ops).toEqual(ops.read);
  });

  it('within touchAfter of its last refresh: nothing written, no cookie', async () => {
    const { client, key, raw, expiresAt } = await sessionSetAgo(TOUCH / 2);
    t.io?.reset();
    const reply = await client.ops([['get', 'a']]);
    expect(reply.json().results).toEqual([1]);
    expect(sessionCookieOf(reply)).toBeUndefined();
    if (ops) expect(t.io!.ops).toEqual(ops.read);
    if (t.store.stores) {
      expect(await t.store.raw(key)).toEqual(raw);
      // (The cache's is now + PTTL: within a second.)
      expect(Math.abs((await t.store.expiresAt(key))! - expiresAt)).toBeLessThan(engine === 'cache' ? 1500 : 1);
    }
  });

  it('a handler that changes the session: the save refreshes the expiry, with no touch besides', async () => {
    const { client } = await sessionSetAgo(2 * TOUCH);
    t.io?.reset();
    const reply = await client.ops([['set', 'b', 2]]);
    expect(sessionCookieOf(reply)?.attributes['max-age']).toBe(String(AGE));
    expect(await t.store.data(sessionCookieOf(reply)!.value)).toEqual({ a: 1, b: 2 });
    if (ops) expect(t.io!.ops).toEqual([...ops.read, ...ops.save]);
  });

  it('setExpiry(seconds): the session is extended by its own lifetime, and the cookie says so', async () => {
    const { client, expiresAt } = await sessionSetAgo(2 * TOUCH, [['setExpiry', 600]], 600);
    const reply = await client.ops([['get', 'a']]);
    const cookie = sessionCookieOf(reply);
    expect(cookie?.attributes['max-age']).toBe('600');
    expect(await t.store.expiresAt(cookie!.value)).toBeGreaterThan(expiresAt + TOUCH * SECOND);
    expect(await t.store.data(cookie!.value)).toEqual({ a: 1, _session_expiry: 600 });
  });

  it('a browser-close session (setExpiry(0)): its stored expiry is extended, the cookie sent again without Max-Age', async () => {
    const { client, expiresAt } = await sessionSetAgo(2 * TOUCH, [['setExpiry', 0]]);
    const reply = await client.ops([['get', 'a']]);
    const cookie = sessionCookieOf(reply);
    expect(cookie).toBeDefined();
    expect(cookie!.attributes['max-age']).toBeUndefined();
    expect(cookie!.attributes.expires).toBeUndefined();
    expect(await t.store.expiresAt(cookie!.value)).toBeGreaterThan(expiresAt + TOUCH * SECOND);
  });

  it("a fixed expiry date (Django 4.1+'s set_expiry(datetime), an ISO string) is never moved", async () => {
    const until = new Date(Date.now() + 3600 * SECOND);
    const iso = until.toISOString().replace('Z', '+00:00');
    // Stored as Django would have it, last written long ago (older than touchAfter).
    const key = await t.store.put(t.store.unknownKey(), { a: 1, _session_expiry: iso }, engine === 'signed_cookies' ? Date.now() + (AGE - 2 * TOUCH) * SECOND : until.getTime());
    const client = t.client();
    client.jar.set('sessionid', key);
    const raw = t.store.stores ? await t.store.raw(key) : undefined;
    t.io?.reset();
    const reply = await client.ops([['get', 'a']]);
    expect(reply.json().results).toEqual([1]);
    expect(sessionCookieOf(reply)).toBeUndefined();
    if (ops) expect(t.io!.ops).toEqual(ops.read);
    if (t.store.stores) expect(await t.store.raw(key)).toEqual(raw);
  });

  it('a request without a session, or whose cookie names none: nothing written, no session cookie', async () => {
    t.io?.reset();
    const reply = await t.client().ops([['get', 'a']]);
    expect(sessionCookieOf(reply)).toBeUndefined();
    const unknown = await t.client().ops([['get', 'a']], { cookie: `sessionid=${t.store.unknownKey()}` });
    expect(unknown.setCookies.filter((c) => c.value !== '')).toEqual([]);
    if (ops) expect(t.io!.ops).toEqual(ops.read); // the unknown key's read only
  });
});

describeEngines('idle expiry with saveEveryRequest (touchAfter is moot: every request saves)', (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, session: { secretKey: TEST_SECRET, touchAfter: TOUCH, saveEveryRequest: true }, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  it('a read saves the whole session, as without touchAfter (no touch besides)', async () => {
    const client = t.client();
    await client.ops([['set', 'a', 1]]);
    await t.store.setExpiresAt(client.sessionKey!, Date.now() + (AGE - 2 * TOUCH) * SECOND);
    t.io?.reset();
    const reply = await client.ops([['get', 'a']]);
    expect(sessionCookieOf(reply)?.attributes['max-age']).toBe(String(AGE));
    const ops = OPS[engine]!;
    expect(t.io!.ops).toEqual([...ops.read, ...ops.save]);
  });
}, ['db', 'cache']);
