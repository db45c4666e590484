/**
 * No wasted work (SPEC.md rule 1; the backend's "one SELECT to read, one write to save"): every
 * statement the app's DataSource runs is counted by a TypeORM logger. No cookie, a cookie value
 * that cannot be a key, or a handler that does not take the session: no query at all.
 */
import { PLATFORMS, sessionCookieOf, startApp, stored, unknownKey, type Client, type TestApp } from '../support/app.js';
import { SessionOpsController, UNDEFINED } from '../support/controllers.js';

const MALFORMED: Array<[string, string]> = [
  ['too short (7 characters)', 'abc1234'],
  ['uppercase', 'ABCDEFGH12345678ABCDEFGH12345678'],
  ['too long (41 characters)', 'a'.repeat(41)],
  ['non-alphanumerics', 'abcd-efgh_1234.5678'],
  ['percent-encoded slash', 'abcdefgh%2F12345678'],
  ['empty', ''],
];

describe.each(PLATFORMS)('no wasted work on %s', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  async function saved(client: Client): Promise<string> {
    return sessionCookieOf(await client.ops([['set', 'a', 1]]))!.value;
  }

  describe('the counter itself (so that a count of 0 means something)', () => {
    it('a live session read: exactly one SELECT', async () => {
      const client = t.client();
      await saved(client);
      t.sql.reset();
      expect((await client.ops([['get', 'a']])).json().results).toEqual([1]);
      expect(t.sql.verbs).toEqual(['SELECT']);
    });

    it('a live session written: one SELECT, one UPDATE', async () => {
      const client = t.client();
      await saved(client);
      t.sql.reset();
      await client.ops([['set', 'b', 2]]);
      expect(t.sql.verbs).toEqual(['SELECT', 'UPDATE']);
    });

    it('a new session written: one INSERT, nothing else', async () => {
      t.sql.reset();
      await saved(t.client());
      expect(t.sql.verbs).toEqual(['INSERT']);
    });

    it('a flush: one SELECT, one DELETE', async () => {
      const client = t.client();
      await saved(client);
      t.sql.reset();
      await client.ops([['flush']]);
      expect(t.sql.verbs).toEqual(['SELECT', 'DELETE']);
    });

    it('an unknown but well-formed key (8 and 40 characters are valid lengths): one SELECT', async () => {
      for (const key of ['abcd1234', 'a1'.repeat(20), unknownKey()]) {
        t.sql.reset();
        await t.client().ops([['get', 'a']], { cookie: `sessionid=${key}` });
        expect([key, t.sql.verbs]).toEqual([key, ['SELECT']]);
      }
    });
  });

  it('no cookie, session read: no query', async () => {
    t.sql.reset();
    const reply = await t.client().ops([['get', 'a'], ['keys'], ['isEmpty']]);
    expect(reply.json().results).toEqual([UNDEFINED, [], true]);
    expect(t.sql.count).toBe(0);
  });

  it('no cookie, session untouched: no query', async () => {
    t.sql.reset();
    await t.client().get('/untouched');
    expect(t.sql.count).toBe(0);
  });

  it('a valid cookie on a handler without @Session(): no query', async () => {
    const client = t.client();
    await saved(client);
    t.sql.reset();
    const reply = await client.get('/plain');
    expect(reply.text).toBe('plain');
    expect(t.sql.count).toBe(0);
  });

  it('other cookies only: no query', async () => {
    t.sql.reset();
    await t.client().ops([['get', 'a']], { cookie: 'csrftoken=abc; theme=dark; sessionid_old=abcdefgh12345678' });
    expect(t.sql.count).toBe(0);
  });

  it('two session cookies (say a host-only one and a Domain one): the last is used, as Django\'s parse_cookie does', async () => {
    const first = await saved(t.client());
    const last = await saved(t.client());
    t.sql.reset();
    const reply = await t.client().ops([['sessionKey']], { cookie: `sessionid=${first}; theme=dark; sessionid=${last}` });
    expect(reply.json().results).toEqual([last]);
    expect(t.sql.verbs).toEqual(['SELECT']);
  });

  it('a quoted key (sessionid="<key>") is the key, as Django unquotes it', async () => {
    const key = await saved(t.client());
    const reply = await t.client().ops([['get', 'a'], ['sessionKey']], { cookie: `sessionid="${key}"` });
    expect(reply.json().results).toEqual([1, key]);
  });

  describe.each(MALFORMED)('a malformed cookie value: %s', (_what, value) => {
    it('is ignored without any query: an empty session, and the cookie is deleted', async () => {
      t.sql.reset();
      const reply = await t.client().ops([['get', 'a'], ['keys'], ['sessionKey']], { cookie: `sessionid=${value}` });
      expect(reply.status).toBe(200);
      expect(reply.json().results).toEqual([UNDEFINED, [], null]);
      expect(t.sql.count).toBe(0);
      const cookie = sessionCookieOf(reply);
      expect(cookie?.value).toBe('');
      expect(cookie?.attributes['max-age']).toBe('0');
    });

    it('a write saves under a new key (one INSERT), never the value sent', async () => {
      t.sql.reset();
      const reply = await t.client().ops([['set', 'a', 1]], { cookie: `sessionid=${value}` });
      expect(t.sql.verbs).toEqual(['INSERT']);
      const key = sessionCookieOf(reply)!.value;
      expect(key).toMatch(/^[a-z0-9]{32}$/);
      expect(key).not.toBe(value);
      expect((await stored(t.db, key))!.data).toEqual({ a: 1 });
    });
  });
});

describe.each(PLATFORMS)('no wasted work with saveEveryRequest: true on %s', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, session: { secretKey: 's'.repeat(40), saveEveryRequest: true }, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  it('no cookie, handler without @Session(): no query (an empty session is never saved)', async () => {
    t.sql.reset();
    await t.client().get('/plain');
    expect(t.sql.count).toBe(0);
  });

  it('a malformed cookie: no query', async () => {
    t.sql.reset();
    await t.client().get('/plain', { cookie: 'sessionid=NOT_A_KEY' });
    expect(t.sql.count).toBe(0);
  });

  it('a live session on a handler without @Session(): one SELECT, one UPDATE', async () => {
    const client = t.client();
    await client.ops([['set', 'a', 1]]);
    t.sql.reset();
    await client.get('/plain');
    expect(t.sql.verbs).toEqual(['SELECT', 'UPDATE']);
  });
});
