/**
 * Expiry (ENCODING.md §5; BEHAVIOURS 26–31, 35, 86): setExpiry(seconds | Date | null | 0), what
 * lands in `expire_date` (Django's text form, UTC, in the SQLite file), the cookie's Max-Age, the
 * getters seen from a handler, and expired rows never being loaded.
 */
import {
  DJANGO_DATETIME,
  PLATFORMS,
  parseStoredDate,
  sessionCookieOf,
  startApp,
  stored,
  TEST_SECRET,
  type Client,
  type TestApp,
} from '../support/app.js';
import { SessionCodec } from '../../src/index.js';
import { SessionOpsController, UNDEFINED } from '../support/controllers.js';

const AGE = 1209600;

/** Asserts `ms` lies within [from + seconds, to + seconds] (with 1 s of slack for rounding). */
function expectAbout(ms: number, seconds: number, from: number, to = Date.now()): void {
  expect(ms).toBeGreaterThanOrEqual(from + seconds * 1000 - 1000);
  expect(ms).toBeLessThanOrEqual(to + seconds * 1000 + 1000);
}

describe.each(PLATFORMS)('expiry on %s', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  async function keyOf(client: Client, ops: Parameters<Client['ops']>[0]) {
    const sentAt = Date.now();
    const reply = await client.ops(ops);
    expect(reply.status).toBe(200);
    const cookie = sessionCookieOf(reply);
    return { reply, cookie, key: cookie?.value, sentAt };
  }

  it('no custom expiry: getExpiryAge() = cookieAge, getExpiryDate() ≈ now + cookieAge, not browser-length (BEHAVIOURS 26, 31)', async () => {
    const sentAt = Date.now();
    const reply = await t.client().ops([['getExpiryAge'], ['getExpiryDate'], ['getExpireAtBrowserClose']]);
    const [age, date, atClose] = reply.json().results;
    expect(age).toBe(AGE);
    expectAbout(Date.parse(date), AGE, sentAt);
    expect(atClose).toBe(false);
  });

  it('setExpiry(300): _session_expiry = 300 stored, expire_date ≈ now + 300 s in Django\'s text form, Max-Age=300 (BEHAVIOURS 27)', async () => {
    const { reply, cookie, key, sentAt } = await keyOf(t.client(), [
      ['set', 'a', 1],
      ['setExpiry', 300],
      ['getExpiryAge'],
      ['getExpiryDate'],
      ['getExpireAtBrowserClose'],
    ]);
    const [, , age, date, atClose] = reply.json().results;
    expect(age).toBe(300);
    expectAbout(Date.parse(date), 300, sentAt);
    expect(atClose).toBe(false);
    expect(cookie!.attributes['max-age']).toBe('300');
    const row = (await stored(t.db, key!))!;
    expect(row.raw.expire_date).toMatch(DJANGO_DATETIME);
    expectAbout(row.expireMs, 300, sentAt);
    expect(row.data).toEqual({ a: 1, _session_expiry: 300 });
  });

  it('the expiry counts from the last save: a later write moves expire_date to now + 300 s again', async () => {
    const client = t.client();
    const { key } = await keyOf(client, [['set', 'a', 1], ['setExpiry', 300]]);
    await t.db.run("UPDATE django_session SET expire_date = '2099-01-01 00:00:00' WHERE session_key = ?", [key]);
    const sentAt = Date.now();
    await client.ops([['set', 'b', 2]]);
    expectAbout(parseStoredDate((await t.db.row(key!))!.expire_date), 300, sentAt);
  });

  it('a read does not extend the expiry (nothing is saved)', async () => {
    const client = t.client();
    const { key } = await keyOf(client, [['set', 'a', 1]]);
    await t.db.run("UPDATE django_session SET expire_date = '2099-01-01 00:00:00' WHERE session_key = ?", [key]);
    await client.ops([['get', 'a'], ['getExpiryAge']]);
    expect((await t.db.row(key!))!.expire_date).toBe('2099-01-01 00:00:00');
  });

  it('setExpiry(Date in 600 s): expire_date ≈ that date, Max-Age ≈ 600, getExpiryDate() ≈ the date (BEHAVIOURS 29)', async () => {
    const target = new Date(Date.now() + 600_000);
    const { reply, cookie, key } = await keyOf(t.client(), [
      ['set', 'a', 1],
      ['setExpiry', { date: target.toISOString() }],
      ['getExpiryAge'],
      ['getExpiryDate'],
    ]);
    const [, , age, date] = reply.json().results;
    expect(age).toBeGreaterThanOrEqual(599);
    expect(age).toBeLessThanOrEqual(600);
    expect(Math.abs(Date.parse(date) - target.getTime())).toBeLessThanOrEqual(1000);
    expect(Number(cookie!.attributes['max-age'])).toBe(age);
    const row = (await stored(t.db, key!))!;
    expect(row.raw.expire_date).toMatch(DJANGO_DATETIME);
    expect(Math.abs(row.expireMs - target.getTime())).toBeLessThanOrEqual(1500);
  });

  it('setExpiry(null) after setExpiry(300): back to cookieAge — _session_expiry removed, Max-Age=cookieAge, row ≈ now + cookieAge (BEHAVIOURS 30)', async () => {
    const client = t.client();
    const { key } = await keyOf(client, [['set', 'a', 1], ['setExpiry', 300]]);
    const sentAt = Date.now();
    const reply = await client.ops([['setExpiry', null], ['getExpiryAge'], ['modified']]);
    expect(reply.json().results).toEqual([UNDEFINED, AGE, true]);
    expect(sessionCookieOf(reply)!.attributes['max-age']).toBe(String(AGE));
    const row = (await stored(t.db, key!))!;
    expect(row.data).toEqual({ a: 1 });
    expectAbout(row.expireMs, AGE, sentAt);
  });

  it('setExpiry(null) with no custom expiry does not modify the session: no save, no Set-Cookie', async () => {
    const client = t.client();
    await keyOf(client, [['set', 'a', 1]]);
    const reply = await client.ops([['setExpiry', null], ['modified']]);
    expect(reply.json().results).toEqual([UNDEFINED, false]);
    expect(reply.setCookies).toEqual([]);
  });

  it('setExpiry(0): browser-length (getExpireAtBrowserClose() true), getExpiryAge() = cookieAge, no Max-Age/Expires, row ≈ now + cookieAge (BEHAVIOURS 26, 31, 86)', async () => {
    const { reply, cookie, key, sentAt } = await keyOf(t.client(), [
      ['set', 'a', 1],
      ['setExpiry', 0],
      ['getExpireAtBrowserClose'],
      ['getExpiryAge'],
    ]);
    expect(reply.json().results.slice(2)).toEqual([true, AGE]);
    expect(cookie!.attributes['max-age']).toBeUndefined();
    expect(cookie!.attributes.expires).toBeUndefined();
    expectAbout((await stored(t.db, key!))!.expireMs, AGE, sentAt);
  });

  it('setExpiry(-10): the row is saved already expired and is never loaded again — a fresh session, new key on write (BEHAVIOURS 35)', async () => {
    const { key } = await keyOf(t.client(), [['set', 'secret', 'gone'], ['setExpiry', -10]]);
    const row = (await stored(t.db, key!))!;
    expect(row.expireMs).toBeLessThan(Date.now());
    // The browser would drop a cookie with a negative Max-Age; send the key anyway.
    const client = t.client();
    client.jar.set('sessionid', key!);
    const reply = await client.ops([['get', 'secret'], ['keys'], ['set', 'b', 1]]);
    expect(reply.json().results).toEqual([UNDEFINED, [], true]);
    const fresh = sessionCookieOf(reply)!.value;
    expect(fresh).not.toBe(key);
    expect((await stored(t.db, fresh))!.data).toEqual({ b: 1 });
  });

  it('a row that expires in the future is loaded; one whose expire_date just passed is not', async () => {
    const client = t.client();
    const { key } = await keyOf(client, [['set', 'a', 'still here']]);
    const soon = new Date(Date.now() + 60_000).toISOString().replace('T', ' ').replace('Z', '000');
    await t.db.run('UPDATE django_session SET expire_date = ? WHERE session_key = ?', [soon, key]);
    expect((await client.ops([['get', 'a']])).json().results).toEqual(['still here']);
    const past = new Date(Date.now() - 1000).toISOString().replace('T', ' ').replace('Z', '000');
    await t.db.run('UPDATE django_session SET expire_date = ? WHERE session_key = ?', [past, key]);
    expect((await client.ops([['get', 'a']], { cookie: `sessionid=${key}` })).json().results).toEqual([UNDEFINED]);
  });

  it.each([
    ['100 years and a second', 100 * 365 * 86400 + 1],
    ['1e13 seconds', 1e13],
    ['minus 1e13 seconds', -1e13],
    ['a Date in year 20000', { date: '+020000-01-01T00:00:00.000Z' }],
  ])('setExpiry(%s): a RangeError at once, the session unchanged and nothing written', async (_what, value) => {
    const client = t.client();
    const key = sessionCookieOf(await client.ops([['set', 'a', 1]]))!.value;
    const row = await t.db.row(key);
    const reply = await client.request('POST', '/ops', { body: { ops: [['setExpiry', value], ['modified'], ['getExpiryAge']], catch: true } });
    const [thrown, modified, age] = reply.json().results;
    expect(thrown).toMatchObject({ thrown: 'RangeError' });
    expect(thrown.message).toMatch(/at most 3153600000 s \(100 years\)/);
    expect(modified).toBe(false);
    expect(age).toBe(1209600);
    expect(reply.setCookies).toEqual([]);
    expect(await t.db.row(key)).toEqual(row);
  });

  it('setExpiry() of 100 years exactly is accepted and stored as Django writes it', async () => {
    const key = sessionCookieOf(await t.client().ops([['set', 'a', 1], ['setExpiry', 100 * 365 * 86400]]))!.value;
    const row = (await stored(t.db, key))!;
    expect(row.raw.expire_date).toMatch(DJANGO_DATETIME);
    expect(Math.abs(row.expireMs - (Date.now() + 100 * 365 * 86400_000))).toBeLessThan(5000);
  });

  it('an ISO-string _session_expiry, as Django 5 writes for set_expiry(datetime), is honoured', async () => {
    // A row as Django 5.2 writes it after set_expiry(datetime): the offset is kept in the string.
    const when = new Date(Date.now() + 3 * 3600_000);
    when.setUTCMilliseconds(0);
    const iso = when.toISOString().replace('.000Z', '+00:00');
    const key = 'isoexpiry' + 'a'.repeat(23);
    const data = new SessionCodec({ secretKey: TEST_SECRET }).encode({ a: 1, _session_expiry: iso });
    const expire = when.toISOString().replace('T', ' ').replace('.000Z', '');
    await t.db.run('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)', [key, data, expire]);
    const client = t.client();
    client.jar.set('sessionid', key);
    const reply = await client.ops([['getExpiryDate'], ['getExpiryAge'], ['set', 'b', 2]]);
    const [date, age] = reply.json().results;
    expect(date).toBe(when.toISOString());
    expect(Math.abs(age - 3 * 3600)).toBeLessThanOrEqual(1);
    expect(Math.abs(Number(sessionCookieOf(reply)!.attributes['max-age']) - 3 * 3600)).toBeLessThanOrEqual(1);
    const row = (await stored(t.db, key))!;
    expect(row.raw.expire_date).toBe(expire);
    expect(row.data).toEqual({ a: 1, _session_expiry: iso, b: 2 });
  });
});
