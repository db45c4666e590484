/**
 * `requestSession: true`: `req.session` for Express and Fastify middleware (what Passport uses),
 * the same object `@Session()` gives, saved by the same rules — also on routes without
 * `@Session()`, and for changes made in place (`req.session.passport.user = id`).
 */
import 'reflect-metadata';
import { inspect } from 'node:util';
import { Controller, Get, HttpCode, Post, Req, type INestApplication } from '@nestjs/common';
import { Session, type SessionStore } from '../../src/index.js';
import { PLATFORMS, sessionCookieOf, SqliteFile, sqliteAppPerSuite, startSqliteApp, stored, type Platform } from '../support/app.js';

const SECRET = 'request-session-secret';

/** "Remember me for 30 days", as Passport recipes write it: express-session's maxAge, in ms. */
const REMEMBER_MS = 30 * 24 * 3600 * 1000;
/** An expiry given as a date, two hours away. */
const UNTIL_MS = 2 * 3600 * 1000;

@Controller()
class PlainController {
  /** No @Session(): only middleware touches the session. */
  @Get('plain')
  plain(@Req() request: any) {
    return { visits: request.session.visits ?? null, user: request.session.passport?.user ?? null, id: request.session.id ?? null };
  }

  /** req.session as an object: its keys, spread, `in`, JSON. */
  @Get('shape')
  shape(@Req() request: any) {
    const s = request.session;
    return { keys: Object.keys(s), spread: { ...s }, hasVisits: 'visits' in s, hasSave: 'save' in s, json: JSON.parse(JSON.stringify(s)) };
  }

  /** What express-session's `req.session.cookie` says of the cookie's lifetime. */
  @Get('cookie')
  cookie(@Req() request: any) {
    const { maxAge, expires } = request.session.cookie;
    return { maxAge, expires: expires === null ? null : expires.getTime() };
  }

  /** What a log line of req.session shows. */
  @Get('print')
  print(@Req() request: any) {
    return { printed: inspect(request.session) };
  }

  /** @Session() and req.session are one object. */
  @Post('both')
  @HttpCode(200)
  both(@Session() session: SessionStore, @Req() request: any) {
    session.set('fromHandler', true);
    return { sameData: request.session.fromHandler === true && session.get('visits') === request.session.visits };
  }
}

/** Middleware as an app adds it after NestFactory.create (as passport.session() is). */
function addMiddleware(app: INestApplication, platform: Platform): void {
  const handle = async (request: any, path: string) => {
    const s = request.session;
    if (path.includes('count')) s.visits = (s.visits ?? 0) + 1;
    if (path.includes('login')) {
      await new Promise<void>((resolve, reject) => s.regenerate((e: unknown) => (e ? reject(e) : resolve())));
      request.session.passport = { user: 'alice' };
      await new Promise<void>((resolve, reject) => request.session.save((e: unknown) => (e ? reject(e) : resolve())));
    }
    if (path.includes('rename')) s.passport.user = 'bob'; // in place: passport never sets modified
    if (path.includes('define')) Object.defineProperty(s, 'defined', { value: 'yes', writable: true, enumerable: true, configurable: true });
    if (path.includes('forget')) delete s.visits;
    // express-session's "remember me": the cookie's lifetime set through req.session.cookie.
    if (path.includes('remember')) s.cookie.maxAge = REMEMBER_MS;
    if (path.includes('until')) s.cookie.expires = new Date(Date.now() + UNTIL_MS);
    if (path.includes('browsermax')) s.cookie.maxAge = null;
    if (path.includes('browserexpires')) s.cookie.expires = false;
    if (path.includes('logout')) await new Promise<void>((resolve) => s.destroy(() => resolve()));
  };
  if (platform === 'express') {
    app.use((request: any, _response: any, next: (e?: unknown) => void) => void handle(request, request.url).then(() => next(), next));
  } else {
    const fastify = app.getHttpAdapter().getInstance();
    fastify.addHook('preHandler', async (request: any) => handle(request, request.url));
  }
}

describe.each(PLATFORMS)('req.session (requestSession: true) on %s', (platform) => {
  const t = sqliteAppPerSuite(`request-session-${platform}`, SECRET, (file) =>
    startSqliteApp({
      platform,
      file,
      session: { secretKey: SECRET, requestSession: true },
      controllers: [PlainController],
      beforeListen: (app) => addMiddleware(app, platform),
    }),
  );
  const { rows, dataOf } = t;

  it('middleware writes through req.session on a route without @Session(): saved, cookie set, read back on the next request', async () => {
    const client = t.client();
    const first = await client.get('/plain?count');
    expect(first.status).toBe(200);
    // A new session has no key until it is saved, after the handler (Django: session_key is None).
    expect(first.json()).toEqual({ visits: 1, user: null, id: null });
    expect(client.sessionKey).toMatch(/^[a-z0-9]{32}$/);
    expect((await client.get('/plain?count')).json()).toEqual({ visits: 2, user: null, id: client.sessionKey });
    expect(await dataOf(client.sessionKey)).toEqual({ visits: 2 });
  });

  it('a request without a cookie that only reads req.session: no row, no cookie', async () => {
    const before = (await rows()).length;
    const client = t.client();
    const reply = await client.get('/plain');
    expect(reply.json()).toEqual({ visits: null, user: null, id: null });
    expect(reply.setCookies).toEqual([]);
    expect((await rows()).length).toBe(before);
  });

  it('regenerate() + save() (a Passport login): a new key, the old row gone, the new data stored; a change made in place is saved too', async () => {
    const client = t.client();
    await client.get('/plain?count');
    const before = client.sessionKey;
    const login = await client.get('/plain?login');
    expect(login.json().user).toBe('alice');
    expect(client.sessionKey).not.toBe(before);
    expect(await dataOf(before)).toBeUndefined();
    expect(await dataOf(client.sessionKey)).toEqual({ passport: { user: 'alice' } });

    expect((await client.get('/plain?rename')).json().user).toBe('bob');
    expect(await dataOf(client.sessionKey)).toEqual({ passport: { user: 'bob' } });
  });

  it('destroy() (a Passport logout): the row is gone and the cookie deleted', async () => {
    const client = t.client();
    await client.get('/plain?count');
    const key = client.sessionKey;
    const reply = await client.get('/plain?logout');
    expect(reply.status).toBe(200);
    expect(client.sessionKey).toBeUndefined();
    expect(await dataOf(key)).toBeUndefined();
  });

  it('req.session behaves as an object: keys, spread, in, JSON, defineProperty and delete store or remove a key', async () => {
    const client = t.client();
    await client.get('/plain?count');
    expect((await client.get('/shape?define')).json()).toEqual({
      keys: ['visits', 'defined'],
      spread: { visits: 1, defined: 'yes' },
      hasVisits: true,
      hasSave: true,
      json: { visits: 1, defined: 'yes' },
    });
    expect(await dataOf(client.sessionKey)).toEqual({ visits: 1, defined: 'yes' });
    expect((await client.get('/shape?forget')).json()).toMatchObject({ keys: ['defined'], hasVisits: false });
    expect(await dataOf(client.sessionKey)).toEqual({ defined: 'yes' });
  });

  it('printing req.session shows the session, not the request (its headers) nor the options (the secret)', async () => {
    const client = t.client();
    await client.get('/plain?count');
    const { printed } = (await client.get('/print', { headers: { authorization: 'Bearer do-not-log-me' } })).json();
    expect(printed).toMatch(/^RequestSession SessionStore \{/);
    expect(printed).toContain('visits: 1');
    expect(printed).not.toContain('do-not-log-me');
    expect(printed).not.toContain(SECRET);
    expect(printed).not.toMatch(/headers|secretKey/);
  });

  it('@Session() in the handler is the same session middleware saw', async () => {
    const client = t.client();
    await client.get('/plain?count');
    const reply = await client.post('/both?count');
    expect(reply.json()).toEqual({ sameData: true });
    expect(await dataOf(client.sessionKey)).toEqual({ visits: 2, fromHandler: true });
  });

  describe('req.session.cookie.maxAge / .expires (express-session\'s "remember me": Django\'s set_expiry())', () => {
    /** What the SQLite file holds for `key`: the data and the expiry (epoch ms). */
    async function row(key: string | undefined) {
      const db = await SqliteFile.open(t.file);
      try {
        return await stored(db, key!, SECRET);
      } finally {
        await db.close();
      }
    }

    it('maxAge = 30 days in ms: the cookie\'s Max-Age and the stored expiry are 30 days, and stay so on later saves', async () => {
      const client = t.client();
      const before = Date.now();
      const reply = await client.get('/plain?count&remember');
      expect(reply.status).toBe(200);
      expect(sessionCookieOf(reply)?.attributes['max-age']).toBe(String(REMEMBER_MS / 1000));
      const saved = (await row(client.sessionKey))!;
      expect(saved.data).toEqual({ visits: 1, _session_expiry: REMEMBER_MS / 1000 });
      expect(saved.expireMs).toBeGreaterThanOrEqual(before + REMEMBER_MS - 2000);
      expect(saved.expireMs).toBeLessThanOrEqual(Date.now() + REMEMBER_MS + 2000);
      expect((await client.get('/cookie')).json().maxAge).toBe(REMEMBER_MS);
      // A later change keeps the lifetime chosen.
      expect(sessionCookieOf(await client.get('/plain?count'))?.attributes['max-age']).toBe(String(REMEMBER_MS / 1000));
    });

    it('expires = a Date two hours away: Max-Age and the stored expiry follow it', async () => {
      const client = t.client();
      const reply = await client.get('/plain?count&until');
      const maxAge = Number(sessionCookieOf(reply)?.attributes['max-age']);
      expect(Math.abs(maxAge - UNTIL_MS / 1000)).toBeLessThanOrEqual(2);
      const saved = (await row(client.sessionKey))!;
      expect(Math.abs(saved.expireMs - (Date.now() + UNTIL_MS))).toBeLessThanOrEqual(5000);
    });

    it.each(['browsermax', 'browserexpires'])('%s (maxAge = null, expires = false): a cookie that ends with the browser (no Max-Age, no Expires), as set_expiry(0)', async (how) => {
      const client = t.client();
      const reply = await client.get(`/plain?count&${how}`);
      const cookie = sessionCookieOf(reply)!;
      expect(cookie.value).toMatch(/^[a-z0-9]{32}$/);
      expect(cookie.attributes['max-age']).toBeUndefined();
      expect(cookie.attributes.expires).toBeUndefined();
      expect((await row(client.sessionKey))!.data).toEqual({ visits: 1, _session_expiry: 0 });
      expect((await client.get('/cookie')).json()).toEqual({ maxAge: null, expires: null });
    });
  });
});
