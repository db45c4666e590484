/**
 * Django 4.0+'s own RedisCache (`cache.backend: 'django.core.cache.backends.redis.RedisCache'`):
 * its RedisSerializer pickles with `pickle.HIGHEST_PROTOCOL` (5), and stores an int unpickled.
 * Known answers written by the real Django 5.2 RedisSerializer and redis-py's encoder
 * (test/fixtures/django-redis-cache/redis-serializer.json, made by
 * test/interop/make-redis-cache-fixtures.py, whose docstring describes the format).
 */
import { readFileSync } from 'node:fs';
import { CACHE_SERIALIZERS } from '../../src/codec/cache-serializers.js';
import { b64, sha256, toData, toObjects, type Tag } from '../support/django-redis-fixtures.js';

interface SessionEntry {
  id: string;
  session: Tag;
  /** RedisSerializer().dumps(session), base64; or, past 16 KiB, its sha256 and length. */
  value?: string;
  sha256?: string;
  length?: number;
  /** expiry_*: whether '_session_expiry' was pickled as a datetime (else as its isoformat() str). */
  expiry_is_datetime?: boolean;
}

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/django-redis-cache/redis-serializer.json', import.meta.url), 'utf8')) as {
  django: string;
  pickle_protocol: number;
  sessions: SessionEntry[];
};

const { pickle } = CACHE_SERIALIZERS;
const KEEP_EXPIRY_STRING: ReadonlySet<string> = new Set(['_session_expiry']);

/** What this session's bytes must be: inline, or by length and hash. */
function expectBytes(ours: Buffer, entry: SessionEntry): void {
  if (entry.value !== undefined) {
    expect(ours.toString('base64')).toBe(entry.value);
  } else {
    expect({ length: ours.length, sha256: sha256(ours) }).toEqual({ length: entry.length, sha256: entry.sha256 });
  }
}

describe("Django's own RedisSerializer (Django 5.2, pickle protocol 5)", () => {
  it.each(fixtures.sessions.map((e) => [e.id, e] as const))(
    '%s: the pickle writer at protocol 5 writes exactly the bytes Django wrote, which it reads back; at protocol 4 (the default) the same but the PROTO byte',
    (_id, entry) => {
      // Made by Django >= 4.0, whose RedisSerializer writes pickle.HIGHEST_PROTOCOL: 5.
      expect([fixtures.pickle_protocol, Number.parseFloat(fixtures.django) >= 4]).toEqual([5, true]);
      const session = toData(entry.session) as Map<string, unknown>;
      // A str _session_expiry (Django 4.1+'s set_expiry(datetime)) stays a str when the engine says so.
      const keepStrings = entry.expiry_is_datetime === false ? KEEP_EXPIRY_STRING : undefined;
      const ours = pickle.dumps(session, { protocol: 5, keepStrings });
      expect([...ours.subarray(0, 2)]).toEqual([0x80, 5]);
      expectBytes(ours, entry);

      if (entry.value !== undefined) {
        const loaded = pickle.loads(b64(entry.value));
        expect([...loaded.keys()]).toEqual([...session.keys()]);
        for (const [k, v] of session) expect(loaded.get(k)).toEqual(toObjects(v));
      }
      const four = pickle.dumps(session, { keepStrings });
      expect(four[1]).toBe(4);
      expect(Buffer.concat([ours.subarray(0, 1), four.subarray(1, 2), ours.subarray(2)]).equals(four)).toBe(true);
    },
  );
});
