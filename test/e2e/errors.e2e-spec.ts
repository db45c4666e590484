/**
 * Errors (SPEC.md "Errors"; BEHAVIOURS 7, 33, 37): session data that does not verify is an empty
 * session and a logged warning — never a 500 — and the key is kept (a later save overwrites the
 * row, as Django); KeyError from delete()/pop(); SessionInterrupted is in response-rules.
 */
import { logs, PLATFORMS, sessionCookieOf, startApp, stored, TEST_SECRET, unknownKey, type Client, type TestApp } from '../support/app.js';
import { SessionCodec } from '../../src/index.js';
import { SessionOpsController, UNDEFINED } from '../support/controllers.js';

const SECURITY_LOGGER = 'django.security.SuspiciousSession';

describe.each(PLATFORMS)('errors on %s', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  async function saved(client: Client, data: Record<string, unknown>): Promise<string> {
    const reply = await client.ops([['update', data]]);
    return sessionCookieOf(reply)!.value;
  }

  describe('session_data that does not verify', () => {
    const tamperings: Array<[string, (data: string) => string]> = [
      ['one character of the payload changed', (data) => (data[0] === 'e' ? 'f' : 'e') + data.slice(1)],
      ['the signature changed', (data) => data.slice(0, -2) + (data.endsWith('AA') ? 'BB' : 'AA')],
      ['signed with another SECRET_KEY', () => new SessionCodec({ secretKey: 'not-the-app-secret' }).encode({ member_id: 1 })],
      ['garbage ("bad:encoded:value")', () => 'bad:encoded:value'],
      ['empty', () => ''],
    ];

    it.each(tamperings)('%s: 200, an empty session, one warning "Session data corrupted"; no cookie change', async (_what, tamper) => {
      const client = t.client();
      const key = await saved(client, { member_id: 1 });
      const row = (await t.db.row(key))!;
      await t.db.run('UPDATE django_session SET session_data = ? WHERE session_key = ?', [tamper(row.session_data), key]);
      logs.clear();
      const reply = await client.ops([['get', 'member_id'], ['keys'], ['sessionKey']]);
      expect(reply.status).toBe(200);
      expect(reply.json().results).toEqual([UNDEFINED, [], key]);
      expect(reply.setCookies).toEqual([]);
      const warnings = logs.at('warn', SECURITY_LOGGER);
      expect(warnings.map((w) => w.message)).toEqual(['Session data corrupted']);
      expect(logs.at('error')).toEqual([]);
    });

    it('a write after tampering keeps the key and overwrites the row with good data (Django keeps the key)', async () => {
      const client = t.client();
      const key = await saved(client, { member_id: 1 });
      await t.db.run("UPDATE django_session SET session_data = 'tampered' WHERE session_key = ?", [key]);
      const reply = await client.ops([['set', 'b', 2]]);
      expect(reply.status).toBe(200);
      expect(sessionCookieOf(reply)!.value).toBe(key);
      expect((await stored(t.db, key))!.data).toEqual({ b: 2 });
    });

    it('good data logs nothing', async () => {
      const client = t.client();
      await saved(client, { a: 1 });
      logs.clear();
      await client.ops([['get', 'a']]);
      expect(logs.at('warn')).toEqual([]);
    });
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
      const row = await t.db.row(key);
      const reply = await client.ops([['set', 'a', 2], ['delete', 'missing']]);
      expect(reply.status).toBe(500);
      expect(reply.setCookies).toEqual([]);
      expect(await t.db.row(key)).toEqual(row);
    });
  });
});

describe.each(PLATFORMS)('another signing salt on %s (BEHAVIOURS 84)', (platform) => {
  const CUSTOM_SALT = 'django.contrib.sessions.CustomStore';
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, session: { secretKey: TEST_SECRET, salt: CUSTOM_SALT }, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  it('data signed with the built-in salt does not verify: empty session and the warning', async () => {
    const key = unknownKey();
    const data = new SessionCodec({ secretKey: TEST_SECRET }).encode({ a: 1 });
    const expire = new Date(Date.now() + 3600_000).toISOString().replace('T', ' ').replace('Z', '000');
    await t.db.run('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)', [key, data, expire]);
    logs.clear();
    const reply = await t.client().ops([['get', 'a']], { cookie: `sessionid=${key}` });
    expect(reply.json().results).toEqual([UNDEFINED]);
    expect(logs.at('warn', SECURITY_LOGGER).map((w) => w.message)).toEqual(['Session data corrupted']);
  });

  it('what it writes verifies with its salt only', async () => {
    const key = sessionCookieOf(await t.client().ops([['set', 'a', 1]]))!.value;
    const raw = (await t.db.row(key))!.session_data;
    expect(new SessionCodec({ secretKey: TEST_SECRET, salt: CUSTOM_SALT }).decode(raw)).toMatchObject({ status: 'ok', data: { a: 1 } });
    expect(new SessionCodec({ secretKey: TEST_SECRET }).decode(raw).status).toBe('bad-signature');
  });
});
