/**
 * A date `_session_expiry` on the cache engine keeps the type Django stored it with when Nest
 * saves the session again: Django 4.1+ stores the isoformat() str (its `cached_db` rows are JSON,
 * where a datetime would fail its next save), Django 3.2 pickles an aware datetime (and cannot use
 * a str). A datetime is written with `datetime.timezone.utc`, never `pytz.utc`: Django >= 4.0
 * installed with pip has no pytz, and could not load the pickle. Real Redis; the bytes compared
 * are what Python writes (test/fixtures/django-redis/serializers.json).
 */
import { CACHE_SERIALIZERS } from '../../src/codec/cache-serializers.js';
import { pickleDumps } from '../../src/codec/pickle.js';
import { b64, serializerFixtures } from '../support/django-redis-fixtures.js';
import { describeEngines, sessionCookieOf, startApp, type TestApp } from '../support/app.js';
import { SessionOpsController } from '../support/controllers.js';

const ISO = '2030-01-02T03:04:05.123456+00:00';

describeEngines('a date _session_expiry written back as Django stored it', (engine, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, engine, controllers: [SessionOpsController] });
  });
  afterAll(() => t?.close());

  /** A session stored by Django, then read and changed by Nest (a save); resolves to the bytes stored then. */
  async function savedByNest(stored: Buffer): Promise<Buffer> {
    const key = await t.store.put(t.store.unknownKey(), { x: 1 }, Date.now() + 3_600_000);
    await t.store.overwrite(key, stored);
    const reply = await t.client().ops([['get', '_session_expiry'], ['set', 'x', 2]], { cookie: `sessionid=${key}` });
    expect(reply.status).toBe(200);
    expect(reply.json().results[0]).toBe(ISO);
    expect(sessionCookieOf(reply)?.value).toBe(key);
    return (await t.store.raw(key)) as Buffer;
  }

  it('a str (Django 4.1+) stays a str', async () => {
    // pickle.dumps({'x': 1, '_session_expiry': '2030-...+00:00'}, 4): a str, as Django 4.1+ stores it.
    const stored = pickleDumps(new Map<string, unknown>([['x', 1], ['_session_expiry', ISO]]));
    const saved = await savedByNest(stored);
    expect(saved.equals(pickleDumps(new Map<string, unknown>([['x', 2], ['_session_expiry', ISO]])))).toBe(true);
    expect(saved.includes(Buffer.from('datetime'))).toBe(false);
  });

  it('a datetime (Django 3.2, pytz.utc) stays a datetime, written with datetime.timezone.utc as Python writes it', async () => {
    const entry = serializerFixtures.datetimes.find((e) => e.id === 'django_set_expiry')!;
    const saved = await savedByNest(b64(entry.protocols['4']!));
    expect(saved.includes(Buffer.from('pytz'))).toBe(false);
    expect(saved.includes(Buffer.from('timezone'))).toBe(true);
    // Python's bytes for {..., 'x': 2, '_session_expiry': datetime(..., tzinfo=timezone.utc)}:
    // the fixture's rewritten form of the session with x changed, read back to the same dict.
    const again = CACHE_SERIALIZERS.pickle.loads(saved);
    expect([...again]).toEqual([['_auth_user_id', '42'], ['x', 2], ['_session_expiry', ISO]]);
  });
}, ['cache']);
