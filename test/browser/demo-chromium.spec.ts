/**
 * The demo (`npm start`) in a real browser: headless Chromium clicks its forms over real HTTP, and
 * the server records which `sessionid` cookie each request really carried. What only a browser can
 * show: HttpOnly, session-length cookies across a browser restart, a browser that refuses cookies,
 * two tabs sharing one session, and SameSite=Lax between two sites.
 */
import { rm } from 'node:fs/promises';
import type { Browser, BrowserContext } from 'puppeteer-core';
import { describeWith } from '../support/env.js';
import {
  APP_HOST,
  EVIL_HOST,
  launchChromium,
  makeProfile,
  openDemo,
  pageJson,
  screenshot,
  sessionCookie,
  shownSession,
  startDemo,
  startOtherSite,
  submit,
  type Demo,
  type OtherSite,
} from './support.js';

// The page globals the callbacks below use: they run in the browser, and test/tsconfig has no DOM lib.
declare const document: { cookie: string; body: { innerText: string } };
declare const location: { pathname: string };

/** What the demo shows of a session key: its first characters, never the credential itself. */
const keyHint = (key: string) => `${key.slice(0, 8)}…`;

describeWith(['chromium'], 'the demo in Chromium', ({ chromium }) => {
  let demo: Demo;
  let otherSite: OtherSite;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    demo = await startDemo();
    otherSite = await startOtherSite(demo.origin);
    browser = await launchChromium(chromium);
  });

  afterAll(async () => {
    await browser?.close();
    await otherSite?.close();
    await demo?.close();
  });

  // Every test starts as a new visitor: a fresh, empty cookie jar in the shared browser.
  beforeEach(async () => {
    context = await browser.createBrowserContext();
  });
  afterEach(async () => {
    await context.close();
  });

  it('keeps the session cookie out of document.cookie (HttpOnly) while the server sees the session', async () => {
    const page = await context.newPage();
    await openDemo(page, demo.origin);
    expect(await submit(page, 'POST', '/login')).toEqual({ status: 200, body: "You're logged in." });

    const cookie = await sessionCookie(page, demo.origin);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    // Scripts can use cookies on this page, just not that one.
    await page.evaluate(() => (document.cookie = 'probe=visible'));
    expect(await page.evaluate(() => document.cookie)).toBe('probe=visible');
    // ...while the server got it with the page's request, and knows who this is.
    expect(await shownSession(page)).toMatchObject({ member: 'ada', sessionKey: keyHint(cookie!.value), data: { member_id: 1 } });
    expect(demo.last('GET', '/session').sessionid).toBe(cookie!.value);
    // Nor can a script read the key another way: what the page fetches shows only its first characters.
    expect(await page.evaluate(async () => (await fetch('/session')).text())).not.toContain(cookie!.value);
    expect(await page.evaluate(() => document.body.innerText)).not.toContain(cookie!.value);
    await screenshot(page, 'logged-in');
  });

  it("logs in with Django's test cookie, and asks to enable cookies when the browser blocks them", async () => {
    const page = await context.newPage();
    await openDemo(page, demo.origin);
    expect((await submit(page, 'GET', '/cookie-login')).body).toBe('Please log in (the test cookie is set; POST to /cookie-login).');
    expect(await submit(page, 'POST', '/cookie-login')).toEqual({ status: 200, body: "You're logged in." });
    await screenshot(page, 'test-cookie-login');

    // The same two clicks in a browser whose user chose "Block all cookies".
    const profile = await makeProfile({ blockCookies: true });
    const blocking = await launchChromium(chromium, { userDataDir: profile });
    try {
      const blocked = await blocking.newPage();
      await openDemo(blocked, demo.origin);
      await submit(blocked, 'GET', '/cookie-login');
      expect(demo.last('GET', '/cookie-login').sessionid).toBeNull();
      expect(await submit(blocked, 'POST', '/cookie-login')).toEqual({ status: 200, body: 'Please enable cookies and try again.' });
      expect(demo.last('POST', '/cookie-login').sessionid).toBeNull();
      await screenshot(blocked, 'test-cookie-blocked');
    } finally {
      await blocking.close();
      await rm(profile, { recursive: true, force: true });
    }
  });

  it("logs out in one tab, and the other tab's next request is anonymous", async () => {
    const tabA = await context.newPage();
    await openDemo(tabA, demo.origin);
    await submit(tabA, 'POST', '/login');
    const tabB = await context.newPage();
    await openDemo(tabB, demo.origin);
    expect(await shownSession(tabB)).toMatchObject({ member: 'ada' });

    expect((await submit(tabA, 'POST', '/logout')).body).toBe("You're logged out.");
    // Tab B's page still says ada; its next request says otherwise.
    expect(await shownSession(tabB)).toMatchObject({ member: 'ada' });
    const answer = await submit(tabB, 'POST', '/color');
    expect(JSON.parse(answer.body)).toEqual({ fav_color: 'blue', member: null });
    expect(await shownSession(tabB)).toMatchObject({ member: null });
    expect((await shownSession(tabB)).data).not.toHaveProperty('member_id');
  });

  describe('SameSite=Lax, between app.test and evil.test (both 127.0.0.1)', () => {
    it('a POST from another site reaches the server without the cookie; from the same site, with it', async () => {
      const page = await context.newPage();
      await openDemo(page, demo.origin);
      await submit(page, 'POST', '/login');
      const victim = (await sessionCookie(page, demo.origin))!.value;

      // Same site: the demo page's own form...
      expect(JSON.parse((await submit(page, 'POST', '/color')).body)).toEqual({ fav_color: 'blue', member: 'ada' });
      expect(demo.last('POST', '/color').sessionid).toBe(victim);
      // ...and an auto-submitting form page on app.test at another port: same site, so the cookie goes.
      await page.goto(otherSite.postFormUrl(APP_HOST, 'green'));
      await page.waitForFunction(() => location.pathname === '/color');
      expect(await pageJson(page)).toEqual({ fav_color: 'green', member: 'ada' });
      expect(demo.last('POST', '/color')).toMatchObject({ host: `${APP_HOST}:${demo.port}`, sessionid: victim });

      // The very same page on evil.test: a cross-site POST, so Chromium leaves the cookie out.
      const before = demo.seen.length;
      await page.goto(otherSite.postFormUrl(EVIL_HOST, 'hacked'));
      await page.waitForFunction(() => location.pathname === '/color');
      const crossSite = demo.seen.slice(before).filter((r) => r.method === 'POST' && r.path === '/color');
      expect(crossSite).toEqual([{ method: 'POST', host: `${APP_HOST}:${demo.port}`, path: '/color', sessionid: null }]);
      expect(await pageJson(page)).toEqual({ fav_color: 'hacked', member: null });
      await screenshot(page, 'cross-site-post');
      // ada's session was not touched. (In the browser, though, the anonymous session that POST
      // created now holds the cookie: the response to a top-level navigation may set a Lax cookie.
      // Django does the same; its CSRF check, which the demo has not, would refuse the POST.)
      expect(await demo.stored(victim)).toMatchObject({ member_id: 1, fav_color: 'green' });
    });

    it('a top-level GET navigation from another site still carries the cookie', async () => {
      const page = await context.newPage();
      await openDemo(page, demo.origin);
      await submit(page, 'POST', '/login');
      const victim = (await sessionCookie(page, demo.origin))!.value;

      await page.goto(otherSite.linkUrl(EVIL_HOST));
      await Promise.all([page.waitForNavigation(), page.click('#go')]);
      expect(page.url()).toBe(`${demo.origin}/session`);
      expect(demo.last('GET', '/session')).toMatchObject({ host: `${APP_HOST}:${demo.port}`, sessionid: victim });
      expect(await pageJson(page)).toMatchObject({ member: 'ada', sessionKey: keyHint(victim) });
    });
  });

  it('forgets a browser-length session when the browser restarts, and keeps a remembered one', async () => {
    // Two logins in one profile, on two host names (so two cookies): app.test without "Remember
    // me" (set_expiry(0): a cookie without Expires), 127.0.0.1 with it (two weeks).
    const forgotten = demo.origin;
    const remembered = `http://127.0.0.1:${demo.port}`;
    const profile = await makeProfile();
    try {
      const first = await launchChromium(chromium, { userDataDir: profile });
      let keys: string[];
      try {
        const page = await first.newPage();
        await openDemo(page, forgotten);
        await submit(page, 'POST', '/login');
        expect(await shownSession(page)).toMatchObject({ member: 'ada', expireAtBrowserClose: true });
        expect(await sessionCookie(page, forgotten)).toMatchObject({ session: true, expires: -1 });

        await openDemo(page, remembered);
        await page.click('input[name="remember"]');
        await submit(page, 'POST', '/login');
        expect(await shownSession(page)).toMatchObject({ member: 'ada', expireAtBrowserClose: false });
        const lasting = await sessionCookie(page, remembered);
        expect(lasting).toMatchObject({ session: false });
        expect(lasting!.expires * 1000).toBeGreaterThan(Date.now() + 13 * 86400_000);
        keys = [(await sessionCookie(page, forgotten))!.value, lasting!.value];
      } finally {
        await first.close(); // a clean exit: Chromium writes its persistent cookies to the profile
      }

      const second = await launchChromium(chromium, { userDataDir: profile });
      try {
        const page = await second.newPage();
        await openDemo(page, forgotten);
        expect(demo.last('GET', '/session')).toMatchObject({ host: `${APP_HOST}:${demo.port}`, sessionid: null });
        expect(await shownSession(page)).toMatchObject({ member: null, sessionKey: null });
        // The cookie is gone, not the session: the server still holds it until it expires.
        expect(await demo.stored(keys[0]!)).toMatchObject({ member_id: 1 });
        await screenshot(page, 'after-restart-forgotten');

        await openDemo(page, remembered);
        expect(demo.last('GET', '/session')).toMatchObject({ host: `127.0.0.1:${demo.port}`, sessionid: keys[1] });
        expect(await shownSession(page)).toMatchObject({ member: 'ada', sessionKey: keyHint(keys[1]!) });
        await screenshot(page, 'after-restart-remembered');
      } finally {
        await second.close();
      }
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  });
});
