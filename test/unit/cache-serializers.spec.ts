import { spawnSync } from 'node:child_process';
import { CACHE_SERIALIZERS, type CacheSerializer } from '../../src/codec/cache-serializers.js';
import { PickleError, pickleDumps, pickleLoadsDict } from '../../src/codec/pickle.js';
import { MAX_JSON_DEPTH } from '../../src/codec/signing.js';
import { b64, serializerFixtures as fixtures, sha256, toData, toObjects, type Tag } from '../support/django-redis-fixtures.js';
import { describeWith } from '../support/env.js';

// Known answers written by django-redis's own JSONSerializer and PickleSerializer on CPython 3.11
// (test/support/django-redis-fixtures.ts). pickle.spec.ts checks the pickle codec itself in depth;
// this file checks the serializers.

const { json, pickle } = CACHE_SERIALIZERS;

/** What `loads` must return for a tagged session: a Map in stored order, plain objects inside. */
function expectSession(loaded: Map<string, unknown>, t: Tag): void {
  const expected = toData(t) as Map<string, unknown>;
  expect(loaded).toBeInstanceOf(Map);
  expect([...loaded.keys()]).toEqual([...expected.keys()]);
  for (const [k, v] of expected) expect(loaded.get(k)).toEqual(toObjects(v));
}

function expectBytes(ours: Buffer, inline: string | undefined, hash: string | undefined, length?: number): void {
  if (inline !== undefined) {
    expect(ours.toString('latin1')).toBe(inline);
  } else {
    expect(ours.length).toBe(length);
    expect(sha256(ours)).toBe(hash);
  }
}

describe('CACHE_SERIALIZERS', () => {
  it('holds the two django-redis serializers by name, frozen', () => {
    expect(Object.keys(CACHE_SERIALIZERS)).toEqual(['pickle', 'json']);
    expect(pickle.name).toBe('pickle');
    expect(json.name).toBe('json');
    expect(Object.isFrozen(CACHE_SERIALIZERS)).toBe(true);
    expect(Object.isFrozen(pickle)).toBe(true);
  });

  it.each([['pickle', pickle], ['json', json]] as Array<[string, CacheSerializer]>)('%s: refuses a session that is not a Map', (_name, s) => {
    expect(() => s.dumps({ a: 1 } as unknown as Map<string, unknown>)).toThrow(TypeError);
    expect(() => s.dumps(new Map<unknown, unknown>([[1, 'a']]) as Map<string, unknown>)).toThrow(TypeError);
  });

  it.each([['pickle', pickle], ['json', json]] as Array<[string, CacheSerializer]>)('%s: refuses what Python would not read back the same', (_name, s) => {
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    // NaN, ±Infinity and ints past the double range are Python's own: they round-trip (codec-limits.spec.ts).
    for (const value of [undefined, () => 1, Symbol('s'), 1n, new Date(0), new Set(), cyclic, Buffer.from('x')]) {
      expect(() => s.dumps(new Map([['v', value]]))).toThrow(TypeError);
    }
  });

  it.each([['pickle', pickle], ['json', json]] as Array<[string, CacheSerializer]>)(
    `%s: one depth rule both ways, MAX_JSON_DEPTH (${MAX_JSON_DEPTH}) levels with the session dict`,
    (_name, s) => {
      const nest = (levels: number): unknown[] => {
        let v: unknown[] = [];
        for (let i = 1; i < levels; i++) v = [v];
        return v;
      };
      const ok = s.dumps(new Map([['deep', nest(MAX_JSON_DEPTH - 1)]]));
      expect(s.loads(ok).size).toBe(1);
      expect(() => s.dumps(new Map([['deep', nest(MAX_JSON_DEPTH)]]))).toThrow(/deeper than 500 levels/);
    },
  );

  it('pickle: refuses a stored pickle deeper than MAX_JSON_DEPTH that pickleLoadsDict accepts', () => {
    const deep = fixtures.dumps.find((e) => e.id === 'deep_1000')!;
    expect(pickleLoadsDict(b64(deep.pickle!)).size).toBe(1);
    expect(() => pickle.loads(b64(deep.pickle!))).toThrow(PickleError);
  });

  it('pickle: the same bytes as pickleDumps at protocol 4', () => {
    const session = new Map<string, unknown>([['b', 1], ['10', [1.5, 'Zoë', null, { x: true }]]]);
    expect(pickle.dumps(session).equals(pickleDumps(session))).toBe(true);
    expect([...pickle.loads(pickle.dumps(session)).keys()]).toEqual(['b', '10']);
  });
});

describe(`json: byte for byte what django-redis ${fixtures.django_redis} JSONSerializer writes on Python ${fixtures.python}`, () => {
  const withJson = fixtures.dumps.filter((e) => e.json !== undefined || e.json_sha256 !== undefined);

  it.each(withJson.map((e) => [e.id, e] as const))('%s', (_id, entry) => {
    expectBytes(json.dumps(toData(entry.value) as Map<string, unknown>), entry.json, entry.json_sha256, entry.json_length);
  });

  it('writes a shared list twice, as Python does', () => {
    const shared = [1, 'x'];
    const session = new Map<string, unknown>([['a', shared], ['b', shared], ['c', { d: shared }]]);
    expect(json.dumps(session).toString('latin1')).toBe(fixtures.shared.json);
  });

  it.each([
    [0.1, '0.1'],
    [-0.25, '-0.25'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [0.000012345, '1.2345e-05'],
    [1.5e-7, '1.5e-07'],
    [5e-324, '5e-324'],
    [123456.789, '123456.789'],
    [4503599627370495.5, '4503599627370495.5'],
    [1e21, '1000000000000000000000'],
    [2 ** 64, '18446744073709551616'],
    [-(2 ** 70), '-1180591620717411303424'],
    [-0, '0'],
  ])('writes the number %p as Python writes the int/float: %s', (n, text) => {
    expect(json.dumps(new Map([['n', n]])).toString()).toBe(`{"n": ${text}}`);
  });

  it('escapes like ensure_ascii: DEL and everything above it, astral as surrogate pairs, lone surrogates', () => {
    expect(json.dumps(new Map([['s', '\x7f\x80é😀\ud800"\\\n\x00/']])).toString()).toBe(
      '{"s": "\\u007f\\u0080\\u00e9\\ud83d\\ude00\\ud800\\"\\\\\\n\\u0000/"}',
    );
  });

  it('writes empty containers as Python does', () => {
    expect(json.dumps(new Map()).toString()).toBe('{}');
    expect(json.dumps(new Map<string, unknown>([['a', []], ['b', {}], ['c', new Map()]])).toString()).toBe('{"a": [], "b": {}, "c": {}}');
  });
});

describe('json: loads what Python wrote', () => {
  const cases: Array<[string, Buffer, Tag]> = [];
  for (const entry of fixtures.dumps) {
    if (entry.json !== undefined) cases.push([entry.id, Buffer.from(entry.json, 'latin1'), entry.value]);
    // Big entries were matched byte for byte above: our output is Python's.
    else if (entry.json_sha256 !== undefined) cases.push([entry.id, json.dumps(toData(entry.value) as Map<string, unknown>), entry.value]);
  }
  for (const entry of fixtures.loads) {
    if (entry.json !== undefined) cases.push([entry.id, Buffer.from(entry.json, 'latin1'), entry.expected]);
  }

  it.each(cases)('%s', (_id, data, expected) => {
    expectSession(json.loads(data), expected);
  });

  it('keeps integer-like keys in stored order, and the first position of a repeated key', () => {
    expect([...json.loads(Buffer.from('{"b": 1, "10": 2, "2": 3, "b": 4}'))]).toEqual([['b', 4], ['10', 2], ['2', 3]]);
  });

  it('reads "__proto__" as an own data property and pollutes nothing', () => {
    const loaded = json.loads(Buffer.from('{"__proto__": {"polluted": 1}, "n": {"__proto__": {"polluted": 2}}}'));
    const top = loaded.get('__proto__') as Record<string, unknown>;
    expect(Object.getPrototypeOf(top)).toBe(Object.prototype);
    const nested = loaded.get('n') as Record<string, unknown>;
    expect(Object.getPrototypeOf(nested)).toBe(Object.prototype);
    expect(Object.keys(nested)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each(fixtures.refused_json.map((r) => [`${r.id}: ${r.why} (Python ${r.python})`, r] as const))('refuses %s', (_title, r) => {
    let error: unknown;
    try {
      json.loads(b64(r.json_b64));
    } catch (e) {
      error = e;
    }
    expect(error instanceof SyntaxError || error instanceof TypeError).toBe(true);
  });
});

describe('pickle: loads what Python wrote', () => {
  it.each(fixtures.dumps.filter((e) => e.pickle !== undefined && e.id !== 'deep_1000').map((e) => [e.id, e] as const))('%s', (_id, entry) => {
    expectSession(pickle.loads(b64(entry.pickle!)), entry.value);
  });
});

// Python reads back what we write, through django-redis's own serializers.
describeWith(['django'], 'JSONSerializer output read by Python (json.loads)', ({ django: python }) => {
  const script = String.raw`
import base64, json, sys
try:
    from django_redis.serializers.json import JSONSerializer
    serializer = JSONSerializer(options={})
    loads, dumps = serializer.loads, serializer.dumps
except ImportError:
    loads = lambda b: json.loads(b.decode())
    dumps = lambda v: json.dumps(v).encode()
out = []
for data in json.load(sys.stdin):
    v = loads(base64.b64decode(data))
    out.append(base64.b64encode(dumps(v)).decode())
json.dump(out, sys.stdout)
`;

  it('writes again the same bytes after reading ours (corpus and extra values)', () => {
    const sessions = fixtures.dumps.filter((e) => e.json !== undefined).map((e) => toData(e.value) as Map<string, unknown>);
    sessions.push(new Map<string, unknown>([['10', 1], ['b', [0.1, 1e-7, 2 ** 70, 'Zoë 😀 \ud800']], ['__proto__', { x: null }]]));
    const ours = sessions.map((s) => json.dumps(s));
    const run = spawnSync(python, ['-c', script], { input: JSON.stringify(ours.map((b) => b.toString('base64'))), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const again = JSON.parse(run.stdout) as string[];
    again.forEach((a, i) => expect(b64(a).toString('latin1')).toBe(ours[i]!.toString('latin1')));
  });
});

describe("pickle: _session_expiry as the datetime.datetime Django 3.2's set_expiry(datetime | timedelta) stores", () => {
  const reads = fixtures.datetimes.flatMap((e) => Object.entries(e.protocols).map(([proto, data]) => [`${e.id} (protocol ${proto})`, b64(data), e] as const));

  it.each(reads)('reads %s, _session_expiry as its isoformat(), and writes it back as Python pickles it with tzinfo datetime.timezone.utc', (_id, data, entry) => {
    const loaded = pickle.loads(data);
    expectSession(loaded, entry.expected);
    expect(pickle.dumps(loaded).toString('hex')).toBe(b64(entry.rewritten).toString('hex'));
  });

  it('reads the session Django 3.2 itself built (SessionStore.set_expiry) and writes it back with timezone.utc instead of pytz.utc', () => {
    const entry = fixtures.datetimes.find((e) => e.id === 'django_set_expiry')!;
    const loaded = pickle.loads(b64(entry.protocols['4']!));
    expect([...loaded]).toEqual([['_auth_user_id', '42'], ['x', 1], ['_session_expiry', '2030-01-02T03:04:05.123456+00:00']]);
    const written = pickle.dumps(loaded);
    // Django >= 4.0 installed with pip has no pytz: a pytz._UTC reference would make it drop the session.
    expect(b64(entry.protocols['4']!).includes(Buffer.from('pytz'))).toBe(true);
    expect(written.includes(Buffer.from('pytz'))).toBe(false);
    expect(written.equals(b64(entry.rewritten))).toBe(true);
    expect(entry.rewritten_is_datetime).toBe(true);
  });

  it('writes other values of _session_expiry (seconds, None, a non-isoformat string) as before', () => {
    for (const v of [1_209_600, null, '2030-01-02T03:04:05Z', '2030-01-02T03:04:05+05:30', '2030-01-02T03:04:05']) {
      const session = new Map<string, unknown>([['_session_expiry', v]]);
      expect(pickle.dumps(session).equals(pickleDumps(session))).toBe(true);
    }
    // Under another key, or nested, an isoformat string stays a str.
    const iso = '2030-01-02T03:04:05+00:00';
    for (const session of [new Map([['when', iso]]), new Map([['n', { _session_expiry: iso }]])]) {
      expect(pickle.dumps(session).equals(pickleDumps(session))).toBe(true);
    }
  });

  it('json: no datetimes, the isoformat string is a JSON string', () => {
    expect(json.dumps(new Map([['_session_expiry', '2030-01-02T03:04:05+00:00']])).toString()).toBe('{"_session_expiry": "2030-01-02T03:04:05+00:00"}');
  });

  const refused = fixtures.refused_pickles.filter((r) => r.datetime_keys_too);
  it.each(refused.map((r) => [`${r.id}: ${r.why}`, r] as const))('refuses %s', (_title, r) => {
    expect(() => pickle.loads(b64(r.pickle))).toThrow(PickleError);
  });
});

// Django 3.2 itself reads what the pickle serializer writes for a session Nest re-saves.
describeWith(['django'], 'a re-saved session read by Django 3.2 (django-redis PickleSerializer, SessionBase.get_expiry_date)', ({ django: python }) => {
  const script = String.raw`
import base64, datetime, json, sys
from django.conf import settings
settings.configure(USE_TZ=True, SECRET_KEY='x')
import django
django.setup()
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone
from django_redis.serializers.pickle import PickleSerializer
serializer = PickleSerializer(options={})
out = []
for data in json.load(sys.stdin):
    session = SessionBase()
    session._session_cache = serializer.loads(base64.b64decode(data))
    expiry = session['_session_expiry']
    modification = datetime.datetime(2030, 1, 1, tzinfo=timezone.utc)
    out.append({'type': type(expiry).__name__, 'tzinfo': repr(expiry.tzinfo),
                'date': session.get_expiry_date(modification=modification).isoformat(),
                'age': session.get_expiry_age(modification=modification)})
json.dump(out, sys.stdout)
`;

  it('reads _session_expiry as the aware datetime it wrote, with the same expiry date and age', () => {
    const sessions = fixtures.datetimes
      .filter((e) => !e.id.startsWith('naive'))
      .map((e) => pickle.loads(b64(e.protocols['2']!)));
    const run = spawnSync(python, ['-c', script], { input: JSON.stringify(sessions.map((s) => pickle.dumps(s).toString('base64'))), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const results = JSON.parse(run.stdout) as Array<{ type: string; tzinfo: string; date: string; age: number }>;
    results.forEach((r, i) => {
      const iso = sessions[i]!.get('_session_expiry') as string;
      expect(r).toMatchObject({ type: 'datetime', tzinfo: 'datetime.timezone.utc', date: iso });
      // Django 3.2: delta.days * 86400 + delta.seconds from 2030-01-01 UTC.
      expect(r.age).toBe(Math.floor((Date.parse(iso) - Date.UTC(2030, 0, 1)) / 1000));
    });
  });
});

describe('a pickle that refers to one list again and again (a few bytes standing for 2^40 items)', () => {
  it('is refused at load, before anything expands it', () => {
    // Python: l = ['x']; for i in range(40): l = [l, l]; pickle.dumps({'s': l}, 4) — 266 bytes.
    const bomb = Buffer.from(
      '800495ff000000000000007d948c0173945d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d94285d948c01789461682a65682965682865682765682665682565682465682365682265682165682065681f65681e65681d65681c65681b65681a65681965681865681765681665681565681465681365681265681165681065680f65680e65680d65680c65680b65680a65680965680865680765680665680565680465680365732e',
      'hex',
    );
    expect(bomb.length).toBeLessThan(400);
    expect(() => CACHE_SERIALIZERS.pickle.loads(bomb)).toThrow(/expands past/);
  });
});
