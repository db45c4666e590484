/**
 * Sessions outside the request cycle (Django's "Using sessions out of views", its Session model
 * and manager, clearsessions): `SessionService.load/create/exists/clearExpired/encode/decode`, and
 * `SessionEntity` through the ordinary TypeORM repository — checked against the HTTP side and the
 * SQLite file.
 */
import {
  DJANGO_DATETIME,
  logs,
  PLATFORMS,
  parseStoredDate,
  sessionCookieOf,
  startApp,
  stored,
  unknownKey,
  type TestApp,
} from '../support/app.js';
import { SessionEntity, SessionService, SessionStore } from '../../src/index.js';
import { SessionOpsController, UNDEFINED } from '../support/controllers.js';

describe.each(PLATFORMS)('outside controllers on %s', (platform) => {
  let t: TestApp;
  let sessions: SessionService;
  beforeAll(async () => {
    t = await startApp({ platform, controllers: [SessionOpsController] });
    sessions = t.app.get(SessionService);
  });
  afterAll(() => t?.close());

  describe('SessionEntity through the repository (the seed\'s example)', () => {
    it('findOneBy({ sessionKey }): expireDate is the row\'s UTC date, getDecoded() the dictionary, String() the key', async () => {
      const sentAt = Date.now();
      const reply = await t.client().ops([['set', 'user_id', 42]]);
      const key = sessionCookieOf(reply)!.value;
      const s = await t.dataSource.getRepository(SessionEntity).findOneBy({ sessionKey: key });
      expect(s).toBeInstanceOf(SessionEntity);
      expect(s!.sessionKey).toBe(key);
      expect(s!.expireDate).toBeInstanceOf(Date);
      const raw = (await t.db.row(key))!;
      expect(raw.expire_date).toMatch(DJANGO_DATETIME);
      expect(s!.expireDate.getTime()).toBe(Math.floor(parseStoredDate(raw.expire_date)));
      expect(s!.expireDate.getTime()).toBeGreaterThanOrEqual(sentAt + 1209600_000 - 1000);
      expect(s!.sessionData).toBe(raw.session_data);
      expect(s!.getDecoded()).toEqual({ user_id: 42 });
      expect(String(s)).toBe(key);
    });

    it('getDecoded() of a row that does not verify is {}, with one "Session data corrupted" warning', async () => {
      const key = sessionCookieOf(await t.client().ops([['set', 'a', 1]]))!.value;
      await t.db.run("UPDATE django_session SET session_data = 'bad:encoded:value' WHERE session_key = ?", [key]);
      const s = await t.dataSource.getRepository(SessionEntity).findOneByOrFail({ sessionKey: key });
      logs.clear();
      expect(s.getDecoded()).toEqual({});
      expect(logs.at('warn', 'django.security.SuspiciousSession').map((e) => e.message)).toEqual(['Session data corrupted']);
    });

    it('a row written through the repository (Django\'s Session.objects.save) is stored in Django\'s form and served to its cookie', async () => {
      const key = unknownKey();
      const expireDate = new Date(Date.now() + 60_000);
      await t.dataSource.getRepository(SessionEntity).save(
        Object.assign(new SessionEntity(), { sessionKey: key, sessionData: sessions.encode({ x: 1 }), expireDate }),
      );
      const raw = (await t.db.row(key))!;
      expect(raw.expire_date).toMatch(DJANGO_DATETIME);
      expect(parseStoredDate(raw.expire_date)).toBe(expireDate.getTime());
      const reply = await t.client().ops([['get', 'x'], ['sessionKey']], { cookie: `sessionid=${key}` });
      expect(reply.json().results).toEqual([1, key]);
      const s = await t.dataSource.getRepository(SessionEntity).findOneByOrFail({ sessionKey: key });
      expect(s.expireDate.getTime()).toBe(expireDate.getTime());
    });

    it('getDecoded() keeps using this app\'s secret after another app (another secret) started and closed', async () => {
      const key = sessionCookieOf(await t.client().ops([['set', 'mine', true]]))!.value;
      const other = await startApp({ platform, session: { secretKey: 'another-app-another-secret' } });
      await other.close();
      const s = await t.dataSource.getRepository(SessionEntity).findOneByOrFail({ sessionKey: key });
      logs.clear();
      expect(s.getDecoded()).toEqual({ mine: true });
      expect(logs.at('warn')).toEqual([]);
    });
  });

  describe('SessionService', () => {
    it('create(data): a saved session under a fresh key, which a browser can then use', async () => {
      const sentAt = Date.now();
      const session = await sessions.create({ user_id: 7, plan: 'pro' });
      expect(session).toBeInstanceOf(SessionStore);
      const key = session.sessionKey!;
      expect(key).toMatch(/^[a-z0-9]{32}$/);
      const row = (await stored(t.db, key))!;
      expect(row.data).toEqual({ user_id: 7, plan: 'pro' });
      expect(row.expireMs).toBeGreaterThanOrEqual(sentAt + 1209600_000 - 1000);
      const reply = await t.client().ops([['get', 'user_id'], ['get', 'plan']], { cookie: `sessionid=${key}` });
      expect(reply.json().results).toEqual([7, 'pro']);
    });

    it('create() with no data: an empty saved session ({} in the row)', async () => {
      const session = await sessions.create();
      expect((await stored(t.db, session.sessionKey!))!.data).toEqual({});
    });

    it('load(key): the session a browser saved; set() + save() updates the row under the same key', async () => {
      const client = t.client();
      const key = sessionCookieOf(await client.ops([['set', 'a', 1]]))!.value;
      const session = await sessions.load(key);
      expect(session.sessionKey).toBe(key);
      expect(session.get('a')).toBe(1);
      session.set('b', 2);
      await session.save();
      expect(session.sessionKey).toBe(key);
      expect((await stored(t.db, key))!.data).toEqual({ a: 1, b: 2 });
      expect((await client.ops([['get', 'b']])).json().results).toEqual([2]);
    });

    it('load(unknown key): empty and keyless; save() creates a NEW key and leaves no row for the unknown one', async () => {
      const theirs = unknownKey();
      const session = await sessions.load(theirs);
      expect(session.get('a')).toBeUndefined();
      expect(session.sessionKey).toBeNull();
      expect(await sessions.exists(theirs)).toBe(false);
      session.set('a', 1);
      await session.save();
      expect(session.sessionKey).not.toBe(theirs);
      expect(await t.db.row(theirs)).toBeUndefined();
      expect((await stored(t.db, session.sessionKey!))!.data).toEqual({ a: 1 });
    });

    it('load(malformed key): no query at all', async () => {
      t.sql.reset();
      const session = await sessions.load('NOT-A-KEY');
      expect(session.sessionKey).toBeNull();
      expect(session.keys()).toEqual([]);
      expect(t.sql.count).toBe(0);
    });

    it('exists(key): true for a stored row (expired or not), false for unknown and malformed keys', async () => {
      const live = (await sessions.create({ a: 1 })).sessionKey!;
      const expired = await sessions.create({ a: 1 });
      expired.setExpiry(-60);
      await expired.save();
      expect(await sessions.exists(live)).toBe(true);
      expect(await sessions.exists(expired.sessionKey!)).toBe(true);
      expect(await sessions.exists(unknownKey())).toBe(false);
      t.sql.reset();
      expect(await sessions.exists('../../etc/passwd')).toBe(false);
      expect(t.sql.count).toBe(0);
    });

    it('clearExpired(): deletes exactly the expired rows and answers how many', async () => {
      const past = await sessions.create({ which: 'past' });
      past.setExpiry(-3600);
      await past.save();
      const future = await sessions.create({ which: 'future' });
      future.setExpiry(3600);
      await future.save();
      const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
      const [{ n: expiredBefore }] = await t.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM django_session WHERE expire_date < ?', [now]);
      const total = await t.db.count();
      expect(expiredBefore).toBeGreaterThanOrEqual(1);

      expect(await sessions.clearExpired()).toBe(expiredBefore);
      expect(await t.db.row(past.sessionKey!)).toBeUndefined();
      expect(await t.db.row(future.sessionKey!)).toBeDefined();
      expect(await t.db.count()).toBe(total - expiredBefore);
      expect(await sessions.clearExpired()).toBe(0);
    });

    it('encode(d) / decode(): round trip, readable by the app over HTTP', async () => {
      const data = { user_id: 42, name: 'Zoë', list: [1, { x: null }] };
      const encoded = sessions.encode(data);
      expect(sessions.decode(encoded)).toEqual(data);
      const key = unknownKey();
      const expire = new Date(Date.now() + 3600_000).toISOString().replace('T', ' ').replace('Z', '000');
      await t.db.run('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)', [key, encoded, expire]);
      const reply = await t.client().ops([['get', 'name'], ['get', 'list']], { cookie: `sessionid=${key}` });
      expect(reply.json().results).toEqual(['Zoë', [1, { x: null }]]);
    });

    it('decode() of data that does not verify: {} and one "Session data corrupted" warning', () => {
      logs.clear();
      expect(sessions.decode(Buffer.from('flaskdj:alkdjf').toString('base64'))).toEqual({});
      expect(sessions.decode('bad:encoded:value')).toEqual({});
      expect(logs.at('warn', 'django.security.SuspiciousSession').map((e) => e.message)).toEqual([
        'Session data corrupted',
        'Session data corrupted',
      ]);
    });

    it('flush() and cycleKey() outside a request: awaited, they delete / move the row', async () => {
      const session = await sessions.create({ a: 1 });
      const first = session.sessionKey!;
      await session.cycleKey();
      const second = session.sessionKey!;
      expect(second).not.toBe(first);
      expect(await t.db.row(first)).toBeUndefined();
      expect((await stored(t.db, second))!.data).toEqual({ a: 1 });
      await session.flush();
      expect(session.sessionKey).toBeNull();
      expect(await t.db.row(second)).toBeUndefined();
      expect(session.get('a')).toBeUndefined();
    });

    it('a session saved by the service and read by a browser share one row: changes go both ways', async () => {
      const session = await sessions.create({ from: 'service' });
      const client = t.client();
      client.jar.set('sessionid', session.sessionKey!);
      await client.ops([['set', 'from', 'browser']]);
      const reloaded = await sessions.load(session.sessionKey!);
      expect(reloaded.get('from')).toBe('browser');
      expect((await client.ops([['get', 'nope']])).json().results).toEqual([UNDEFINED]);
    });
  });
});
