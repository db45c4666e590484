/**
 * What a session can hold, through a real save and reload (as in Django's dict): every
 * JSON value round-trips exactly, unicode included; keys keep their insertion order; and values
 * JSON cannot carry are refused with a TypeError (→ 500, nothing saved), never stored wrong — on
 * every engine (signed session_data in the table or a file, a pickled dict in Redis, the cookie).
 */
import { randomBytes } from 'node:crypto';
import { describeEngines, logs, sessionCookieOf, startApp, type Client, type TestApp } from '../support/app.js';
import { SessionOpsController } from '../support/controllers.js';

describeEngines('session values', (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  async function saved(client: Client, ops: Parameters<Client['ops']>[0]): Promise<string> {
    const reply = await client.ops(ops);
    expect(reply.status).toBe(200);
    return sessionCookieOf(reply)!.value;
  }

  describe('round trips', () => {
    const values: Record<string, unknown> = {
      plain: 'ascii',
      accents: 'héllo wörld — ça va?',
      cjk: '日本語のテキスト',
      emoji: '🎉 emoji 👍🏽 family 👨‍👩‍👧',
      separators: 'line\u2028para\u2029end',
      escapes: 'quote " backslash \\ slash / tab \t newline \n nul \u0000',
      lone: 'x\u00ff\u0100y',
      'clé_ünïcode_键': 'a unicode key',
      int: 42,
      negative: -7,
      float: 1.5,
      big: Number.MAX_SAFE_INTEGER,
      tiny: 5e-324,
      bools: [true, false],
      nothing: null,
      empty: '',
      list: [1, 'two', [3], { four: 4 }],
      object: { a: { b: { c: [] } }, '': 'empty key' },
    };

    it('every JSON value, unicode included, reads back identical on the next request and in the row', async () => {
      const client = t.client();
      const key = await saved(client, [['update', values]]);
      const reply = await client.ops(Object.keys(values).map((k) => ['get', k]));
      expect(reply.json().results).toEqual(Object.values(values));
      expect(await t.store.data(key)).toEqual(values);
    });

    it('"__proto__" is an ordinary key: stored and read back as data, no prototype touched', async () => {
      const client = t.client();
      const key = await saved(client, [['set', '__proto__', { polluted: true }], ['set', 'constructor', 'c']]);
      const reply = await client.ops([['get', '__proto__'], ['keys'], ['has', 'polluted']]);
      expect(reply.json().results).toEqual([{ polluted: true }, ['__proto__', 'constructor'], false]);
      const data = (await t.store.data(key))!;
      expect(Object.keys(data)).toEqual(['__proto__', 'constructor']);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  describe('key order', () => {
    it('keys keep their insertion order across saves, reloads and later writes', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'zulu', 1], ['set', 'alpha', 2], ['set', 'mike', 3]]);
      await client.ops([['update', { yankee: 4, bravo: 5 }], ['set', 'alpha', 'changed']]);
      const reply = await client.ops([['keys'], ['values']]);
      expect(reply.json().results).toEqual([
        ['zulu', 'alpha', 'mike', 'yankee', 'bravo'],
        [1, 'changed', 3, 4, 5],
      ]);
      // signed_cookies: the key is the data, so the last value the browser got holds it.
      const now = t.store.stores ? key : client.sessionKey!;
      expect(Object.keys((await t.store.data(now))!)).toEqual(['zulu', 'alpha', 'mike', 'yankee', 'bravo']);
    });

    it('integer-like keys keep their insertion order too, as in a Python dict (not JavaScript\'s integer-first object order)', async () => {
      const client = t.client();
      await saved(client, [['set', 'b', 1], ['set', '10', 2], ['set', '2', 3], ['set', 'a', 4]]);
      const reply = await client.ops([['keys']]);
      expect(reply.json().results).toEqual([['b', '10', '2', 'a']]);
    });
  });

  if (engine === 'signed_cookies') {
    describe('the 4096 bytes a browser keeps of a cookie', () => {
      it('a session whose cookie would be larger is refused at save: 500 (SessionCookieTooLarge, logged), no Set-Cookie; the browser\'s cookie still holds the old data', async () => {
        const client = t.client();
        await saved(client, [['set', 'a', 1]]);
        const before = client.sessionKey;
        logs.clear();
        // Random bytes do not compress: well over 4096 bytes once signed.
        const reply = await client.ops([['set', 'big', randomBytes(4000).toString('base64')]]);
        expect(reply.status).toBe(500);
        expect(reply.setCookies).toEqual([]);
        expect(logs.at('error').map((e) => e.message).join('\n')).toMatch(/4096 bytes/);
        expect(client.sessionKey).toBe(before);
        expect((await client.ops([['keys']])).json().results).toEqual([['a']]);
      });

      it('a session just under the limit is saved', async () => {
        const client = t.client();
        const reply = await client.ops([['set', 'big', randomBytes(2400).toString('base64')]]);
        expect(reply.status).toBe(200);
        const value = sessionCookieOf(reply)!.value;
        expect('sessionid='.length + value.length).toBeLessThanOrEqual(4096);
        expect(((await t.store.data(value))!.big as string).length).toBe(3200);
      });
    });
  }

  describe('values JSON cannot carry', () => {
    it.each([
      ['undefined', /is undefined/],
      ['function', /is a function/],
      ['date', /is a Date/],
      ['bigint', /is a bigint/],
      ['cycle', /circular/],
      ['nested-date', /"bad\.when\[0\]" is a Date/],
      ['nan', /NaN/],
      ['infinity', /Infinity/],
      ['map', /Map/],
      ['instance', /Cart/],
      ['symbol', /symbol/],
    ])('%s: set() throws a TypeError that names the key and says only JSON values can be stored', async (kind, what) => {
      const reply = await t.client().request('POST', '/ops', { body: { ops: [['setNotJson', 'bad', kind], ['keys']], catch: true } });
      const [thrown, keys] = reply.json().results;
      expect(thrown.thrown).toBe('TypeError');
      expect(thrown.isTypeError).toBe(true);
      expect(thrown.message).toMatch(/"bad/);
      expect(thrown.message).toMatch(what);
      expect(thrown.message).toMatch(/only JSON values/);
      expect(keys).toEqual([]); // nothing was stored
    });

    it('an uncaught TypeError from set(): 500, nothing saved, no cookie; the live row unchanged', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'ok', 1]]);
      const row = await t.store.snapshot(key);
      const reply = await client.ops([['set', 'ok', 2], ['setNotJson', 'bad', 'date']]);
      expect(reply.status).toBe(500);
      expect(reply.setCookies).toEqual([]);
      expect(await t.store.snapshot(key)).toEqual(row);
    });

    it('a non-JSON value slipped in by nested mutation is refused at save: 500, row unchanged, no cookie', async () => {
      const client = t.client();
      const key = await saved(client, [['set', 'cart', { items: [] }]]);
      const row = await t.store.snapshot(key);
      const reply = await client.ops([['mutateNestedNotJson', 'cart', 'when', 'date'], ['setModified', true]]);
      expect(reply.status).toBe(500);
      expect(reply.setCookies).toEqual([]);
      expect(await t.store.snapshot(key)).toEqual(row);
      expect(await t.store.data(key)).toEqual({ cart: { items: [] } });
    });

    it('a non-JSON value slipped into a NEW session is refused at save: 500, no row created', async () => {
      const before = await t.store.count();
      const reply = await t.client().ops([['set', 'cart', {}], ['mutateNestedNotJson', 'cart', 'f', 'function']]);
      expect(reply.status).toBe(500);
      expect(reply.setCookies).toEqual([]);
      expect(await t.store.count()).toBe(before);
    });
  });
});
