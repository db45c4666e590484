/**
 * `SessionService.forContext(context)`: guards run before interceptors, so a guard gets the
 * request's session from the service. The same store reaches the handler's `@Session()`, it is
 * read from storage once, and what a guard changes is saved like a handler's change — on every
 * engine.
 */
import { APP_FILTER } from '@nestjs/core';
import { describeEngines, resentKey, sessionCookieOf, startApp, type TestApp } from '../support/app.js';
import { DemoController } from '../../examples/demo/demo.controller.js';
import { AppHttpFilter, GuardedController } from '../support/controllers.js';

/** What loading one session costs on the engines whose storage I/O is counted (t.io). */
const ONE_LOAD: Record<string, string[]> = { db: ['SELECT'], cache: ['GETRANGE'] };

/** How the shared load is counted in the test's title. */
function loadedHow(engine: string): string {
  return engine === 'db' ? 'with one SELECT' : engine === 'cache' ? 'with one GETRANGE' : 'once';
}

describeEngines('guards using SessionService.forContext()', (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, controllers: [GuardedController, DemoController] });
  });
  afterAll(() => t?.close());

  it('a guard reading the session lets a member in and keeps others out (403)', async () => {
    const visitor = t.client();
    expect((await visitor.get('/guarded/member')).status).toBe(403);

    const member = t.client();
    expect((await member.post('/login', { username: 'ada', password: 'lovelace' })).text).toBe("You're logged in.");
    const reply = await member.get('/guarded/member');
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ memberId: 1, sameStore: true });
    expect(reply.vary).toBe('Cookie'); // the guard's read counts as access
  });

  it(`the guard and the handler share one store, loaded ${loadedHow(engine)}`, async () => {
    const member = t.client();
    expect((await member.post('/login', { username: 'ada', password: 'lovelace' })).text).toBe("You're logged in.");
    t.io?.reset();
    const reply = await member.get('/guarded/member');
    expect(reply.json().sameStore).toBe(true);
    if (t.io) expect(t.io.ops).toEqual(ONE_LOAD[engine]);
  });

  it('a change made only by the guard (handler without @Session()) is saved and the cookie sent', async () => {
    const client = t.client();
    const first = await client.get('/guarded/count');
    expect(first.text).toBe('counted');
    const key = sessionCookieOf(first)!.value;
    expect(first.vary).toBe('Cookie');
    expect(await t.store.data(key)).toEqual({ guard_visits: 1 });

    const second = await client.get('/guarded/count');
    const next = resentKey(t, second, key);
    expect(await t.store.data(next)).toEqual({ guard_visits: 2 });
  });

  it('the handler sees what the guard wrote in the same request', async () => {
    const client = t.client();
    expect((await client.get('/guarded/count-and-read')).json()).toEqual({ visits: 1 });
    expect((await client.get('/guarded/count-and-read')).json()).toEqual({ visits: 2 });
  });

  it('a guard that writes the session and then refuses (403) still has its change saved, as Django\'s middleware saves on any 4xx', async () => {
    const client = t.client();
    const reply = await client.get('/guarded/deny');
    expect(reply.status).toBe(403);
    const cookie = sessionCookieOf(reply);
    expect(cookie?.value).toMatch(t.store.keyPattern);
    expect(await t.store.data(cookie!.value)).toEqual({ denied: true });
  });

  it('a guard that writes the session and answers false: Nest\'s 403, and the change saved', async () => {
    const reply = await t.client().get('/guarded/deny-false');
    expect(reply.status).toBe(403);
    expect(reply.json()).toEqual({ message: 'Forbidden resource', error: 'Forbidden', statusCode: 403 });
    expect(await t.store.data(sessionCookieOf(reply)!.value)).toEqual({ refused: true });
  });
});

/**
 * SessionModule's own exception filter (for the refusing guard above) must never stand in for
 * the application's global filters: they answer every exception they catch, as without
 * SessionModule, and a refusing guard's session is still saved.
 */
describeEngines('guards and the application\'s own APP_FILTER', (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, controllers: [GuardedController], providers: [{ provide: APP_FILTER, useClass: AppHttpFilter }] });
  });
  afterAll(() => t?.close());

  it('an HttpException from a handler is answered by the application\'s filter', async () => {
    const reply = await t.client().get('/guarded/bad-request');
    expect(reply.status).toBe(400);
    expect(reply.json()).toEqual({ custom: true, status: 400 });
  });

  it('an unknown route: the application\'s filter answers the 404', async () => {
    const reply = await t.client().get('/no-such-route');
    expect(reply.status).toBe(404);
    expect(reply.json()).toEqual({ custom: true, status: 404 });
  });

  it.each(['deny', 'deny-false'])('a guard that writes the session and refuses (/guarded/%s): the application\'s filter answers, and the change is saved', async (route) => {
    const reply = await t.client().get(`/guarded/${route}`);
    expect(reply.status).toBe(403);
    expect(reply.json()).toEqual({ custom: true, status: 403 });
    const key = sessionCookieOf(reply)!.value;
    expect(await t.store.data(key)).toEqual(route === 'deny' ? { denied: true } : { refused: true });
  });

  it('after refusals, a plain HttpException is still the application\'s (nothing is left pending)', async () => {
    await t.client().get('/guarded/deny');
    await t.client().get('/guarded/count'); // a guard that lets the request in
    const reply = await t.client().get('/guarded/bad-request');
    expect(reply.json()).toEqual({ custom: true, status: 400 });
  });
});
