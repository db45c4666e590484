/**
 * `SessionService.forContext(context)`: guards run before interceptors, so a guard gets the
 * request's session from the service. The same store reaches the handler's `@Session()`, it is
 * read from the database once, and what a guard changes is saved like a handler's change.
 */
import { PLATFORMS, sessionCookieOf, startApp, stored, type TestApp } from '../support/app.js';
import { GuardedController, SeedController } from '../support/controllers.js';

describe.each(PLATFORMS)('guards using SessionService.forContext() on %s', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, controllers: [GuardedController, SeedController] });
  });
  afterAll(() => t?.close());

  it('a guard reading the session lets a member in and keeps others out (403)', async () => {
    const visitor = t.client();
    expect((await visitor.get('/guarded/member')).status).toBe(403);

    const member = t.client();
    await member.post('/seed/login', { username: 'ada', password: 'lovelace' });
    const reply = await member.get('/guarded/member');
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ memberId: 1, sameStore: true });
    expect(reply.vary).toBe('Cookie'); // the guard's read counts as access
  });

  it('the guard and the handler share one store, loaded with one SELECT', async () => {
    const member = t.client();
    await member.post('/seed/login', { username: 'ada', password: 'lovelace' });
    t.sql.reset();
    const reply = await member.get('/guarded/member');
    expect(reply.json().sameStore).toBe(true);
    expect(t.sql.verbs).toEqual(['SELECT']);
  });

  it('a change made only by the guard (handler without @Session()) is saved and the cookie sent', async () => {
    const client = t.client();
    const first = await client.get('/guarded/count');
    expect(first.text).toBe('counted');
    const key = sessionCookieOf(first)!.value;
    expect(first.vary).toBe('Cookie');
    expect((await stored(t.db, key))!.data).toEqual({ guard_visits: 1 });

    const second = await client.get('/guarded/count');
    expect(sessionCookieOf(second)!.value).toBe(key);
    expect((await stored(t.db, key))!.data).toEqual({ guard_visits: 2 });
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
    expect(cookie?.value).toMatch(/^[a-z0-9]{32}$/);
    expect((await stored(t.db, cookie!.value))!.data).toEqual({ denied: true });
  });
});
