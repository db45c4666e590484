/**
 * Expiry (Django's set_expiry / get_expiry_age / get_expiry_date rules):
 * setExpiry(seconds | Date | null | 0), what the storage holds (db: `expire_date` in Django's text form, UTC, in the SQLite file; cache: the
 * entry's TTL; file: the file's last write plus the session's expiry), the cookie's Max-Age, the
 * getters seen from a handler, and expired sessions never being loaded — on every engine. On
 * signed_cookies the server checks a cookie's age against cookieAge only, whatever setExpiry()
 * said (Django's signed_cookies engine, ticket #19201); the custom expiry is the cookie's Max-Age.
 */
import {
  describeEngines,
  DJANGO_DATETIME,
  resentKey,
  sessionCookieOf,
  startApp,
  type Client,
  type TestApp,
} from '../support/app.js';
import { SessionOpsController, UNDEFINED } from '../support/controllers.js';

const AGE = 1209600;

/** Asserts `ms` lies within [from + seconds, to + seconds] (with 1 s of slack for rounding). */
function expectAbout(ms: number | undefined, seconds: number, from: number, to = Date.now()): void {
  expect(ms).toBeGreaterThanOrEqual(from + seconds * 1000 - 1000);
  expect(ms).toBeLessThanOrEqual(to + seconds * 1000 + 1000);
}

describeEngines('expiry', (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());
  /** False on signed_cookies: nothing is stored; the server accepts a cookie for cookieAge from its signing. */
  const stores = engine !== 'signed_cookies';
  /** How long the server keeps (accepts) a session saved with an expiry of `seconds`. */
  const kept = (seconds: number) => (stores ? seconds : AGE);

  async function keyOf(client: Client, ops: Parameters<Client['ops']>[0]) {
    const sentAt = Date.now();
    const reply = await client.ops(ops);
    expect(reply.status).toBe(200);
    const cookie = sessionCookieOf(reply);
    return { reply, cookie, key: cookie?.value, sentAt };
  }

  it('no custom expiry: getExpiryAge() = cookieAge, getExpiryDate() ≈ now + cookieAge, not browser-length', async () => {
    const sentAt = Date.now();
    const reply = await t.client().ops([['getExpiryAge'], ['getExpiryDate'], ['getExpireAtBrowserClose']]);
    const [age, date, atClose] = reply.json().results;
    expect(age).toBe(AGE);
    expectAbout(Date.parse(date), AGE, sentAt);
    expect(atClose).toBe(false);
  });

  it('setExpiry(300): _session_expiry = 300 stored, expire_date ≈ now + 300 s in Django\'s text form, Max-Age=300', async () => {
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
    if (engine === 'db') expect((await t.db.row(key!))!.expire_date).toMatch(DJANGO_DATETIME);
    expectAbout(await t.store.expiresAt(key!), kept(300), sentAt);
    expect(await t.store.data(key!)).toEqual({ a: 1, _session_expiry: 300 });
  });

  it('the expiry counts from the last save: a later write moves expire_date to now + 300 s again', async () => {
    const client = t.client();
    const { key } = await keyOf(client, [['set', 'a', 1], ['setExpiry', 300]]);
    client.jar.set('sessionid', await t.store.setExpiresAt(key!, Date.UTC(2099, 0, 1)));
    const sentAt = Date.now();
    const reply = await client.ops([['set', 'b', 2]]);
    expect(sessionCookieOf(reply)!.attributes['max-age']).toBe('300');
    expectAbout(await t.store.expiresAt(client.sessionKey!), kept(300), sentAt);
  });

  it('a read does not extend the expiry (nothing is saved)', async () => {
    const client = t.client();
    const { key } = await keyOf(client, [['set', 'a', 1]]);
    const sent = await t.store.setExpiresAt(key!, Date.UTC(2099, 0, 1));
    client.jar.set('sessionid', sent);
    const reply = await client.ops([['get', 'a'], ['getExpiryAge']]);
    expect(reply.json().results[0]).toBe(1);
    expect(reply.setCookies).toEqual([]);
    if (engine === 'db') expect((await t.db.row(key!))!.expire_date).toBe('2099-01-01 00:00:00');
    else expect(Math.abs((await t.store.expiresAt(sent))! - Date.UTC(2099, 0, 1))).toBeLessThan(1000);
  });

  it('setExpiry(Date in 600 s): expire_date ≈ that date, Max-Age ≈ 600, getExpiryDate() ≈ the date', async () => {
    const target = new Date(Date.now() + 600_000);
    const { reply, cookie, key, sentAt } = await keyOf(t.client(), [
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
    if (engine === 'db') expect((await t.db.row(key!))!.expire_date).toMatch(DJANGO_DATETIME);
    if (stores) expect(Math.abs((await t.store.expiresAt(key!))! - target.getTime())).toBeLessThanOrEqual(1500);
    else expectAbout(await t.store.expiresAt(key!), AGE, sentAt);
  });

  it('setExpiry(null) after setExpiry(300): back to cookieAge — _session_expiry removed, Max-Age=cookieAge, row ≈ now + cookieAge', async () => {
    const client = t.client();
    const { key } = await keyOf(client, [['set', 'a', 1], ['setExpiry', 300]]);
    const sentAt = Date.now();
    const reply = await client.ops([['setExpiry', null], ['getExpiryAge'], ['modified']]);
    expect(reply.json().results).toEqual([UNDEFINED, AGE, true]);
    expect(sessionCookieOf(reply)!.attributes['max-age']).toBe(String(AGE));
    const next = resentKey(t, reply, key!);
    expect(await t.store.data(next)).toEqual({ a: 1 });
    expectAbout(await t.store.expiresAt(next), AGE, sentAt);
  });

  it('setExpiry(null) with no custom expiry does not modify the session: no save, no Set-Cookie', async () => {
    const client = t.client();
    await keyOf(client, [['set', 'a', 1]]);
    const reply = await client.ops([['setExpiry', null], ['modified']]);
    expect(reply.json().results).toEqual([UNDEFINED, false]);
    expect(reply.setCookies).toEqual([]);
  });

  it('setExpiry(0): browser-length (getExpireAtBrowserClose() true), getExpiryAge() = cookieAge, no Max-Age/Expires, row ≈ now + cookieAge', async () => {
    const { reply, cookie, key, sentAt } = await keyOf(t.client(), [
      ['set', 'a', 1],
      ['setExpiry', 0],
      ['getExpireAtBrowserClose'],
      ['getExpiryAge'],
    ]);
    expect(reply.json().results.slice(2)).toEqual([true, AGE]);
    expect(cookie!.attributes['max-age']).toBeUndefined();
    expect(cookie!.attributes.expires).toBeUndefined();
    expectAbout(await t.store.expiresAt(key!), AGE, sentAt);
  });

  if (stores) {
    it('setExpiry(-10): the row is saved already expired and is never loaded again — a fresh session, new key on write', async () => {
      const { key } = await keyOf(t.client(), [['set', 'secret', 'gone'], ['setExpiry', -10]]);
      // cache: an entry with no time left is not kept at all (django-redis deletes it).
      if (engine === 'cache') expect(await t.store.exists(key!)).toBe(false);
      else expect(await t.store.expiresAt(key!)).toBeLessThan(Date.now());
      // The browser would drop a cookie with a negative Max-Age; send the key anyway.
      const client = t.client();
      client.jar.set('sessionid', key!);
      const reply = await client.ops([['get', 'secret'], ['keys'], ['set', 'b', 1]]);
      expect(reply.json().results).toEqual([UNDEFINED, [], true]);
      const fresh = sessionCookieOf(reply)!.value;
      expect(fresh).not.toBe(key);
      expect(await t.store.data(fresh)).toEqual({ b: 1 });
    });
  } else {
    it('setExpiry(-10): the cookie is sent already expired (Max-Age=-10); sent anyway, it is still loaded — the server checks cookieAge only (Django #19201)', async () => {
      const { cookie, key } = await keyOf(t.client(), [['set', 'secret', 'gone'], ['setExpiry', -10]]);
      expect(Number(cookie!.attributes['max-age'])).toBeLessThanOrEqual(0);
      const client = t.client();
      client.jar.set('sessionid', key!);
      const reply = await client.ops([['get', 'secret'], ['getExpiryAge']]);
      expect(reply.json().results[0]).toBe('gone');
      expect(reply.json().results[1]).toBeLessThanOrEqual(-10);
    });
  }

  it(
    stores
      ? 'a row that expires in the future is loaded; one whose expire_date just passed is not'
      : 'a cookie signed less than cookieAge ago is loaded; one signed just over cookieAge ago is not',
    async () => {
      const client = t.client();
      const { key } = await keyOf(client, [['set', 'a', 'still here']]);
      client.jar.set('sessionid', await t.store.setExpiresAt(key!, Date.now() + 60_000));
      expect((await client.ops([['get', 'a']])).json().results).toEqual(['still here']);
      const past = await t.store.setExpiresAt(client.sessionKey!, Date.now() - 1000);
      expect((await client.ops([['get', 'a']], { cookie: `sessionid=${past}` })).json().results).toEqual([UNDEFINED]);
    },
  );

  it.each([
    ['100 years and a second', 100 * 365 * 86400 + 1],
    ['1e13 seconds', 1e13],
    ['minus 1e13 seconds', -1e13],
    ['a Date in year 20000', { date: '+020000-01-01T00:00:00.000Z' }],
  ])('setExpiry(%s): a RangeError at once, the session unchanged and nothing written', async (_what, value) => {
    const client = t.client();
    const key = sessionCookieOf(await client.ops([['set', 'a', 1]]))!.value;
    const row = await t.store.snapshot(key);
    const reply = await client.request('POST', '/ops', { body: { ops: [['setExpiry', value], ['modified'], ['getExpiryAge']], catch: true } });
    const [thrown, modified, age] = reply.json().results;
    expect(thrown).toMatchObject({ thrown: 'RangeError' });
    expect(thrown.message).toMatch(/at most 3153600000 s \(100 years\)/);
    expect(modified).toBe(false);
    expect(age).toBe(1209600);
    expect(reply.setCookies).toEqual([]);
    expect(await t.store.snapshot(key)).toEqual(row);
  });

  it('setExpiry() of 100 years exactly is accepted and stored as Django writes it', async () => {
    const reply = await t.client().ops([['set', 'a', 1], ['setExpiry', 100 * 365 * 86400]]);
    const key = sessionCookieOf(reply)!.value;
    expect(sessionCookieOf(reply)!.attributes['max-age']).toBe(String(100 * 365 * 86400));
    if (engine === 'db') expect((await t.db.row(key))!.expire_date).toMatch(DJANGO_DATETIME);
    expect(Math.abs((await t.store.expiresAt(key))! - (Date.now() + kept(100 * 365 * 86400) * 1000))).toBeLessThan(5000);
  });

  it('an ISO-string _session_expiry, as Django 5 writes for set_expiry(datetime), is honoured', async () => {
    // A session as Django 5.2 stores it after set_expiry(datetime): the offset is kept in the string.
    const when = new Date(Date.now() + 3 * 3600_000);
    when.setUTCMilliseconds(0);
    const iso = when.toISOString().replace('.000Z', '+00:00');
    const key = await t.store.put('isoexpiry' + 'a'.repeat(23), { a: 1, _session_expiry: iso }, when.getTime());
    const client = t.client();
    client.jar.set('sessionid', key);
    const sentAt = Date.now();
    const reply = await client.ops([['getExpiryDate'], ['getExpiryAge'], ['set', 'b', 2]]);
    const answeredAt = Date.now();
    const [date, age] = reply.json().results;
    expect(date).toBe(when.toISOString());
    // ≈ 3 h: whole seconds from the moment the server looked, which lies between sending and the
    // answer (not from when `when` was made: storing the session first may take a while on a busy machine).
    expect(age).toBeGreaterThanOrEqual(Math.floor((when.getTime() - answeredAt) / 1000));
    expect(age).toBeLessThanOrEqual(Math.ceil((when.getTime() - sentAt) / 1000));
    const maxAge = Number(sessionCookieOf(reply)!.attributes['max-age']);
    expect(maxAge).toBeGreaterThanOrEqual(Math.floor((when.getTime() - answeredAt) / 1000));
    expect(maxAge).toBeLessThanOrEqual(Math.ceil((when.getTime() - sentAt) / 1000));
    const next = resentKey(t, reply, key);
    if (engine === 'db') expect((await t.db.row(key))!.expire_date).toBe(when.toISOString().replace('T', ' ').replace('.000Z', ''));
    else if (stores) expect(Math.abs((await t.store.expiresAt(next))! - when.getTime())).toBeLessThanOrEqual(1000);
    expect(await t.store.data(next)).toEqual({ a: 1, _session_expiry: iso, b: 2 });
  });
});
