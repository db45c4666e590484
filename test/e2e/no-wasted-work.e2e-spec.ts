/**
 * No wasted work (the backend's "one SELECT to read, one write to save"): every
 * storage operation the app runs is counted — each statement its DataSource runs, by a TypeORM
 * logger (db); each command its Redis client sends, through a counting proxy around the real
 * client (cache). No cookie, a cookie value that cannot be a key, or a handler that does not take
 * the session: no query and no Redis command at all.
 */
import { describeEngines, sessionCookieOf, startApp, unknownKey, type Client, type EngineUnderTest, type TestApp } from '../support/app.js';
import { SessionOpsController, UNDEFINED } from '../support/controllers.js';

/** The storage operation each step costs: SQL verbs (db), Redis commands (cache). */
const OPS: Partial<Record<EngineUnderTest, { read: string; insert: string; update: string; delete: string }>> = {
  db: { read: 'SELECT', insert: 'INSERT', update: 'UPDATE', delete: 'DELETE' },
  // A read is GETRANGE key 0 <maxDecodedBytes>: one round trip, and never more of a value than could be a session.
  cache: { read: 'GETRANGE', insert: 'SET', update: 'SET', delete: 'DEL' },
};
/** The engines whose storage I/O is counted (t.io). */
const COUNTED: EngineUnderTest[] = ['db', 'cache'];

const MALFORMED: Array<[string, string]> = [
  ['too short (7 characters)', 'abc1234'],
  ['uppercase', 'ABCDEFGH12345678ABCDEFGH12345678'],
  ['too long (41 characters)', 'a'.repeat(41)],
  ['non-alphanumerics', 'abcd-efgh_1234.5678'],
  ['percent-encoded slash', 'abcdefgh%2F12345678'],
  ['empty', ''],
];

describeEngines('no wasted work', (engine, platform) => {
  const { read, insert, update, delete: del } = OPS[engine]!;
  let t: TestApp;
  /** The app's storage operations (SQL statements or Redis commands). */
  let io: NonNullable<TestApp['io']>;
  beforeAll(async () => {
    t = await startApp({ platform, engine, controllers: [SessionOpsController] });
    io = t.io!;
  });
  afterAll(() => t?.close());

  async function saved(client: Client): Promise<string> {
    return sessionCookieOf(await client.ops([['set', 'a', 1]]))!.value;
  }

  describe('the counter itself (so that a count of 0 means something)', () => {
    it(`a live session read: exactly one ${read}`, async () => {
      const client = t.client();
      await saved(client);
      io.reset();
      expect((await client.ops([['get', 'a']])).json().results).toEqual([1]);
      expect(io.ops).toEqual([read]);
    });

    it(`a live session written: one ${read}, one ${update}`, async () => {
      const client = t.client();
      await saved(client);
      io.reset();
      await client.ops([['set', 'b', 2]]);
      expect(io.ops).toEqual([read, update]);
    });

    it(`a new session written: one ${insert}, nothing else`, async () => {
      io.reset();
      await saved(t.client());
      expect(io.ops).toEqual([insert]);
    });

    it(`a flush: one ${read}, one ${del}`, async () => {
      const client = t.client();
      await saved(client);
      io.reset();
      await client.ops([['flush']]);
      expect(io.ops).toEqual([read, del]);
    });

    it(`an unknown but well-formed key (8 and 40 characters are valid lengths): one ${read}`, async () => {
      for (const key of ['abcd1234', 'a1'.repeat(20), unknownKey()]) {
        io.reset();
        await t.client().ops([['get', 'a']], { cookie: `sessionid=${key}` });
        expect([key, io.ops]).toEqual([key, [read]]);
      }
    });
  });

  it('no cookie, session read: no query', async () => {
    io.reset();
    const reply = await t.client().ops([['get', 'a'], ['keys'], ['isEmpty']]);
    expect(reply.json().results).toEqual([UNDEFINED, [], true]);
    expect(io.count).toBe(0);
  });

  it('no cookie, session untouched: no query', async () => {
    io.reset();
    await t.client().get('/untouched');
    expect(io.count).toBe(0);
  });

  it('a valid cookie on a handler without @Session(): no query', async () => {
    const client = t.client();
    await saved(client);
    io.reset();
    const reply = await client.get('/plain');
    expect(reply.text).toBe('plain');
    expect(io.count).toBe(0);
  });

  it('other cookies only: no query', async () => {
    io.reset();
    await t.client().ops([['get', 'a']], { cookie: 'csrftoken=abc; theme=dark; sessionid_old=abcdefgh12345678' });
    expect(io.count).toBe(0);
  });

  it('two session cookies (say a host-only one and a Domain one): the last is used, as Django\'s parse_cookie does', async () => {
    const first = await saved(t.client());
    const last = await saved(t.client());
    io.reset();
    const reply = await t.client().ops([['sessionKey']], { cookie: `sessionid=${first}; theme=dark; sessionid=${last}` });
    expect(reply.json().results).toEqual([last]);
    expect(io.ops).toEqual([read]);
  });

  it('a quoted key (sessionid="<key>") is the key, as Django unquotes it', async () => {
    const key = await saved(t.client());
    const reply = await t.client().ops([['get', 'a'], ['sessionKey']], { cookie: `sessionid="${key}"` });
    expect(reply.json().results).toEqual([1, key]);
  });

  describe.each(MALFORMED)('a malformed cookie value: %s', (_what, value) => {
    it('is ignored without any query: an empty session, and the cookie is deleted', async () => {
      io.reset();
      const reply = await t.client().ops([['get', 'a'], ['keys'], ['sessionKey']], { cookie: `sessionid=${value}` });
      expect(reply.status).toBe(200);
      expect(reply.json().results).toEqual([UNDEFINED, [], null]);
      expect(io.count).toBe(0);
      const cookie = sessionCookieOf(reply);
      expect(cookie?.value).toBe('');
      expect(cookie?.attributes['max-age']).toBe('0');
    });

    it(`a write saves under a new key (one ${insert}), never the value sent`, async () => {
      io.reset();
      const reply = await t.client().ops([['set', 'a', 1]], { cookie: `sessionid=${value}` });
      expect(io.ops).toEqual([insert]);
      const key = sessionCookieOf(reply)!.value;
      expect(key).toMatch(/^[a-z0-9]{32}$/);
      expect(key).not.toBe(value);
      expect(await t.store.data(key)).toEqual({ a: 1 });
    });
  });
}, COUNTED);

describeEngines('no wasted work with saveEveryRequest: true', (engine, platform) => {
  const { read, update } = OPS[engine]!;
  let t: TestApp;
  let io: NonNullable<TestApp['io']>;
  beforeAll(async () => {
    t = await startApp({ platform, engine, session: { secretKey: 's'.repeat(40), saveEveryRequest: true }, controllers: [SessionOpsController] });
    io = t.io!;
  });
  afterAll(() => t?.close());

  it('no cookie, handler without @Session(): no query (an empty session is never saved)', async () => {
    io.reset();
    await t.client().get('/plain');
    expect(io.count).toBe(0);
  });

  it('a malformed cookie: no query', async () => {
    io.reset();
    await t.client().get('/plain', { cookie: 'sessionid=NOT_A_KEY' });
    expect(io.count).toBe(0);
  });

  it(`a live session on a handler without @Session(): one ${read}, one ${update}`, async () => {
    const client = t.client();
    await client.ops([['set', 'a', 1]]);
    io.reset();
    await client.get('/plain');
    expect(io.ops).toEqual([read, update]);
  });
}, COUNTED);
