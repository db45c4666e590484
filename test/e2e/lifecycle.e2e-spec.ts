/**
 * The session's life over HTTP (Django's flush, cycle_key and modified rules): cycleKey() keeps the
 * data under a new key, flush() ends the session, and what counts as a modification — including
 * Django's documented gotcha about nested values and `session.modified = true` — on every engine (on
 * signed_cookies the key is the data: every save that changes it sends a new value).
 */
import { describeEngines, resentKey, sessionCookieOf, startApp, type Client, type TestApp } from '../support/app.js';
import { SessionOpsController, UNDEFINED } from '../support/controllers.js';

describeEngines('session lifecycle', (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());
  /** False on signed_cookies: nothing is stored on the server, the cookie is the session. */
  const stores = engine !== 'signed_cookies';

  async function saved(client: Client, ops: Parameters<Client['ops']>[0]): Promise<string> {
    const reply = await client.ops(ops);
    expect(reply.status).toBe(200);
    return sessionCookieOf(reply)!.value;
  }

  describe('cycleKey()', () => {
    it('keeps the data (same items, same order) under a new key; the old row is gone; the new key is sent', async () => {
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
      expect(sessionKey).toMatch(t.store.keyPattern);
      // signed_cookies: the same data signed in the same second is the same value (as Django's cycle_key()).
      if (stores) expect(sessionKey).not.toBe(old);
      const cookie = sessionCookieOf(reply)!;
      // signed_cookies: the response's save signs the data again (same data, maybe another second).
      if (stores) expect(cookie.value).toBe(sessionKey);
      else expect(cookie.value).toMatch(t.store.keyPattern);
      expect(cookie.attributes['max-age']).toBe('3600'); // the custom expiry went along
      expect(reply.vary).toBe('Cookie');
      expect(await t.store.exists(old)).toBe(false);
      const data = (await t.store.data(cookie.value))!;
      expect(Object.entries(data)).toEqual(items);
    });

    it(
      stores
        ? 'on the next request, the new key gives the data and the old key gives nothing'
        : 'on the next request, the new value gives the data — and so does the old one (Django: a signed cookie cannot be revoked)',
      async () => {
        const client = t.client();
        const old = await saved(client, [['set', 'a', 1]]);
        await client.ops([['cycleKey']]);
        if (stores) expect(client.sessionKey).not.toBe(old);
        expect((await client.ops([['get', 'a']])).json().results).toEqual([1]);
        expect((await t.client().ops([['get', 'a']], { cookie: `sessionid=${old}` })).json().results).toEqual([stores ? UNDEFINED : 1]);
      },
    );

    it(`on a new session (no cookie) with data: saved under a fresh key, ${stores ? 'one row' : 'nothing stored'}`, async () => {
      const before = await t.store.count();
      const reply = await t.client().ops([['set', 'a', 1], ['cycleKey'], ['sessionKey']]);
      const [, , key] = reply.json().results;
      expect(key).toMatch(t.store.keyPattern);
      const cookie = resentKey(t, reply, key);
      expect(await t.store.data(cookie)).toEqual({ a: 1 });
      expect(await t.store.count()).toBe(stores ? before + 1 : 0);
    });

    it('on an empty new session: a row and a cookie all the same (Django\'s create() makes the session non-empty)', async () => {
      const reply = await t.client().ops([['cycleKey'], ['sessionKey']]);
      const [, key] = reply.json().results;
      expect(key).toMatch(t.store.keyPattern);
      const cookie = resentKey(t, reply, key);
      expect(await t.store.data(cookie)).toEqual({});
    });
  });

  describe('flush()', () => {
    it('deletes the row and the cookie, forgets the key (sessionKey null), Vary: Cookie', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'a', 1]]);
      const reply = await client.ops([['flush'], ['sessionKey'], ['keys'], ['isEmpty']]);
      expect(reply.json().results).toEqual([UNDEFINED, null, [], true]);
      const cookie = sessionCookieOf(reply)!;
      expect(cookie.value).toBe('');
      expect(cookie.attributes['max-age']).toBe('0');
      expect(reply.vary).toBe('Cookie');
      expect(await t.store.exists(key)).toBe(false);
    });

    it('without a cookie: no Set-Cookie at all, but Vary: Cookie, and no row', async () => {
      const before = await t.store.count();
      const reply = await t.client().ops([['flush']]);
      expect(reply.status).toBe(200);
      expect(reply.setCookies).toEqual([]);
      expect(reply.vary).toBe('Cookie');
      expect(await t.store.count()).toBe(before);
    });

    it('then a write: a new session under a new key (one Set-Cookie, with the new key); the old row is gone', async () => {
      const client = t.client();
      const old = await saved(client, [['set', 'a', 1]]);
      const reply = await client.ops([['flush'], ['set', 'b', 2]]);
      expect(reply.setCookies).toHaveLength(1);
      const fresh = sessionCookieOf(reply)!.value;
      expect(fresh).toMatch(t.store.keyPattern);
      expect(fresh).not.toBe(old);
      expect(await t.store.exists(old)).toBe(false);
      expect(await t.store.data(fresh)).toEqual({ b: 2 });
    });

    it('not awaited by the handler: the row is still deleted before the response', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'a', 1]]);
      const reply = await client.ops([['flushNoAwait']]);
      expect(reply.status).toBe(200);
      expect(sessionCookieOf(reply)!.value).toBe('');
      expect(await t.store.exists(key)).toBe(false);
    });
  });

  describe('what counts as a modification', () => {
    it('the seed\'s gotcha: session.get("foo").bar = "baz" is NOT saved', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'foo', {}]]);
      const reply = await client.ops([['mutateNested', 'foo', 'bar', 'baz'], ['modified']]);
      expect(reply.json().results).toEqual([UNDEFINED, false]);
      expect(reply.setCookies).toEqual([]);
      expect(await t.store.data(key)).toEqual({ foo: {} });
    });

    it('...and saved once session.modified = true', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'foo', {}]]);
      const reply = await client.ops([['mutateNested', 'foo', 'bar', 'baz'], ['setModified', true]]);
      const next = resentKey(t, reply, key);
      expect(await t.store.data(next)).toEqual({ foo: { bar: 'baz' } });
    });

    it('session.modified = true alone re-saves an unchanged session (fresh expire_date, cookie re-sent)', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'a', 1]]);
      // Stored as expiring in 2099 (signed_cookies: a value signed as if it would last until then).
      const sent = await t.store.setExpiresAt(key, Date.UTC(2099, 0, 1));
      client.jar.set('sessionid', sent);
      const reply = await client.ops([['setModified', true]]);
      const next = resentKey(t, reply, sent);
      if (engine === 'db') expect((await t.db.row(key))!.expire_date).not.toBe('2099-01-01 00:00:00');
      expect(Math.abs((await t.store.expiresAt(next))! - (Date.now() + 1209600_000))).toBeLessThan(5000);
      expect(await t.store.data(next)).toEqual({ a: 1 });
    });

    it('set of a new value, delete, pop and update({}) are modifications; get, has, keys, values, items are not', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'a', 1], ['set', 'b', 2]]);
      const reads = await client.ops([['get', 'a'], ['has', 'b'], ['keys'], ['values'], ['items'], ['pop', 'zz', 'd'], ['setDefault', 'a', 9]]);
      expect(reads.json().results).toEqual([1, true, ['a', 'b'], [1, 2], [['a', 1], ['b', 2]], 'd', 1]);
      expect(reads.setCookies).toEqual([]);
      expect(reads.vary).toBe('Cookie');
      let current = key;
      for (const op of [
        ['delete', 'a'],
        ['pop', 'b'],
        ['update', {}],
        ['set', 'c', 3],
        ['setDefault', 'd', 4],
      ] as const) {
        const reply = await client.ops([[...op]]);
        const sent = sessionCookieOf(reply)?.value;
        if (stores) expect([op[0], sent]).toEqual([op[0], key]);
        else expect([op[0], sent]).toEqual([op[0], expect.stringMatching(t.store.keyPattern)]);
        current = sent!;
      }
      expect(await t.store.data(current)).toEqual({ c: 3, d: 4 });
    });

    it('session.set("foo", {}) over an equal value is still a modification (the seed: "Session is modified")', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'foo', {}]]);
      const reply = await client.ops([['set', 'foo', {}]]);
      expect(await t.store.data(resentKey(t, reply, key))).toEqual({ foo: {} });
    });
  });

  describe('concurrent requests on one session', () => {
    it('read-modify-write from two requests: last writer wins, no merge (as Django)', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'x', 0]]);
      const [a, b] = await Promise.all([
        client.ops([['get', 'x'], ['sleep', 150], ['set', 'a', 1]]),
        client.ops([['get', 'x'], ['sleep', 150], ['set', 'b', 1]]),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      // signed_cookies: each response carries its own cookie; the browser keeps the last one it got.
      const data = stores ? await t.store.data(key) : await t.store.data(client.sessionKey!);
      expect([{ x: 0, a: 1 }, { x: 0, b: 1 }]).toContainEqual(data);
    });

    if (stores) {
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
        expect(await t.store.exists(key)).toBe(false);
      });
    } else {
      it('a logout (flush) in another tab while a request runs: that request\'s write still succeeds with a new value (Django: a signed cookie cannot be revoked)', async () => {
        const client = t.client();
        const key = await saved(client, [['set', 'member_id', 1]]);
        const slow = client.ops([['get', 'member_id'], ['sleep', 200], ['set', 'cart', ['book']]]);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const logout = await t.client().ops([['flush']], { cookie: `sessionid=${key}` });
        expect(logout.status).toBe(200);
        expect(sessionCookieOf(logout)?.value).toBe('');
        const reply = await slow;
        expect(reply.status).toBe(200);
        const next = resentKey(t, reply, key);
        expect(await t.store.data(next)).toEqual({ member_id: 1, cart: ['book'] });
        // ...and the old value still loads: only the browser that logged out forgot it.
        expect((await t.client().ops([['get', 'member_id']], { cookie: `sessionid=${key}` })).json().results).toEqual([1]);
      });
    }
  });
});
