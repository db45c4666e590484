/**
 * The session's life over HTTP (BEHAVIOURS 17, 18, 65, 66; ENCODING.md §4): cycleKey() keeps the
 * data under a new key, flush() ends the session, and what counts as a modification — including
 * the seed's gotcha about nested values and `session.modified = true`.
 */
import { PLATFORMS, sessionCookieOf, startApp, stored, type Client, type TestApp } from '../support/app.js';
import { SessionOpsController, UNDEFINED } from '../support/controllers.js';

const KEY = /^[a-z0-9]{32}$/;

describe.each(PLATFORMS)('session lifecycle on %s', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  async function saved(client: Client, ops: Parameters<Client['ops']>[0]): Promise<string> {
    const reply = await client.ops(ops);
    expect(reply.status).toBe(200);
    return sessionCookieOf(reply)!.value;
  }

  describe('cycleKey()', () => {
    it('keeps the data (same items, same order) under a new key; the old row is gone; the new key is sent (BEHAVIOURS 18)', async () => {
      const client = t.client();
      const old = await saved(client, [['set', 'zeta', 1], ['set', 'alpha', { nested: [1, 2] }], ['set', 'mid', 'x'], ['setExpiry', 3600]]);
      const reply = await client.ops([['cycleKey'], ['items'], ['sessionKey']]);
      expect(reply.status).toBe(200);
      const [, items, sessionKey] = reply.json().results;
      expect(items).toEqual([
        ['zeta', 1],
        ['alpha', { nested: [1, 2] }],
        ['mid', 'x'],
        ['_session_expiry', 3600],
      ]);
      expect(sessionKey).toMatch(KEY);
      expect(sessionKey).not.toBe(old);
      const cookie = sessionCookieOf(reply)!;
      expect(cookie.value).toBe(sessionKey);
      expect(cookie.attributes['max-age']).toBe('3600'); // the custom expiry went along
      expect(reply.vary).toBe('Cookie');
      expect(await t.db.row(old)).toBeUndefined();
      const row = (await stored(t.db, sessionKey))!;
      expect(Object.entries(row.data)).toEqual(items);
    });

    it('on the next request, the new key gives the data and the old key gives nothing', async () => {
      const client = t.client();
      const old = await saved(client, [['set', 'a', 1]]);
      await client.ops([['cycleKey']]);
      expect(client.sessionKey).not.toBe(old);
      expect((await client.ops([['get', 'a']])).json().results).toEqual([1]);
      expect((await t.client().ops([['get', 'a']], { cookie: `sessionid=${old}` })).json().results).toEqual([UNDEFINED]);
    });

    it('on a new session (no cookie) with data: saved under a fresh key, one row', async () => {
      const before = await t.db.count();
      const reply = await t.client().ops([['set', 'a', 1], ['cycleKey'], ['sessionKey']]);
      const [, , key] = reply.json().results;
      expect(key).toMatch(KEY);
      expect(sessionCookieOf(reply)!.value).toBe(key);
      expect((await stored(t.db, key))!.data).toEqual({ a: 1 });
      expect(await t.db.count()).toBe(before + 1);
    });

    it('on an empty new session: a row and a cookie all the same (Django\'s create() makes the session non-empty)', async () => {
      const reply = await t.client().ops([['cycleKey'], ['sessionKey']]);
      const [, key] = reply.json().results;
      expect(key).toMatch(KEY);
      expect(sessionCookieOf(reply)!.value).toBe(key);
      expect((await stored(t.db, key))!.data).toEqual({});
    });
  });

  describe('flush()', () => {
    it('deletes the row and the cookie, forgets the key (sessionKey null), Vary: Cookie (BEHAVIOURS 17, 63)', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'a', 1]]);
      const reply = await client.ops([['flush'], ['sessionKey'], ['keys'], ['isEmpty']]);
      expect(reply.json().results).toEqual([UNDEFINED, null, [], true]);
      const cookie = sessionCookieOf(reply)!;
      expect(cookie.value).toBe('');
      expect(cookie.attributes['max-age']).toBe('0');
      expect(reply.vary).toBe('Cookie');
      expect(await t.db.row(key)).toBeUndefined();
    });

    it('without a cookie: no Set-Cookie at all, but Vary: Cookie, and no row (BEHAVIOURS 65)', async () => {
      const before = await t.db.count();
      const reply = await t.client().ops([['flush']]);
      expect(reply.status).toBe(200);
      expect(reply.setCookies).toEqual([]);
      expect(reply.vary).toBe('Cookie');
      expect(await t.db.count()).toBe(before);
    });

    it('then a write: a new session under a new key (one Set-Cookie, with the new key); the old row is gone', async () => {
      const client = t.client();
      const old = await saved(client, [['set', 'a', 1]]);
      const reply = await client.ops([['flush'], ['set', 'b', 2]]);
      expect(reply.setCookies).toHaveLength(1);
      const fresh = sessionCookieOf(reply)!.value;
      expect(fresh).toMatch(KEY);
      expect(fresh).not.toBe(old);
      expect(await t.db.row(old)).toBeUndefined();
      expect((await stored(t.db, fresh))!.data).toEqual({ b: 2 });
    });

    it('not awaited by the handler: the row is still deleted before the response', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'a', 1]]);
      const reply = await client.ops([['flushNoAwait']]);
      expect(reply.status).toBe(200);
      expect(sessionCookieOf(reply)!.value).toBe('');
      expect(await t.db.row(key)).toBeUndefined();
    });
  });

  describe('what counts as a modification', () => {
    it('the seed\'s gotcha: session.get("foo").bar = "baz" is NOT saved', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'foo', {}]]);
      const reply = await client.ops([['mutateNested', 'foo', 'bar', 'baz'], ['modified']]);
      expect(reply.json().results).toEqual([UNDEFINED, false]);
      expect(reply.setCookies).toEqual([]);
      expect((await stored(t.db, key))!.data).toEqual({ foo: {} });
    });

    it('...and saved once session.modified = true', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'foo', {}]]);
      const reply = await client.ops([['mutateNested', 'foo', 'bar', 'baz'], ['setModified', true]]);
      expect(sessionCookieOf(reply)!.value).toBe(key);
      expect((await stored(t.db, key))!.data).toEqual({ foo: { bar: 'baz' } });
    });

    it('session.modified = true alone re-saves an unchanged session (fresh expire_date, cookie re-sent)', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'a', 1]]);
      await t.db.run("UPDATE django_session SET expire_date = '2099-01-01 00:00:00' WHERE session_key = ?", [key]);
      const reply = await client.ops([['setModified', true]]);
      expect(sessionCookieOf(reply)!.value).toBe(key);
      expect((await t.db.row(key))!.expire_date).not.toBe('2099-01-01 00:00:00');
    });

    it('set of a new value, delete, pop and update({}) are modifications; get, has, keys, values, items are not', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'a', 1], ['set', 'b', 2]]);
      const reads = await client.ops([['get', 'a'], ['has', 'b'], ['keys'], ['values'], ['items'], ['pop', 'zz', 'd'], ['setDefault', 'a', 9]]);
      expect(reads.json().results).toEqual([1, true, ['a', 'b'], [1, 2], [['a', 1], ['b', 2]], 'd', 1]);
      expect(reads.setCookies).toEqual([]);
      expect(reads.vary).toBe('Cookie');
      for (const op of [
        ['delete', 'a'],
        ['pop', 'b'],
        ['update', {}],
        ['set', 'c', 3],
        ['setDefault', 'd', 4],
      ] as const) {
        const reply = await client.ops([[...op]]);
        expect([op[0], sessionCookieOf(reply)?.value]).toEqual([op[0], key]);
      }
      expect((await stored(t.db, key))!.data).toEqual({ c: 3, d: 4 });
    });

    it('session.set("foo", {}) over an equal value is still a modification (the seed: "Session is modified")', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'foo', {}]]);
      const reply = await client.ops([['set', 'foo', {}]]);
      expect(sessionCookieOf(reply)?.value).toBe(key);
    });
  });

  describe('concurrent requests on one session', () => {
    it('read-modify-write from two requests: last writer wins, no merge (BEHAVIOURS 88, as Django)', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'x', 0]]);
      const [a, b] = await Promise.all([
        client.ops([['get', 'x'], ['sleep', 150], ['set', 'a', 1]]),
        client.ops([['get', 'x'], ['sleep', 150], ['set', 'b', 1]]),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const data = (await stored(t.db, key))!.data;
      expect([{ x: 0, a: 1 }, { x: 0, b: 1 }]).toContainEqual(data);
    });

    it('a logout (flush) in another tab while a request runs: that request\'s write gets 400 SessionInterrupted, the row stays gone', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'member_id', 1]]);
      const slow = client.ops([['get', 'member_id'], ['sleep', 200], ['set', 'cart', ['book']]]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const logout = await t.client().ops([['flush']], { cookie: `sessionid=${key}` });
      expect(logout.status).toBe(200);
      const reply = await slow;
      expect(reply.status).toBe(400);
      expect(reply.setCookies).toEqual([]);
      expect(await t.db.row(key)).toBeUndefined();
    });
  });
});
