/**
 * The examples of Django's "How to use sessions" documentation (post_comment, member login/logout,
 * the test cookie, fav_color), written as views in test/support/controllers.ts
 * (SeedController) and driven by a browser-like client: comment once, member login/logout (with
 * the KeyError swallowed), the test-cookie login, and fav_color set/get/delete/contains.
 */
import { describeEngines, resentKey, sessionCookieOf, startApp, type TestApp } from '../support/app.js';
import { SeedController } from '../support/controllers.js';

describeEngines('the seed examples', (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, controllers: [SeedController] });
  });
  afterAll(() => t?.close());
  /** False on signed_cookies: the cookie is the session (two visitors with the same data in the same second get the same value). */
  const stores = engine !== 'signed_cookies';

  describe('post_comment: a visitor comments once', () => {
    it('first comment thanked and remembered in the session; the second refused; another visitor may comment', async () => {
      const visitor = t.client();
      const first = await visitor.post('/seed/comment', { comment: 'Hello' });
      expect([first.status, first.text]).toEqual([200, 'Thanks for your comment!']);
      const key = sessionCookieOf(first)!.value;
      expect(await t.store.data(key)).toEqual({ has_commented: true });

      const second = await visitor.post('/seed/comment', { comment: 'Again' });
      expect([second.status, second.text]).toEqual([200, "You've already commented."]);
      expect(second.setCookies).toEqual([]); // only read: not saved

      const other = await t.client().post('/seed/comment', { comment: 'Hi' });
      expect(other.text).toBe('Thanks for your comment!');
      if (stores) expect(sessionCookieOf(other)!.value).not.toBe(key);
      else expect(await t.store.data(sessionCookieOf(other)!.value)).toEqual({ has_commented: true });
    });

    it('no comment: 404 before the session is touched — no cookie, no Vary', async () => {
      const reply = await t.client().post('/seed/comment', {});
      expect(reply.status).toBe(404);
      expect(reply.setCookies).toEqual([]);
      expect(reply.vary).toBeNull();
    });
  });

  describe('member login / logout', () => {
    it('a wrong password: refused, nothing stored, no cookie', async () => {
      const reply = await t.client().post('/seed/login', { username: 'ada', password: 'wrong' });
      expect(reply.text).toBe("Your username and password didn't match.");
      expect(reply.setCookies).toEqual([]);
    });

    it('login stores member_id; logout deletes it (session kept, now {}); a second logout swallows the KeyError', async () => {
      const member = t.client();
      const login = await member.post('/seed/login', { username: 'alan', password: 'turing' });
      expect(login.text).toBe("You're logged in.");
      const key = sessionCookieOf(login)!.value;
      expect(await t.store.data(key)).toEqual({ member_id: 2 });

      const logout = await member.post('/seed/logout');
      expect([logout.status, logout.text]).toEqual([200, "You're logged out."]);
      const next = resentKey(t, logout, key); // modified: saved, cookie re-sent
      expect(await t.store.data(next)).toEqual({});

      const again = await member.post('/seed/logout');
      expect([again.status, again.text]).toEqual([200, "You're logged out."]);
      expect(again.setCookies).toEqual([]); // KeyError: nothing was modified
      expect(again.vary).toBe('Cookie');
    });
  });

  describe('test cookie', () => {
    it('the form sets it; the POST finds it, deletes it and logs in', async () => {
      const browser = t.client();
      const form = await browser.get('/seed/cookie-login');
      expect(form.text).toBe('login form');
      const key = sessionCookieOf(form)!.value;
      expect(await t.store.data(key)).toEqual({ testcookie: 'worked' });

      const login = await browser.post('/seed/cookie-login');
      expect(login.text).toBe("You're logged in.");
      expect(await t.store.data(resentKey(t, login, key))).toEqual({});
    });

    it('a browser that did not keep the cookie is asked to enable cookies', async () => {
      const browser = t.client();
      await browser.get('/seed/cookie-login');
      const login = await browser.post('/seed/cookie-login', undefined, { cookie: null });
      expect(login.text).toBe('Please enable cookies and try again.');
      expect(login.setCookies).toEqual([]);
    });
  });

  describe('fav_color', () => {
    it('set, get (item and with default), "in", delete, and delete again → KeyError', async () => {
      const browser = t.client();
      const none = await browser.get('/seed/fav-color');
      expect(none.json()).toEqual({ item: null, withDefault: 'red', has: false });

      expect((await browser.post('/seed/fav-color', { color: 'blue' })).text).toBe('set');
      const key = browser.sessionKey!;
      expect(await t.store.data(key)).toEqual({ fav_color: 'blue' });

      // "this could be called in a different view, or many requests later"
      expect((await browser.get('/seed/fav-color')).json()).toEqual({ item: 'blue', withDefault: 'blue', has: true });
      expect((await browser.get('/seed/fav-color')).json()).toEqual({ item: 'blue', withDefault: 'blue', has: true });

      const deleted = await browser.post('/seed/fav-color/delete');
      expect(deleted.text).toBe('deleted');
      expect(await t.store.data(resentKey(t, deleted, key))).toEqual({});
      expect((await browser.get('/seed/fav-color')).json()).toEqual({ item: null, withDefault: 'red', has: false });

      const again = await browser.post('/seed/fav-color/delete');
      expect([again.status, again.json().message]).toEqual([404, 'KeyError']);
    });
  });
});
