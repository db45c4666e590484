/**
 * Errors, on every engine: stored session data that does
 * not verify (db, file) or cannot be read (a cache entry that is not a pickled dict) is an empty
 * session and a logged warning — never a 500; the db and file engines keep the key (a later save
 * overwrites the row, as Django), the cache engine drops it (as Django's cache engine); a signed
 * cookie that does not verify is an empty session. KeyError from delete()/pop();
 * SessionInterrupted is in response-rules.
 */
import { describeEngines, logs, sessionCookieOf, startApp, TEST_SECRET, unknownKey, type Client, type TestApp } from '../support/app.js';
import { SessionCodec } from '../../src/index.js';
import { SessionOpsController, UNDEFINED } from '../support/controllers.js';
import { privateRedisServer, type PrivateRedis } from '../support/redis.js';

const SECURITY_LOGGER = 'django.security.SuspiciousSession';

describeEngines('errors', (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  async function saved(client: Client, data: Record<string, unknown>): Promise<string> {
    const reply = await client.ops([['update', data]]);
    return sessionCookieOf(reply)!.value;
  }

  if (engine === 'db' || engine === 'file') {
    describe('session_data that does not verify', () => {
      const tamperings: Array<[string, (data: string) => string]> = [
        ['one character of the payload changed', (data) => (data[0] === 'e' ? 'f' : 'e') + data.slice(1)],
        ['the signature changed', (data) => data.slice(0, -2) + (data.endsWith('AA') ? 'BB' : 'AA')],
        ['signed with another SECRET_KEY', () => new SessionCodec({ secretKey: 'not-the-app-secret' }).encode({ member_id: 1 })],
        ['garbage ("bad:encoded:value")', () => 'bad:encoded:value'],
        ['empty', () => ''],
      ];

      it.each(tamperings)('%s: 200, an empty session, one warning "Session data corrupted"; no cookie change', async (what, tamper) => {
        const client = t.client();
        const key = await saved(client, { member_id: 1 });
        await t.store.overwrite(key, tamper(String(await t.store.raw(key))));
        logs.clear();
        const reply = await client.ops([['get', 'member_id'], ['keys'], ['sessionKey']]);
        expect(reply.status).toBe(200);
        expect(reply.json().results).toEqual([UNDEFINED, [], key]);
        expect(reply.setCookies).toEqual([]);
        const warnings = logs.at('warn', SECURITY_LOGGER);
        // An empty file is an empty session, not a corrupted one (Django's file engine: `if file_data:`).
        expect(warnings.map((w) => w.message)).toEqual(engine === 'file' && what === 'empty' ? [] : ['Session data corrupted']);
        expect(logs.at('error')).toEqual([]);
      });

      it('a write after tampering keeps the key and overwrites the row with good data (Django keeps the key)', async () => {
        const client = t.client();
        const key = await saved(client, { member_id: 1 });
        await t.store.overwrite(key, 'tampered');
        const reply = await client.ops([['set', 'b', 2]]);
        expect(reply.status).toBe(200);
        expect(sessionCookieOf(reply)!.value).toBe(key);
        expect(await t.store.data(key)).toEqual({ b: 2 });
      });
    });
  }

  if (engine === 'cache') {
    describe('a cache entry that cannot be read', () => {
      const tamperings: Array<[string, Buffer]> = [
        ['not a pickle', Buffer.from('bad:encoded:value')],
        ['a truncated pickle', Buffer.from('80049505000000000000007d94', 'hex')],
        ['a pickle of a list, not a dict', Buffer.from('80045d942e', 'hex')],
      ];

      it.each(tamperings)('%s: 200, an empty session, one warning "Session data corrupted"; the key is dropped and the cookie deleted (Django\'s cache engine: _session_key = None)', async (_what, value) => {
        const client = t.client();
        const key = await saved(client, { member_id: 1 });
        await t.store.overwrite(key, value);
        logs.clear();
        const reply = await client.ops([['get', 'member_id'], ['keys'], ['sessionKey']]);
        expect(reply.status).toBe(200);
        expect(reply.json().results).toEqual([UNDEFINED, [], null]);
        expect(sessionCookieOf(reply)?.attributes['max-age']).toBe('0');
        expect(logs.at('warn', SECURITY_LOGGER).map((w) => w.message)).toEqual(['Session data corrupted']);
        expect(logs.at('error')).toEqual([]);
      });

      it('an empty value is read as no entry (Redis answers a bounded read of it as of a missing key, and Django reads both as no session): 200, an empty session, no warning; the key is dropped and the cookie deleted', async () => {
        const client = t.client();
        const key = await saved(client, { member_id: 1 });
        await t.store.overwrite(key, Buffer.alloc(0));
        logs.clear();
        const reply = await client.ops([['get', 'member_id'], ['keys'], ['sessionKey']]);
        expect(reply.status).toBe(200);
        expect(reply.json().results).toEqual([UNDEFINED, [], null]);
        expect(sessionCookieOf(reply)?.attributes['max-age']).toBe('0');
        expect(logs.at('warn')).toEqual([]);
        expect(logs.at('error')).toEqual([]);
      });

      it('a write after that goes under a new key; the unreadable entry is left to its TTL', async () => {
        const client = t.client();
        const key = await saved(client, { member_id: 1 });
        await t.store.overwrite(key, Buffer.from('tampered'));
        const reply = await client.ops([['set', 'b', 2]]);
        expect(reply.status).toBe(200);
        const fresh = sessionCookieOf(reply)!.value;
        expect(fresh).toMatch(t.store.keyPattern);
        expect(fresh).not.toBe(key);
        expect(await t.store.data(fresh)).toEqual({ b: 2 });
        expect(await t.store.raw(key)).toEqual(Buffer.from('tampered'));
      });
    });
  }

  if (engine === 'signed_cookies') {
    describe('a cookie value that does not verify', () => {
      const tamperings: Array<[string, (value: string) => string]> = [
        ['one character of the payload changed', (value) => (value[1] === 'e' ? value.slice(0, 1) + 'f' : value.slice(0, 1) + 'e') + value.slice(2)],
        ['the signature changed', (value) => value.slice(0, -2) + (value.endsWith('AA') ? 'BB' : 'AA')],
        ['signed with another SECRET_KEY', () => t.store.unknownKey()],
        ['signed with the db engine\'s salt', () => new SessionCodec({ secretKey: TEST_SECRET }).encode({ member_id: 1 })],
      ];

      it.each(tamperings)('%s: 200, an empty session, no warning (Django swallows it); the cookie is deleted', async (_what, tamper) => {
        const client = t.client();
        const key = await saved(client, { member_id: 1 });
        logs.clear();
        const reply = await client.ops([['get', 'member_id'], ['keys'], ['sessionKey']], { cookie: `sessionid=${tamper(key)}` });
        expect(reply.status).toBe(200);
        expect(reply.json().results).toEqual([UNDEFINED, [], null]);
        expect(sessionCookieOf(reply)?.attributes['max-age']).toBe('0');
        expect(logs.at('warn')).toEqual([]);
        expect(logs.at('error')).toEqual([]);
      });

      it('a write after that gives a new value holding only the new data', async () => {
        const key = await saved(t.client(), { member_id: 1 });
        const reply = await t.client().ops([['set', 'b', 2]], { cookie: `sessionid=${key.slice(0, -2)}${key.endsWith('AA') ? 'BB' : 'AA'}` });
        expect(reply.status).toBe(200);
        expect(await t.store.data(sessionCookieOf(reply)!.value)).toEqual({ b: 2 });
      });
    });
  }

  it('good data logs nothing', async () => {
    const client = t.client();
    await saved(client, { a: 1 });
    logs.clear();
    await client.ops([['get', 'a']]);
    expect(logs.at('warn')).toEqual([]);
  });

  describe('KeyError', () => {
    it('delete() and pop() without default of an absent key throw KeyError; pop() with a default does not', async () => {
      const reply = await t.client().request('POST', '/ops', {
        body: { ops: [['delete', 'missing'], ['pop', 'missing'], ['pop', 'missing', 'dflt'], ['modified']], catch: true },
      });
      const [del, pop, popDefault, modified] = reply.json().results;
      expect(del).toMatchObject({ thrown: 'KeyError', isKeyError: true });
      expect(del.message).toBe('"missing" is not in the session'); // logged by Nest as `KeyError: "missing" is not in the session`
      expect(pop).toMatchObject({ thrown: 'KeyError', isKeyError: true });
      expect(popDefault).toBe('dflt');
      expect(modified).toBe(false);
      expect(reply.setCookies).toEqual([]);
    });

    it('deleteTestCookie() when none was set throws KeyError, as Django', async () => {
      const reply = await t.client().request('POST', '/ops', { body: { ops: [['deleteTestCookie']], catch: true } });
      expect(reply.json().results[0]).toMatchObject({ thrown: 'KeyError', isKeyError: true });
    });

    it('an uncaught KeyError is a 500 (a plain error): nothing saved', async () => {
      const client = t.client();
      const key = await saved(client, { a: 1 });
      const row = await t.store.snapshot(key);
      const reply = await client.ops([['set', 'a', 2], ['delete', 'missing']]);
      expect(reply.status).toBe(500);
      expect(reply.setCookies).toEqual([]);
      expect(await t.store.snapshot(key)).toEqual(row);
    });
  });
});

// The salt signs session_data, which the db and file engines store (cache stores a pickled dict,
// signed_cookies signs with its own salt).
describeEngines('another signing salt (as a Django SessionStore subclass under another class name)', (engine, platform) => {
  const CUSTOM_SALT = 'django.contrib.sessions.CustomStore';
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, session: { secretKey: TEST_SECRET, salt: CUSTOM_SALT }, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  it('data signed with the built-in salt does not verify: empty session and the warning', async () => {
    const key = unknownKey();
    const data = new SessionCodec({ secretKey: TEST_SECRET }).encode({ a: 1 });
    if (engine === 'db') {
      const expire = new Date(Date.now() + 3600_000).toISOString().replace('T', ' ').replace('Z', '000');
      await t.db.run('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)', [key, data, expire]);
    } else {
      await t.store.put(key, {}, Date.now() + 3600_000);
      await t.store.overwrite(key, data);
    }
    logs.clear();
    const reply = await t.client().ops([['get', 'a']], { cookie: `sessionid=${key}` });
    expect(reply.json().results).toEqual([UNDEFINED]);
    expect(logs.at('warn', SECURITY_LOGGER).map((w) => w.message)).toEqual(['Session data corrupted']);
  });

  it('what it writes verifies with its salt only', async () => {
    const key = sessionCookieOf(await t.client().ops([['set', 'a', 1]]))!.value;
    const raw = String(await t.store.raw(key));
    expect(new SessionCodec({ secretKey: TEST_SECRET, salt: CUSTOM_SALT }).decode(raw)).toMatchObject({ status: 'ok', data: { a: 1 } });
    expect(new SessionCodec({ secretKey: TEST_SECRET }).decode(raw).status).toBe('bad-signature');
  });
}, ['db', 'file']);

/**
 * The cache engine when Redis cannot be reached: a request that needs its session is answered 503
 * with Retry-After (never a hang, a 500, or an empty session that would log the visitor out), one
 * that needs none is served; once Redis is back, requests are served again. On a private
 * redis-server of its own, stopped and started again (the shared one is never touched).
 */
describeEngines('an unreachable session store', (engine, platform) => {
  const UNAVAILABLE = 'The session store is unavailable. Try again shortly.';
  let server: PrivateRedis;
  let t: TestApp;
  let client: Client;
  let key: string;
  beforeAll(async () => {
    server = await privateRedisServer();
    t = await startApp({
      platform,
      engine,
      // As the cache option's docs advise: commands fail at once while the client reconnects.
      redis: { url: server.url, clientOptions: { disableOfflineQueue: true } },
      session: { secretKey: TEST_SECRET, backendTimeout: 0.5 },
      controllers: [SessionOpsController],
    });
    client = t.client();
    key = sessionCookieOf(await client.ops([['set', 'member_id', 1]]))!.value;
    await server.stop();
  }, 30_000);
  afterAll(async () => {
    await t?.close();
    await server?.stop();
  });

  it('a request with a session cookie: 503 with Retry-After and a message naming no key, no Set-Cookie; logged as an error', async () => {
    logs.clear();
    const reply = await client.ops([['get', 'member_id']]);
    expect(reply.status).toBe(503);
    expect(reply.headers.get('retry-after')).toBe('5');
    expect(reply.json().message).toBe(UNAVAILABLE);
    expect(reply.text).not.toContain(key);
    expect(reply.setCookies).toEqual([]);
    const errors = logs.at('error');
    expect(errors.length).toBeGreaterThanOrEqual(1);
    for (const e of errors) expect(e.message).not.toContain(key);
  });

  it('a new session written: 503 (the SET fails), no Set-Cookie', async () => {
    const reply = await t.client().ops([['set', 'a', 1]]);
    expect(reply.status).toBe(503);
    expect(reply.setCookies).toEqual([]);
  });

  it('no cookie and only read, or a handler without @Session(): served (no Redis command is needed)', async () => {
    t.io!.reset();
    const read = await t.client().ops([['get', 'a']]);
    expect([read.status, read.json().results]).toEqual([200, [UNDEFINED]]);
    const plain = await client.get('/plain');
    expect([plain.status, plain.text]).toEqual([200, 'plain']);
    expect(t.io!.count).toBe(0);
  });

  it('once Redis is back (empty), the old cookie names no session and a write gets a new key', async () => {
    await server.start();
    // The client reconnects on its own; until it has, requests may still get 503.
    const deadline = Date.now() + 10_000;
    let reply = await client.ops([['get', 'member_id'], ['set', 'b', 2]]);
    while (reply.status === 503 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      reply = await client.ops([['get', 'member_id'], ['set', 'b', 2]]);
    }
    expect(reply.status).toBe(200);
    expect(reply.json().results).toEqual([UNDEFINED, true]);
    const fresh = sessionCookieOf(reply)!.value;
    expect(fresh).toMatch(t.store.keyPattern);
    expect(fresh).not.toBe(key);
    expect(await t.store.data(fresh)).toEqual({ b: 2 });
  });
}, ['cache']);
