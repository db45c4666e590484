/**
 * The session's events (Django's signals) over real HTTP, on real engines (sqlite db; Redis cache;
 * a private redis-server stopped under the app): each fires once, with its payload, through the
 * app's `EventEmitterModule` (`@OnEvent`), and none carries the whole session key or a secret.
 * Without `EventEmitterModule` the same app works and sends nothing.
 */
import { Body, Controller, Get, Injectable, Post, Req } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Session, type SessionStore } from '../../src/index.js';
import { login, logout, makeDjangoPassword, verifyDjangoPassword } from '../../src/exports/auth.js';
import { DjangoSessionManager } from '../../src/exports/passport.js';
import { SESSION_EVENTS, userLoginFailed, type SessionEventName } from '../../src/exports/telemetry.js';
import { Client, ENGINES_UNDER_TEST, startApp, TEST_SECRET, type EngineUnderTest, type TestApp } from '../support/app.js';
import { describeWith } from '../support/env.js';
import { privateRedisServer, type PrivateRedis } from '../support/redis.js';

const PASSWORD = 'correct horse battery staple';
const USER = { id: 7, password: '' };

/** Every event the app's listeners got, in order. */
const received: Array<{ name: SessionEventName; payload: Record<string, unknown> }> = [];

@Injectable()
class Recorder {
  private note(name: SessionEventName, payload: Record<string, unknown>): void {
    received.push({ name, payload });
  }
  @OnEvent(SESSION_EVENTS.userLoggedIn) loggedIn(p: any) { this.note(SESSION_EVENTS.userLoggedIn, p); }
  @OnEvent(SESSION_EVENTS.userLoggedOut) loggedOut(p: any) { this.note(SESSION_EVENTS.userLoggedOut, p); }
  @OnEvent(SESSION_EVENTS.userLoginFailed) loginFailed(p: any) { this.note(SESSION_EVENTS.userLoginFailed, p); }
  @OnEvent(SESSION_EVENTS.created) created(p: any) { this.note(SESSION_EVENTS.created, p); }
  @OnEvent(SESSION_EVENTS.keyCycled) cycled(p: any) { this.note(SESSION_EVENTS.keyCycled, p); }
  @OnEvent(SESSION_EVENTS.flushed) flushed(p: any) { this.note(SESSION_EVENTS.flushed, p); }
  @OnEvent(SESSION_EVENTS.suspicious) suspicious(p: any) { this.note(SESSION_EVENTS.suspicious, p); }
  @OnEvent(SESSION_EVENTS.storeUnavailable) unavailable(p: any) { this.note(SESSION_EVENTS.storeUnavailable, p); }
}

@Controller()
class SignalsController {
  @Post('set')
  set(@Session() session: SessionStore<{ v: string }>, @Body('v') v: string) {
    session.set('v', v);
    return { ok: true };
  }

  @Get('get')
  get(@Session() session: SessionStore<{ v: string }>) {
    return { v: session.get('v', null) };
  }

  @Post('login')
  async logIn(@Session() session: SessionStore, @Body() body: { username: string; password: string }) {
    if (body.username !== 'ada' || !(await verifyDjangoPassword(body.password, USER.password))) {
      userLoginFailed(session, { username: body.username, password: body.password, api_token: 'tok-123' });
      return { ok: false };
    }
    await login(session, USER);
    return { ok: true };
  }

  @Post('logout')
  async logOut(@Session() session: SessionStore) {
    await logout(session);
    return { ok: true };
  }

  @Post('cycle')
  async cycle(@Session() session: SessionStore) {
    await session.cycleKey();
    return { ok: true };
  }
}

/** The events received while `run` ran. */
async function eventsOf(run: () => Promise<unknown>): Promise<typeof received> {
  received.length = 0;
  await run();
  await new Promise((resolve) => setImmediate(resolve));
  return [...received];
}

/** No payload carries the whole of a key this test has seen, nor a secret. */
function expectNoSecrets(events: typeof received, secrets: Array<string | undefined>): void {
  const text = JSON.stringify(events);
  for (const secret of [...secrets, TEST_SECRET, PASSWORD, USER.password, 'tok-123']) {
    if (secret) expect(text).not.toContain(secret);
  }
}

const hint = (key: string | undefined) => `${key!.slice(0, 8)}…`;

beforeAll(async () => {
  USER.password = await makeDjangoPassword(PASSWORD, { iterations: 1000 });
});

const SERVER_ENGINES: EngineUnderTest[] = ['db', 'cache', 'file'];

for (const engine of ENGINES_UNDER_TEST.filter((e) => SERVER_ENGINES.includes(e))) {
  describeWith(engine === 'cache' ? ['redis'] : [], `session events on the ${engine} engine`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ platform: 'express', engine, imports: [EventEmitterModule.forRoot()], controllers: [SignalsController], providers: [Recorder] });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('created, key_cycled, user_logged_in, user_login_failed, user_logged_out and flushed: once each, with hints, never a key or a secret', async () => {
      const browser = t.client();
      const seenKeys: Array<string | undefined> = [];

      const created = await eventsOf(() => browser.post('/set', { v: 'x' }));
      const firstKey = browser.sessionKey;
      seenKeys.push(firstKey);
      expect(created).toEqual([{ name: 'session.created', payload: { engine, sessionKeyHint: hint(firstKey) } }]);

      expect(await eventsOf(() => browser.get('/get'))).toEqual([]);

      const failed = await eventsOf(() => browser.post('/login', { username: 'ada', password: 'wrong password' }));
      expect(failed).toEqual([
        {
          name: 'django.user_login_failed',
          payload: { engine, credentials: { username: 'ada', password: '********************', api_token: '********************' }, sessionKeyHint: hint(firstKey) },
        },
      ]);
      expect(JSON.stringify(failed)).not.toContain('wrong password');

      const loggedIn = await eventsOf(() => browser.post('/login', { username: 'ada', password: PASSWORD }));
      const secondKey = browser.sessionKey;
      seenKeys.push(secondKey);
      expect(secondKey).not.toBe(firstKey);
      expect(loggedIn).toEqual([
        { name: 'session.key_cycled', payload: { engine, previousKeyHint: hint(firstKey), sessionKeyHint: hint(secondKey) } },
        { name: 'django.user_logged_in', payload: { engine, userId: '7', backend: 'django.contrib.auth.backends.ModelBackend', sessionKeyHint: hint(secondKey) } },
      ]);

      const cycled = await eventsOf(() => browser.post('/cycle'));
      const thirdKey = browser.sessionKey;
      seenKeys.push(thirdKey);
      expect(cycled).toEqual([{ name: 'session.key_cycled', payload: { engine, previousKeyHint: hint(secondKey), sessionKeyHint: hint(thirdKey) } }]);

      const loggedOut = await eventsOf(() => browser.post('/logout'));
      expect(loggedOut).toEqual([
        { name: 'django.user_logged_out', payload: { engine, userId: '7', sessionKeyHint: hint(thirdKey) } },
        { name: 'session.flushed', payload: { engine, sessionKeyHint: hint(thirdKey) } },
      ]);
      expect(await t.store.exists(thirdKey!)).toBe(false);

      // An anonymous logout: Django's user is None.
      const anonymous = await eventsOf(() => new Client(t.url).post('/logout'));
      expect(anonymous).toEqual([
        { name: 'django.user_logged_out', payload: { engine, userId: null, sessionKeyHint: null } },
        { name: 'session.flushed', payload: { engine, sessionKeyHint: null } },
      ]);

      expectNoSecrets([...created, ...failed, ...loggedIn, ...cycled, ...loggedOut], seenKeys);
    });

    it('suspicious: stored data that does not verify sends session.suspicious once, without the key', async () => {
      const browser = t.client();
      await browser.post('/set', { v: 'x' });
      const key = browser.sessionKey!;
      const raw = await t.store.raw(key);
      const tampered = typeof raw === 'string' ? `${raw.slice(0, -3)}abc` : Buffer.from('not a pickle nor json');
      await t.store.overwrite(key, tampered);

      const events = await eventsOf(() => browser.get('/get'));
      expect(events).toEqual([{ name: 'session.suspicious', payload: { engine, reason: expect.stringMatching(/^Session data corrupted/) } }]);
      expectNoSecrets(events, [key]);
    });
  });
}

describeWith(['redis'], 'session.store_unavailable, Redis stopped under the app', () => {
  let server: PrivateRedis;
  let t: TestApp | undefined;
  beforeAll(async () => {
    server = await privateRedisServer();
  });
  afterAll(async () => {
    await t?.close().catch(() => undefined);
    await server.stop();
  });

  it('a 503 sends session.store_unavailable once, with the engine and the transport, nothing of the driver', async () => {
    t = await startApp({
      platform: 'express',
      engine: 'cache',
      session: { secretKey: TEST_SECRET, backendTimeout: 1 },
      redis: { url: server.url, clientOptions: { disableOfflineQueue: true } },
      imports: [EventEmitterModule.forRoot()],
      controllers: [SignalsController],
      providers: [Recorder],
    });
    const browser = t.client();
    await browser.post('/set', { v: 'x' });
    const key = browser.sessionKey;
    await server.stop();
    let status = 0;
    const events = await eventsOf(async () => {
      status = (await browser.get('/get')).status;
    });
    expect(status).toBe(503);
    expect(events).toEqual([{ name: 'session.store_unavailable', payload: { engine: 'cache', message: expect.stringMatching(/^Redis/), transport: 'http' } }]);
    expect(JSON.stringify(events)).not.toMatch(/127\.0\.0\.1|redis:\/\/|ECONNREFUSED/);
    expectNoSecrets(events, [key]);
    await server.start();
  }, 30_000);
});

/** What Passport calls on `req.logIn()` / `req.logOut()` (`useDjangoSessions()` installs this manager). */
@Controller('passport')
class PassportController {
  private readonly manager = new DjangoSessionManager({ findUser: (id) => (id === '7' ? USER : null) });

  @Post('login')
  async logIn(@Req() request: unknown) {
    await this.manager.logIn(request, { id: 7 });
    return { ok: true };
  }

  @Post('logout')
  async logOut(@Req() request: unknown) {
    await this.manager.logOut(request);
    return { ok: true };
  }
}

describe('session events of a Passport login (requestSession: true)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({
      platform: 'express',
      session: { secretKey: TEST_SECRET, requestSession: true },
      imports: [EventEmitterModule.forRoot()],
      controllers: [PassportController],
      providers: [Recorder],
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("req.logIn() sends session.created and django.user_logged_in; req.logOut() django.user_logged_out and session.flushed", async () => {
    const browser = t.client();
    const loggedIn = await eventsOf(() => browser.post('/passport/login'));
    const key = browser.sessionKey;
    expect(loggedIn).toEqual([
      { name: 'session.created', payload: { engine: 'db', sessionKeyHint: hint(key) } },
      { name: 'django.user_logged_in', payload: { engine: 'db', userId: '7', backend: 'django.contrib.auth.backends.ModelBackend', sessionKeyHint: hint(key) } },
    ]);
    const loggedOut = await eventsOf(() => browser.post('/passport/logout'));
    expect(loggedOut).toEqual([
      { name: 'django.user_logged_out', payload: { engine: 'db', userId: '7', sessionKeyHint: hint(key) } },
      { name: 'session.flushed', payload: { engine: 'db', sessionKeyHint: hint(key) } },
    ]);
    expectNoSecrets([...loggedIn, ...loggedOut], [key]);
  });
});

describe('without EventEmitterModule', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform: 'express', controllers: [SignalsController], providers: [Recorder] });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the app works as before and nothing is sent', async () => {
    const browser = t.client();
    const events = await eventsOf(async () => {
      expect((await browser.post('/set', { v: 'x' })).status).toBe(201);
      expect((await browser.post('/login', { username: 'ada', password: 'nope' })).json()).toEqual({ ok: false });
      expect((await browser.post('/login', { username: 'ada', password: PASSWORD })).json()).toEqual({ ok: true });
      expect((await browser.get('/get')).json()).toEqual({ v: 'x' });
      expect((await browser.post('/logout')).status).toBe(201);
    });
    expect(events).toEqual([]);
    expect((await browser.get('/get')).json()).toEqual({ v: null });
  });
});
