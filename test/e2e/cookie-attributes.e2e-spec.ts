/**
 * The session cookie's attributes follow the options, as Django's SessionMiddleware sets them:
 * name, Max-Age and Expires from the expiry age, Domain, Path, Secure, HttpOnly, SameSite — on the
 * cookie that sets the key and on the one that deletes it — and browser-length cookies, on every
 * engine; the stored session expires with the cookie (signed_cookies: the server accepts the
 * cookie for cookieAge from its signing).
 */
import {
  describeEngines,
  DJANGO_DATETIME,
  sessionCookieOf,
  startApp,
  TEST_SECRET,
  type SetCookie,
  type TestApp,
} from '../support/app.js';
import type { SessionModuleOptions } from '../../src/index.js';
import { SessionOpsController, UNDEFINED } from '../support/controllers.js';

const DELETED_EXPIRES = 'Thu, 01 Jan 1970 00:00:00 GMT';

/** Expires must be the http-date of now + maxAge seconds (1 s resolution, plus the request's time). */
function expectExpiresIn(cookie: SetCookie, seconds: number, sentAt: number): void {
  const expires = cookie.attributes.expires;
  expect(typeof expires).toBe('string');
  expect(expires).toMatch(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  const at = Date.parse(expires as string);
  expect(at).toBeGreaterThanOrEqual(Math.floor((sentAt + seconds * 1000) / 1000) * 1000 - 1000);
  expect(at).toBeLessThanOrEqual(Date.now() + seconds * 1000 + 1000);
}

/** The cookie's attributes without Expires (checked on its own, it depends on the clock). */
function withoutExpires(cookie: SetCookie): Record<string, string | true> {
  const { expires: _expires, ...rest } = cookie.attributes;
  return rest;
}

describeEngines('cookie attributes', (engine, platform) => {
  const apps: TestApp[] = [];
  async function start(session: SessionModuleOptions): Promise<TestApp> {
    const t = await startApp({ platform, engine, session, controllers: [SessionOpsController] });
    apps.push(t);
    return t;
  }
  afterAll(async () => {
    await Promise.all(apps.map((t) => t.close()));
  });

  describe('default options', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await start({ secretKey: TEST_SECRET });
    });

    it('sessionid=<key>; Max-Age=1209600; Expires=now+2 weeks; Path=/; HttpOnly; SameSite=Lax — no Domain, no Secure', async () => {
      const sentAt = Date.now();
      const reply = await t.client().ops([['set', 'a', 1]]);
      const cookie = sessionCookieOf(reply)!;
      expect(cookie.name).toBe('sessionid');
      expect(cookie.value).toMatch(t.store.keyPattern);
      expect(withoutExpires(cookie)).toEqual({ 'max-age': '1209600', path: '/', httponly: true, samesite: 'Lax' });
      expectExpiresIn(cookie, 1209600, sentAt);
      // The row expires at the same time as the cookie.
      if (engine === 'db') expect((await t.db.row(cookie.value))!.expire_date).toMatch(DJANGO_DATETIME);
      expect(Math.abs((await t.store.expiresAt(cookie.value))! - Date.parse(cookie.attributes.expires as string))).toBeLessThan(2000);
    });

    it('the deleting cookie is exactly Django\'s: empty value, Max-Age=0, Expires 1970, Path=/, SameSite=Lax', async () => {
      const client = t.client();
      await client.ops([['set', 'a', 1]]);
      const reply = await client.ops([['flush']]);
      const cookie = sessionCookieOf(reply)!;
      expect(cookie.value).toBe('');
      expect(cookie.attributes).toEqual({ 'max-age': '0', expires: DELETED_EXPIRES, path: '/', samesite: 'Lax' });
      expect(reply.vary).toBe('Cookie');
    });

    it('set_expiry(0): a browser-length cookie (no Max-Age, no Expires) while the row still expires after cookieAge', async () => {
      const sentAt = Date.now();
      const reply = await t.client().ops([['set', 'a', 1], ['setExpiry', 0]]);
      const cookie = sessionCookieOf(reply)!;
      expect(cookie.attributes).toEqual({ path: '/', httponly: true, samesite: 'Lax' });
      const expireMs = (await t.store.expiresAt(cookie.value))!;
      expect(expireMs).toBeGreaterThanOrEqual(sentAt + 1209600_000 - 1000);
      expect(expireMs).toBeLessThanOrEqual(Date.now() + 1209600_000 + 1000);
    });
  });

  describe('cookieName, cookieAge, cookieDomain, cookiePath, cookieSecure: true, cookieHttpOnly: false, cookieSameSite: Strict', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await start({
        secretKey: TEST_SECRET,
        cookieName: 'my_sid',
        cookieAge: 3600,
        cookieDomain: '.example.local',
        cookiePath: '/example/',
        cookieSecure: true,
        cookieHttpOnly: false,
        cookieSameSite: 'Strict',
      });
    });

    it('my_sid=<key>; Domain=.example.local; Path=/example/; Max-Age=3600; Expires=now+1h; Secure; SameSite=Strict — no HttpOnly', async () => {
      const sentAt = Date.now();
      const reply = await t.client('my_sid').ops([['set', 'a', 1]]);
      expect(reply.setCookies.map((c) => c.name)).toEqual(['my_sid']);
      const cookie = sessionCookieOf(reply, 'my_sid')!;
      expect(withoutExpires(cookie)).toEqual({ 'max-age': '3600', domain: '.example.local', path: '/example/', secure: true, samesite: 'Strict' });
      expectExpiresIn(cookie, 3600, sentAt);
      const expireMs = (await t.store.expiresAt(cookie.value))!;
      expect(Math.abs(expireMs - (sentAt + 3600_000))).toBeLessThan(2000);
    });

    it('the session is read from the cookie of that name only', async () => {
      const client = t.client('my_sid');
      const key = sessionCookieOf(await client.ops([['set', 'a', 'mine']]), 'my_sid')!.value;
      expect((await client.ops([['get', 'a']])).json().results).toEqual(['mine']);
      const other = await t.client().ops([['get', 'a']], { cookie: `sessionid=${key}` });
      expect(other.json().results).toEqual([UNDEFINED]);
    });

    it('the deleting cookie carries the same Domain, Path and SameSite, and no Secure (Django adds it only for SameSite=None or __Secure-/__Host- names)', async () => {
      const client = t.client('my_sid');
      await client.ops([['set', 'a', 1]]);
      const reply = await client.ops([['flush']]);
      const cookie = sessionCookieOf(reply, 'my_sid')!;
      expect(cookie.value).toBe('');
      expect(cookie.attributes).toEqual({
        'max-age': '0',
        expires: DELETED_EXPIRES,
        domain: '.example.local',
        path: '/example/',
        samesite: 'Strict',
      });
    });
  });

  describe('cookieSameSite: None with cookieSecure: true', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await start({ secretKey: TEST_SECRET, cookieSameSite: 'None', cookieSecure: true });
    });

    it('SameSite=None; Secure on the cookie and on its deletion', async () => {
      const client = t.client();
      const set = sessionCookieOf(await client.ops([['set', 'a', 1]]))!;
      expect(withoutExpires(set)).toEqual({ 'max-age': '1209600', path: '/', secure: true, httponly: true, samesite: 'None' });
      const deleted = sessionCookieOf(await client.ops([['flush']]))!;
      expect(deleted.attributes).toEqual({ 'max-age': '0', expires: DELETED_EXPIRES, path: '/', secure: true, samesite: 'None' });
    });
  });

  describe('cookieSameSite: false', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await start({ secretKey: TEST_SECRET, cookieSameSite: false });
    });

    it('no SameSite attribute at all, on the cookie and on its deletion', async () => {
      const client = t.client();
      const set = sessionCookieOf(await client.ops([['set', 'a', 1]]))!;
      expect(withoutExpires(set)).toEqual({ 'max-age': '1209600', path: '/', httponly: true });
      const deleted = sessionCookieOf(await client.ops([['flush']]))!;
      expect(deleted.attributes).toEqual({ 'max-age': '0', expires: DELETED_EXPIRES, path: '/' });
    });
  });

  describe('expireAtBrowserClose: true', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await start({ secretKey: TEST_SECRET, expireAtBrowserClose: true, cookieAge: 7200 });
    });

    it('a browser-length cookie (no Max-Age, no Expires); the row still expires after cookieAge', async () => {
      const sentAt = Date.now();
      const reply = await t.client().ops([['set', 'a', 1], ['getExpireAtBrowserClose'], ['getExpiryAge']]);
      expect(reply.json().results).toEqual([true, true, 7200]);
      const cookie = sessionCookieOf(reply)!;
      expect(cookie.attributes).toEqual({ path: '/', httponly: true, samesite: 'Lax' });
      const expireMs = (await t.store.expiresAt(cookie.value))!;
      expect(Math.abs(expireMs - (sentAt + 7200_000))).toBeLessThan(2000);
    });

    it('setExpiry(60) overrides it: a persistent cookie with Max-Age=60 (get_expire_at_browser_close is expiry == 0)', async () => {
      const sentAt = Date.now();
      const reply = await t.client().ops([['set', 'a', 1], ['setExpiry', 60], ['getExpireAtBrowserClose']]);
      expect(reply.json().results).toEqual([true, UNDEFINED, false]);
      const cookie = sessionCookieOf(reply)!;
      expect(withoutExpires(cookie)).toEqual({ 'max-age': '60', path: '/', httponly: true, samesite: 'Lax' });
      expectExpiresIn(cookie, 60, sentAt);
    });

    it('a browser-length session is still loaded on the next request (the cookie is a session cookie, not an expired one)', async () => {
      const client = t.client();
      await client.ops([['set', 'a', 'kept']]);
      expect(client.sessionKey).toMatch(t.store.keyPattern);
      expect((await client.ops([['get', 'a']])).json().results).toEqual(['kept']);
    });
  });
});
