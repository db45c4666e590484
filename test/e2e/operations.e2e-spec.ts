/**
 * What an operator sets up around the module: `privateCacheControl` on responses that set the
 * session cookie, `cookieSecure` behind a TLS-terminating proxy, and the health signal
 * `SessionService.ping()`.
 */
import { Controller, Get } from '@nestjs/common';
import { SessionService, type SessionModuleOptions } from '../../src/index.js';
import { SessionOpsController } from '../support/controllers.js';
import { PLATFORMS, sessionCookieOf, startApp, TEST_SECRET, type TestApp } from '../support/app.js';

@Controller()
class HealthController {
  constructor(private readonly sessions: SessionService) {}

  @Get('health')
  async health() {
    await this.sessions.ping();
    return { sessions: 'up' };
  }
}

describe.each(PLATFORMS)('operations on %s', (platform) => {
  const apps: TestApp[] = [];
  async function start(session: SessionModuleOptions): Promise<TestApp> {
    const t = await startApp({ platform, session, controllers: [SessionOpsController, HealthController] });
    apps.push(t);
    return t;
  }
  afterAll(async () => {
    await Promise.all(apps.map((t) => t.close()));
  });

  describe('privateCacheControl', () => {
    it('off (the default, as Django): a response that sets the cookie gets no Cache-Control from us', async () => {
      const t = await start({ secretKey: TEST_SECRET });
      const reply = await t.client().ops([['set', 'a', 1]]);
      expect(sessionCookieOf(reply)).toBeDefined();
      expect(reply.headers.get('cache-control')).toBeNull();
    });

    describe('on', () => {
      let t: TestApp;
      beforeAll(async () => {
        t = await start({ secretKey: TEST_SECRET, privateCacheControl: true });
      });

      it('a response that sets the session cookie is Cache-Control: private', async () => {
        const reply = await t.client().ops([['set', 'a', 1]]);
        expect(sessionCookieOf(reply)).toBeDefined();
        expect(reply.headers.get('cache-control')).toBe('private');
      });

      it("the handler's directives are kept, except public", async () => {
        const reply = await t.client().ops([['header', 'Cache-Control', 'public, max-age=60'], ['set', 'a', 1]]);
        expect(reply.headers.get('cache-control')).toBe('private, max-age=60');
      });

      it('no-store is left as it is', async () => {
        const reply = await t.client().ops([['header', 'Cache-Control', 'no-store'], ['set', 'a', 1]]);
        expect(reply.headers.get('cache-control')).toBe('no-store');
      });

      it('a response that only reads the session is not touched', async () => {
        const client = t.client();
        await client.ops([['set', 'a', 1]]);
        const reply = await client.ops([['header', 'Cache-Control', 'public, max-age=60'], ['get', 'a']]);
        expect(sessionCookieOf(reply)).toBeUndefined();
        expect(reply.headers.get('cache-control')).toBe('public, max-age=60');
      });
    });
  });

  describe('cookieSecure behind a TLS-terminating proxy', () => {
    it('the cookie is Secure on a plain-HTTP request from the proxy: the flag does not depend on the request\'s protocol or on trust proxy', async () => {
      const t = await start({ secretKey: TEST_SECRET, cookieSecure: true });
      for (const headers of [{}, { 'x-forwarded-proto': 'https' }, { 'x-forwarded-proto': 'http' }] as Array<Record<string, string>>) {
        const reply = await t.client().ops([['set', 'a', 1]], { headers });
        expect(sessionCookieOf(reply)?.attributes.secure).toBe(true);
      }
    });

    it('without cookieSecure the cookie is never Secure, even when the proxy says https (Django: SESSION_COOKIE_SECURE only)', async () => {
      const t = await start({ secretKey: TEST_SECRET });
      const reply = await t.client().ops([['set', 'a', 1]], { headers: { 'x-forwarded-proto': 'https' } });
      expect(sessionCookieOf(reply)?.attributes.secure).toBeUndefined();
    });
  });

  describe('SessionService.ping()', () => {
    it('answers when the store answers (db on sqlite; signed_cookies has no store)', async () => {
      for (const session of [{ secretKey: TEST_SECRET }, { secretKey: TEST_SECRET, engine: 'signed_cookies' as const }]) {
        const t = await start(session);
        const reply = await t.client().get('/health');
        expect(reply.status).toBe(200);
        expect(reply.json()).toEqual({ sessions: 'up' });
      }
    });

    it('fails when the store does not answer (the database closed under the app)', async () => {
      const t = await start({ secretKey: TEST_SECRET });
      await t.dataSource.destroy();
      const reply = await t.client().get('/health');
      expect(reply.status).toBe(500);
    });
  });
});
