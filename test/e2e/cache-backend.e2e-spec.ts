/**
 * `cache.backend: 'django.core.cache.backends.redis.RedisCache'`: the cache engine writes what
 * Django 4.0+'s own RedisCache writes, pickle protocol 5 (`pickle.HIGHEST_PROTOCOL`), while the
 * default (django-redis) still writes protocol 4 (its `pickle.DEFAULT_PROTOCOL` on Python <= 3.13).
 * Over HTTP, on a listening app, against the real Redis; the bytes compared are the real Django
 * 5.2 RedisSerializer's (test/fixtures/django-redis-cache/redis-serializer.json, made by
 * test/interop/make-redis-cache-fixtures.py).
 */
import { readFileSync } from 'node:fs';
import { CACHE_SERIALIZERS } from '../../src/codec/cache-serializers.js';
import { logs, sessionCookieOf, startApp, type TestApp } from '../support/app.js';
import { SessionOpsController } from '../support/controllers.js';
import { b64, toData, toObjects, type Tag } from '../support/django-redis-fixtures.js';
import { describeWith } from '../support/env.js';

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/django-redis-cache/redis-serializer.json', import.meta.url), 'utf8')) as {
  sessions: Array<{ id: string; session: Tag; value?: string }>;
  ints: Array<[number, string]>;
};
const DJANGO_OWN = 'django.core.cache.backends.redis.RedisCache';
const fixture = (id: string) => fixtures.sessions.find((e) => e.id === id)!;

describeWith(['redis'], "the cache engine with Django's own RedisCache (cache.backend) and with django-redis (the default)", () => {
  let own: TestApp;
  let djangoRedis: TestApp;

  beforeAll(async () => {
    [own, djangoRedis] = await Promise.all([
      startApp({ platform: 'express', engine: 'cache', redis: { cache: { backend: DJANGO_OWN } }, controllers: [SessionOpsController] }),
      startApp({ platform: 'express', engine: 'cache', controllers: [SessionOpsController] }),
    ]);
  });
  afterAll(async () => {
    await own?.close();
    await djangoRedis?.close();
  });

  /** A new session made over HTTP with the fixture session's items, in order; resolves to its key. */
  async function written(t: TestApp, id: string): Promise<string> {
    const items = [...(toData(fixture(id).session) as Map<string, unknown>)].map(([k, v]) => ['set', k, toObjects(v)]);
    const reply = await t.client().ops(items as never);
    expect(reply.status).toBe(200);
    return sessionCookieOf(reply)!.value;
  }

  it.each(['django_auth', 'nested', 'integer_like_keys'])(
    "%s: a session saved over HTTP is stored as Django 5.2's RedisSerializer pickles it, \\x80\\x05 byte for byte; the default stores \\x80\\x04",
    async (id) => {
      const django = b64(fixture(id).value!);
      const [ownValue, defaultValue] = await Promise.all(
        [own, djangoRedis].map(async (t) => (await t.store.raw(await written(t, id))) as Buffer),
      );
      expect([...ownValue!.subarray(0, 2)]).toEqual([0x80, 5]);
      expect(ownValue!.toString('base64')).toBe(django.toString('base64'));
      expect([...defaultValue!.subarray(0, 2)]).toEqual([0x80, 4]);
      expect(defaultValue!.subarray(2).equals(django.subarray(2))).toBe(true);
    },
  );

  it("a session Django's RedisCache wrote is read, and saved back at protocol 5 (by the default: at 4)", async () => {
    const entry = fixture('django_auth');
    const changed = new Map(toData(entry.session) as Map<string, unknown>).set('_session_expiry', 600);
    for (const [t, protocol] of [[own, 5], [djangoRedis, 4]] as const) {
      const key = await t.store.put(t.store.unknownKey(), { x: 1 }, Date.now() + 3_600_000);
      await t.store.overwrite(key, b64(entry.value!));
      const reply = await t.client().ops([['get', '_auth_user_id'], ['set', '_session_expiry', 600]], { cookie: `sessionid=${key}` });
      expect(reply.json().results[0]).toBe('42');
      expect(sessionCookieOf(reply)?.value).toBe(key);
      const saved = (await t.store.raw(key)) as Buffer;
      expect({ protocol: saved[1], saved: saved.toString('base64') }).toEqual({ protocol, saved: CACHE_SERIALIZERS.pickle.dumps(changed, { protocol }).toString('base64') });
    }
  });

  it("an int as Django's RedisCache stores one (unpickled, its ASCII digits) is no session: a new one, with Django's 'Session data corrupted' warning", async () => {
    for (const [, stored] of fixtures.ints) {
      const key = await own.store.put(own.store.unknownKey(), { x: 1 }, Date.now() + 3_600_000);
      await own.store.overwrite(key, Buffer.from(stored, 'ascii'));
      logs.clear();
      const reply = await own.client().ops([['get', 'x', null], ['set', 'y', 1]], { cookie: `sessionid=${key}` });
      expect(reply.status).toBe(200);
      expect(reply.json().results[0]).toBeNull();
      expect(sessionCookieOf(reply)?.value).not.toBe(key);
      expect(logs.at('warn', 'django.security.SuspiciousSession').map((e) => e.message)).toEqual([
        'Session data corrupted (the cached value is an int, as the cache stores one unpickled)',
      ]);
      // Left in place, as any unreadable value.
      expect(((await own.store.raw(key)) as Buffer).toString('ascii')).toBe(stored);
    }
  });
});
