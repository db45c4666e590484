/**
 * The examples of Django's "How to use sessions" documentation (post_comment, member login/logout,
 * the test cookie, fav_color), as the demo's own views (examples/demo/demo.controller.ts,
 * `DemoController`, what `npm start` serves) answer them to a browser-like client: comment once,
 * member login/logout (with the KeyError swallowed), the test-cookie login, and fav_color
 * set/get/delete/contains.
 */
import { DemoController } from '../../examples/demo/demo.controller.js';
import { describeEngines, resentKey, sessionCookieOf, startApp, type TestApp } from '../support/app.js';

describeEngines("the demo's views (Django's session examples)", (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, controllers: [DemoController] });
  });
  afterAll(() => t?.close());
  /** False on signed_cookies: the cookie is the session (two visitors with the same data in the same second get the same value). */
  const stores = engine !== 'signed_cookies';

  describe('post_comment: a visitor comments once', () => {
    it('first comment thanked and remembered in the session; the second refused; another visitor may comment', async () => {
      const visitor = t.client();
      const first = await visitor.post('/comment', { comment: 'Hello' });
      expect([first.status, first.text]).toEqual([200, 'Thanks for your comment!']);
      const key = sessionCookieOf(first)!.value;
      expect(await t.store.data(key)).toEqual({ has_commented: true });

      const second = await visitor.post('/comment', { comment: 'Again' });
      expect([second.status, second.text]).toEqual([200, "You've already commented."]);
      expect(second.setCookies).toEqual([]); // only read: not saved

      const other = await t.client().post('/comment', { comment: 'Hi' });
      expect(other.text).toBe('Thanks for your comment!');
      if (stores) expect(sessionCookieOf(other)!.value).not.toBe(key);
      else expect(await t.store.data(sessionCookieOf(other)!.value)).toEqual({ has_commented: true });
    });

    it('no comment: refused before the session is touched — no cookie, no Vary', async () => {
      const reply = await t.client().post('/comment', {});
      expect([reply.status, reply.text]).toEqual([200, 'Comment not submitted.']);
      expect(reply.setCookies).toEqual([]);
      expect(reply.vary).toBeNull();
    });
  });

  describe('member login / logout', () => {
    it('a wrong password: refused, nothing stored, no cookie', async () => {
      const reply = await t.client().post('/login', { username: 'ada', password: 'wrong' });
      expect(reply.text).toBe("Your username and password didn't match.");
      expect(reply.setCookies).toEqual([]);
    });

    it('login stores member_id; logout deletes it (session kept, now {}); a second logout swallows the KeyError', async () => {
      const member = t.client();
      // "Remember me": set_expiry(None), the global policy, so member_id is all the session holds.
      const login = await member.post('/login', { username: 'alan', password: 'turing', remember: 'on' });
      expect(login.text).toBe("You're logged in.");
      const key = sessionCookieOf(login)!.value;
      expect(await t.store.data(key)).toEqual({ member_id: 2 });

      const logout = await member.post('/logout');
      expect([logout.status, logout.text]).toEqual([200, "You're logged out."]);
      const next = resentKey(t, logout, key); // modified: saved, cookie re-sent
      expect(await t.store.data(next)).toEqual({});

      const again = await member.post('/logout');
      expect([again.status, again.text]).toEqual([200, "You're logged out."]);
      expect(again.setCookies).toEqual([]); // KeyError: nothing was modified
      expect(again.vary).toBe('Cookie');
    });

    it('login cycles the key (the data kept, the old session gone); without "remember me" it lasts until the browser closes', async () => {
      const visitor = t.client();
      const comment = await visitor.post('/comment', { comment: 'Hello' });
      const before = sessionCookieOf(comment)!.value;

      const login = await visitor.post('/login', { username: 'ada', password: 'lovelace' });
      expect(login.text).toBe("You're logged in.");
      const cookie = sessionCookieOf(login)!;
      if (stores) {
        expect(cookie.value).not.toBe(before);
        expect(await t.store.exists(before)).toBe(false);
      }
      expect(await t.store.data(cookie.value)).toEqual({ has_commented: true, member_id: 1, _session_expiry: 0 });
      // set_expiry(0): a browser-length cookie, without Max-Age or Expires.
      expect(cookie.attributes['max-age']).toBeUndefined();
      expect(cookie.attributes.expires).toBeUndefined();
    });
  });

  describe('test cookie', () => {
    it('the form sets it; the POST finds it, deletes it and logs in', async () => {
      const browser = t.client();
      const form = await browser.get('/cookie-login');
      expect(form.text).toBe('Please log in (the test cookie is set; POST to /cookie-login).');
      const key = sessionCookieOf(form)!.value;
      expect(await t.store.data(key)).toEqual({ testcookie: 'worked' });

      const login = await browser.post('/cookie-login');
      expect(login.text).toBe("You're logged in.");
      expect(await t.store.data(resentKey(t, login, key))).toEqual({});
    });

    it('a browser that did not keep the cookie is asked to enable cookies', async () => {
      const browser = t.client();
      await browser.get('/cookie-login');
      const login = await browser.post('/cookie-login', undefined, { cookie: null });
      expect(login.text).toBe('Please enable cookies and try again.');
      expect(login.setCookies).toEqual([]);
    });
  });

  describe('fav_color', () => {
    it('set, get (item and with default), "in", delete, and delete again → KeyError', async () => {
      const browser = t.client();
      const none = await browser.get('/color');
      expect(none.json()).toEqual({ fav_color: 'red', has: false, item: null });

      expect((await browser.post('/color', { color: 'blue' })).json()).toEqual({ fav_color: 'blue', member: null });
      const key = browser.sessionKey!;
      expect(await t.store.data(key)).toEqual({ fav_color: 'blue' });

      // "this could be called in a different view, or many requests later"
      expect((await browser.get('/color')).json()).toEqual({ fav_color: 'blue', has: true, item: 'blue' });
      expect((await browser.get('/color')).json()).toEqual({ fav_color: 'blue', has: true, item: 'blue' });

      const deleted = await browser.request('DELETE', '/color');
      expect([deleted.status, deleted.json()]).toEqual([200, { fav_color: 'red' }]);
      expect(await t.store.data(resentKey(t, deleted, key))).toEqual({});
      expect((await browser.get('/color')).json()).toEqual({ fav_color: 'red', has: false, item: null });

      const again = await browser.request('DELETE', '/color');
      expect([again.status, again.json().message]).toEqual([404, 'KeyError: "fav_color" is not in the session']);
      expect(again.setCookies).toEqual([]); // the KeyError changed nothing: not saved
    });
  });
});
