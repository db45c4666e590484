/**
 * The request and response rules of Django's SessionMiddleware.process_response:
 * when the session is saved, when Set-Cookie and Vary: Cookie are sent, what a 4xx and a 5xx do,
 * and SessionInterrupted — on every engine. What is stored is read from the engine's storage
 * directly (t.store: the SQLite file through a separate connection, the Redis keys, the session
 * files); on signed_cookies the cookie value is the session, so a write re-sends a new value.
 */
import {
  describeEngines,
  logs,
  resentKey,
  sessionCookieOf,
  startApp,
  type Client,
  type TestApp,
} from '../support/app.js';
import { SessionOpsController, UNDEFINED } from '../support/controllers.js';

const DJANGO_INTERRUPTED =
  "The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example.";

/** `read()` once `done(value)` holds, or its last value after 2 s (work that follows a response the handler sent itself). */
async function settled<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 2000;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    value = await read();
  }
  return value;
}

describeEngines('response rules', (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());
  /** False on signed_cookies: nothing is stored on the server, the cookie is the session. */
  const stores = engine !== 'signed_cookies';

  /** A saved session holding `data`; returns its key. */
  async function saved(client: Client, data: Record<string, unknown>): Promise<string> {
    const reply = await client.ops([['update', data]]);
    expect(reply.status).toBe(200);
    const key = sessionCookieOf(reply)?.value;
    expect(key).toMatch(t.store.keyPattern);
    return key!;
  }

  describe('without a session cookie', () => {
    it('a handler that takes the session but does not touch it: no Set-Cookie, no Vary, no row', async () => {
      const before = await t.store.count();
      const reply = await t.client().get('/untouched');
      expect(reply.status).toBe(200);
      expect(reply.text).toBe('untouched');
      expect(reply.setCookies).toEqual([]);
      expect(reply.vary).toBeNull();
      expect(await t.store.count()).toBe(before);
    });

    it('a read: Vary: Cookie, but no Set-Cookie and no row (not modified)', async () => {
      const before = await t.store.count();
      const reply = await t.client().ops([['get', 'anything'], ['has', 'anything']]);
      expect(reply.json().results).toEqual([UNDEFINED, false]);
      expect(reply.setCookies).toEqual([]);
      expect(reply.vary).toBe('Cookie');
      expect(await t.store.count()).toBe(before);
    });

    it(`a write: saved under a new ${stores ? '32-character key' : 'signed value'}, Set-Cookie with that key, Vary: Cookie`, async () => {
      const reply = await t.client().ops([['set', 'fav_color', 'blue']]);
      expect(reply.status).toBe(200);
      const cookie = sessionCookieOf(reply)!;
      expect(cookie.value).toMatch(t.store.keyPattern);
      expect(reply.vary).toBe('Cookie');
      expect(await t.store.data(cookie.value)).toEqual({ fav_color: 'blue' });
    });

    it('a write then a delete of the same key (modified, but empty): nothing saved, no cookie, Vary: Cookie', async () => {
      const before = await t.store.count();
      const reply = await t.client().ops([['set', 'a', 1], ['delete', 'a']]);
      expect(reply.status).toBe(200);
      expect(reply.setCookies).toEqual([]);
      expect(reply.vary).toBe('Cookie');
      expect(await t.store.count()).toBe(before);
    });
  });

  describe('with the cookie of a live session', () => {
    it('a read: not saved (row unchanged), no Set-Cookie, Vary: Cookie', async () => {
      const client = t.client();
      const key = await saved(client, { a: 1 });
      const row = await t.store.snapshot(key);
      await new Promise((resolve) => setTimeout(resolve, 20)); // a save now would write a later expire_date
      const reply = await client.ops([['get', 'a']]);
      expect(reply.json().results).toEqual([1]);
      expect(reply.setCookies).toEqual([]);
      expect(reply.vary).toBe('Cookie');
      expect(await t.store.snapshot(key)).toEqual(row);
    });

    it(
      stores
        ? 'a write: the row is updated under the same key, and the cookie is sent again'
        : 'a write: the cookie is sent again with a new value, which holds the new data',
      async () => {
        const client = t.client();
        const key = await saved(client, { a: 1 });
        const reply = await client.ops([['set', 'b', 2]]);
        const next = resentKey(t, reply, key);
        if (!stores) expect(next).not.toBe(key);
        expect(reply.vary).toBe('Cookie');
        expect(await t.store.data(next)).toEqual({ a: 1, b: 2 });
      },
    );

    it('a handler that takes the session but does not touch it: no Set-Cookie, no Vary', async () => {
      const client = t.client();
      const key = await saved(client, { a: 1 });
      const reply = await client.get('/untouched');
      expect(reply.setCookies).toEqual([]);
      expect(reply.vary).toBeNull();
      expect(await t.store.data(key)).toEqual({ a: 1 });
    });

    it('a handler without @Session(): no Set-Cookie, no Vary', async () => {
      const client = t.client();
      await saved(client, { a: 1 });
      const reply = await client.get('/plain');
      expect(reply.text).toBe('plain');
      expect(reply.setCookies).toEqual([]);
      expect(reply.vary).toBeNull();
    });

    it('the session emptied by flush(): the cookie is deleted (Max-Age=0, Expires in 1970, same Path/SameSite), Vary: Cookie, row gone', async () => {
      const client = t.client();
      const key = await saved(client, { a: 1 });
      const reply = await client.ops([['flush']]);
      expect(reply.status).toBe(200);
      const cookie = sessionCookieOf(reply)!;
      expect(cookie.value).toBe('');
      expect(cookie.attributes).toEqual({ 'max-age': '0', expires: 'Thu, 01 Jan 1970 00:00:00 GMT', path: '/', samesite: 'Lax' });
      expect(reply.vary).toBe('Cookie');
      expect(await t.store.exists(key)).toBe(false);
      expect(client.sessionKey).toBeUndefined();
    });

    it('the data emptied but the key kept (clear()): saved as {}, same key re-sent, Vary: Cookie (Django test_empty_session_saved)', async () => {
      const client = t.client();
      const key = await saved(client, { a: 1 });
      const reply = await client.ops([['clear']]);
      const next = resentKey(t, reply, key);
      expect(sessionCookieOf(reply)?.attributes['max-age']).toBe('1209600');
      expect(reply.vary).toBe('Cookie');
      expect(await t.store.data(next)).toEqual({});
    });

    it('an existing Vary is extended, not replaced, and Cookie is not listed twice', async () => {
      const client = t.client();
      await saved(client, { a: 1 });
      const extended = await client.ops([['header', 'Vary', 'Accept-Encoding'], ['get', 'a']]);
      expect(extended.vary).toBe('Accept-Encoding, Cookie');
      const already = await client.ops([['header', 'Vary', 'Cookie'], ['set', 'a', 2]]);
      expect(already.vary).toBe('Cookie');
      expect(sessionCookieOf(already)).toBeDefined();
    });
  });

  describe('alongside the handler\'s own response', () => {
    it('a cookie the handler sets is kept next to the session cookie', async () => {
      const reply = await t.client().ops([['header', 'Set-Cookie', 'theme=dark; Path=/'], ['set', 'a', 1]]);
      expect(reply.setCookies.map((c) => c.name).sort()).toEqual(['sessionid', 'theme']);
      expect(reply.setCookies.find((c) => c.name === 'theme')!.value).toBe('dark');
    });

    it('a redirect after login: 302 with the new cookie, and the row is written before the redirect arrives', async () => {
      const client = t.client();
      const reply = await client.request('POST', '/login-redirect');
      expect(reply.status).toBe(302);
      expect(reply.headers.get('location')).toBe('/read');
      const key = sessionCookieOf(reply)!.value;
      expect(await t.store.data(key)).toEqual({ value: 'after-redirect' });
      expect((await client.get('/read')).json()).toEqual({ value: 'after-redirect' });
    });
  });

  describe(stores ? 'with the cookie of an unknown or expired session' : 'with a cookie that does not verify, or has expired', () => {
    // signed_cookies: "unknown" is a well-formed value signed with another SECRET_KEY.
    it('an unknown key, written to: saved under a NEW key, never the client\'s (no row for it)', async () => {
      const theirs = t.store.unknownKey();
      const client = t.client();
      client.jar.set('sessionid', theirs);
      const reply = await client.ops([['get', 'a'], ['set', 'a', 1]]);
      expect(reply.json().results).toEqual([UNDEFINED, true]);
      const ours = sessionCookieOf(reply)!.value;
      expect(ours).toMatch(t.store.keyPattern);
      expect(ours).not.toBe(theirs);
      expect(await t.store.exists(theirs)).toBe(false);
      expect(await t.store.data(ours)).toEqual({ a: 1 });
    });

    it('an unknown key, only read: the cookie is deleted, Vary: Cookie, no row created', async () => {
      const theirs = t.store.unknownKey();
      const before = await t.store.count();
      const reply = await t.client().ops([['get', 'a']], { cookie: `sessionid=${theirs}` });
      expect(reply.json().results).toEqual([UNDEFINED]);
      const cookie = sessionCookieOf(reply)!;
      expect(cookie.value).toBe('');
      expect(cookie.attributes['max-age']).toBe('0');
      expect(reply.vary).toBe('Cookie');
      expect(await t.store.count()).toBe(before);
    });

    it('an unknown key, session untouched: cookie left alone (Django loads nothing, so the key still counts)', async () => {
      const reply = await t.client().get('/untouched', { cookie: `sessionid=${t.store.unknownKey()}` });
      expect(reply.setCookies).toEqual([]);
      expect(reply.vary).toBeNull();
    });

    it(
      stores
        ? 'a row whose expire_date has passed: its data is not loaded and a write goes under a new key'
        : 'a cookie signed longer than cookieAge ago: its data is not loaded and a write gives a new value',
      async () => {
        const client = t.client();
        const old = await saved(client, { secret: 'old data' });
        const sent = await t.store.setExpiresAt(old, Date.UTC(2000, 0, 1));
        client.jar.set('sessionid', sent);
        const reply = await client.ops([['get', 'secret'], ['set', 'b', 1]]);
        expect(reply.json().results).toEqual([UNDEFINED, true]);
        const fresh = sessionCookieOf(reply)!.value;
        expect(fresh).toMatch(t.store.keyPattern);
        expect(fresh).not.toBe(old);
        expect(fresh).not.toBe(sent);
        expect(await t.store.data(fresh)).toEqual({ b: 1 });
        if (engine === 'db') {
          // Loading does not touch the expired row (clearExpired does that).
          expect((await t.db.row(old))?.expire_date).toBe('2000-01-01 00:00:00');
        } else if (stores) {
          // Redis drops an expired entry; the file engine deletes an expired file when it reads it (as Django's).
          expect(await t.store.exists(old)).toBe(false);
        }
      },
    );
  });

  describe('when the handler fails', () => {
    it.each([
      ['a plain Error', 'error'],
      ['an HttpException 500', 500],
      ['an HttpException 503', 503],
    ])('%s → no save, no Set-Cookie (new session)', async (_what, how) => {
      const before = await t.store.count();
      const reply = await t.client().ops([['set', 'a', 1], ['throw', how]]);
      expect(reply.status).toBe(how === 'error' ? 500 : how);
      expect(reply.setCookies).toEqual([]);
      expect(reply.vary).toBe('Cookie'); // the session was accessed, as Django
      expect(await t.store.count()).toBe(before);
    });

    it.each([
      ['a plain Error', 'error'],
      ['an HttpException 500', 500],
      ['an HttpException 503', 503],
    ])('%s → the live session\'s row is not updated, no Set-Cookie', async (_what, how) => {
      const client = t.client();
      const key = await saved(client, { a: 1 });
      const row = await t.store.snapshot(key);
      const reply = await client.ops([['set', 'a', 2], ['throw', how]]);
      expect(reply.status).toBe(how === 'error' ? 500 : how);
      expect(reply.setCookies).toEqual([]);
      expect(await t.store.snapshot(key)).toEqual(row);
    });

    it.each([400, 403, 404, 422])('an HttpException %i after a write still saves and sets the cookie', async (status) => {
      const client = t.client();
      const key = await saved(client, { a: 1 });
      const reply = await client.ops([['set', 'a', status], ['throw', status]]);
      expect(reply.status).toBe(status);
      const next = resentKey(t, reply, key);
      expect(reply.vary).toBe('Cookie');
      expect(await t.store.data(next)).toEqual({ a: status });
    });

    it.each([500, 503])('a status %i set by the handler on the response (@Res({ passthrough: true })), no exception: no save, no Set-Cookie', async (status) => {
      const client = t.client();
      const key = await saved(client, { a: 1 });
      const row = await t.store.snapshot(key);
      const before = await t.store.count();
      const reply = await client.ops([['set', 'a', 2], ['status', status]]);
      expect(reply.status).toBe(status);
      expect(reply.setCookies).toEqual([]);
      expect(await t.store.snapshot(key)).toEqual(row);
      const fresh = await t.client().ops([['set', 'a', 1], ['status', status]]);
      expect(fresh.status).toBe(status);
      expect(fresh.setCookies).toEqual([]);
      expect(await t.store.count()).toBe(before);
    });

    it('a status 404 set on the response: saved as any 4xx', async () => {
      const client = t.client();
      const key = await saved(client, { a: 1 });
      const reply = await client.ops([['set', 'a', 404], ['status', 404]]);
      expect(reply.status).toBe(404);
      const next = resentKey(t, reply, key);
      expect(await t.store.data(next)).toEqual({ a: 404 });
    });

    it.each([
      ['a plain Error', 'error'],
      ['an HttpException 503', 503],
    ])('flush() then %s: the row is gone, and the cookie is deleted all the same (as Django, whatever the status)', async (_what, how) => {
      const client = t.client();
      const key = await saved(client, { a: 1 });
      const reply = await client.ops([['flush'], ['throw', how]]);
      expect(reply.status).toBe(how === 'error' ? 500 : how);
      expect(sessionCookieOf(reply)?.attributes['max-age']).toBe('0');
      expect(reply.vary).toBe('Cookie');
      expect(await t.store.exists(key)).toBe(false);
    });

    it('an HttpException 4xx on a new session: saved under a new key', async () => {
      const reply = await t.client().ops([['set', 'a', 1], ['throw', 404]]);
      expect(reply.status).toBe(404);
      const key = sessionCookieOf(reply)!.value;
      expect(await t.store.data(key)).toEqual({ a: 1 });
    });
  });

  describe('a handler that sends the response itself (@Res() without passthrough)', () => {
    it('a new session: not saved (its cookie could not be sent), a warning, no error', async () => {
      const before = await t.store.count();
      logs.clear();
      const reply = await t.client().post('/raw', { set: { a: 1 } });
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual({ sent: true });
      expect(reply.setCookies).toEqual([]);
      // Logged once the handler has answered (the interceptor runs after it), and nothing written then.
      const warnings = () => logs.at('warn', 'SessionInterceptor').map((e) => e.message);
      expect(await settled(async () => warnings(), (w) => w.length > 0)).toEqual([
        'A new session was not saved: the handler sent the response itself (@Res()), so its cookie could not be set',
      ]);
      expect(await t.store.count()).toBe(before);
      expect(logs.at('error')).toEqual([]);
    });

    if (stores) {
      it('a session the browser has a cookie for: saved (just after the response the handler sent), nothing logged', async () => {
        const client = t.client();
        const key = await saved(client, { a: 1 });
        logs.clear();
        const reply = await client.post('/raw', { set: { a: 2 } });
        expect(reply.json()).toEqual({ sent: true });
        // The handler answered before the interceptor could save: the row changes right after.
        expect(await settled(async () => await t.store.data(key), (data) => data?.a === 2)).toEqual({ a: 2 });
        expect(logs.entries.filter((e) => e.level === 'warn' || e.level === 'error')).toEqual([]);
      });
    } else {
      it('a session the browser has a cookie for: its change cannot be kept (the new cookie value could not be sent) — a warning, as for a new session, and no error', async () => {
        const client = t.client();
        const key = await saved(client, { a: 1 });
        logs.clear();
        const reply = await client.post('/raw', { set: { a: 2 } });
        expect(reply.json()).toEqual({ sent: true });
        expect(reply.setCookies).toEqual([]);
        const warnings = () => logs.at('warn', 'SessionInterceptor').map((e) => e.message);
        const logged = await settled(async () => warnings(), (w) => w.length > 0);
        expect(logged).toHaveLength(1);
        expect(logged[0]).toMatch(/not saved/);
        expect(logs.at('error')).toEqual([]);
        // The browser still holds the old value, with the old data.
        expect(client.sessionKey).toBe(key);
        expect((await client.ops([['get', 'a']])).json().results).toEqual([1]);
      });
    }
  });

  if (stores) {
    describe('SessionInterrupted', () => {
      it('the row deleted during the request, then the session written: 400 with Django\'s message, no Set-Cookie, row not resurrected', async () => {
        const client = t.client();
        const key = await saved(client, { a: 1 });
        const reply = await client.ops([['get', 'a'], ['deleteRow'], ['set', 'b', 2]]);
        expect(reply.status).toBe(400);
        expect(reply.json().message).toBe(DJANGO_INTERRUPTED);
        expect(reply.setCookies).toEqual([]);
        expect(await t.store.exists(key)).toBe(false);
      });

      it('the row deleted during the request, session only read: no error (nothing to save)', async () => {
        const client = t.client();
        const key = await saved(client, { a: 1 });
        const reply = await client.ops([['get', 'a'], ['deleteRow']]);
        expect(reply.status).toBe(200);
        expect(reply.json().results).toEqual([1, 1]);
        expect(reply.setCookies).toEqual([]);
        expect(await t.store.exists(key)).toBe(false);
      });
    });
  } else {
    describe('no SessionInterrupted: nothing is stored, so nothing can be deleted meanwhile', () => {
      it('a "logout elsewhere" deletes nothing; the session written: 200, a new value with the data (Django: a signed cookie cannot be revoked)', async () => {
        const client = t.client();
        const key = await saved(client, { a: 1 });
        const reply = await client.ops([['get', 'a'], ['deleteRow'], ['set', 'b', 2]]);
        expect(reply.status).toBe(200);
        expect(reply.json().results).toEqual([1, 0, true]);
        const next = resentKey(t, reply, key);
        expect(next).not.toBe(key);
        expect(await t.store.data(next)).toEqual({ a: 1, b: 2 });
      });
    });
  }
});

describeEngines('response rules with saveEveryRequest: true', (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, session: { secretKey: 'k'.repeat(50), saveEveryRequest: true }, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  async function savedHere(client: Client): Promise<string> {
    const reply = await client.ops([['set', 'a', 1]]);
    return sessionCookieOf(reply)!.value;
  }

  it('a handler without @Session(): the session is saved again and the cookie re-sent, Vary: Cookie', async () => {
    const client = t.client();
    const key = await savedHere(client);
    // Stored as expiring in 2100 (signed_cookies: a value signed as if it would last until then).
    const sent = await t.store.setExpiresAt(key, Date.UTC(2100, 0, 1));
    client.jar.set('sessionid', sent);
    const reply = await client.get('/plain');
    expect(reply.text).toBe('plain');
    const next = resentKey(t, reply, sent);
    const cookie = sessionCookieOf(reply)!;
    expect(cookie.attributes['max-age']).toBe('1209600');
    expect(reply.vary).toBe('Cookie');
    if (engine === 'db') expect((await t.db.row(key))?.expire_date).not.toBe('2100-01-01 00:00:00');
    // Re-saved: it expires now + cookieAge again, not in the year 2100 written above.
    expect(Math.abs((await t.store.expiresAt(next))! - (Date.now() + 1209600_000))).toBeLessThan(5000);
    expect(await t.store.data(next)).toEqual({ a: 1 });
  });

  it('a read-only request is saved too', async () => {
    const client = t.client();
    const key = await savedHere(client);
    const reply = await client.ops([['get', 'a']]);
    expect(await t.store.data(resentKey(t, reply, key))).toEqual({ a: 1 });
  });

  it('no cookie and nothing stored: still nothing saved, no Set-Cookie (the session is empty)', async () => {
    const before = await t.store.count();
    const reply = await t.client().get('/plain');
    expect(reply.setCookies).toEqual([]);
    expect(reply.vary).toBeNull();
    expect(await t.store.count()).toBe(before);
  });

  it('a 500 is still not saved', async () => {
    const client = t.client();
    const key = await savedHere(client);
    const row = await t.store.snapshot(key);
    const reply = await client.ops([['set', 'a', 2], ['throw', 'error']]);
    expect(reply.status).toBe(500);
    expect(reply.setCookies).toEqual([]);
    expect(await t.store.snapshot(key)).toEqual(row);
  });
});
