import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import {
  PICKLE_MAX_DEPTH,
  PickleError,
  pickleDumps,
  pickleLoads,
  pickleLoadsDict,
} from '../../src/codec/pickle.js';
import { b64, serializerFixtures as fixtures, sha256, toData, toObjects, type DatetimeEntry, type Tag } from '../support/django-redis-fixtures.js';
import { describeWith } from '../support/env.js';

// Known answers written by django-redis's own PickleSerializer on CPython 3.11
// (test/support/django-redis-fixtures.ts).

/** The session as the reader returns it: a Map on top, plain objects below. */
function expectedSession(t: Tag): Map<string, unknown> {
  const top = toData(t, 'map') as Map<string, unknown>;
  return new Map([...top].map(([k, v]) => [k, toObjects(v)]));
}

/** Every dict as a Map, whether it was a Map or a plain object. */
function toMaps(v: unknown): unknown {
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, toMaps(x)]));
  if (Array.isArray(v)) return v.map(toMaps);
  if (typeof v === 'object' && v !== null) return new Map(Object.entries(v).map(([k, x]) => [k, toMaps(x)]));
  return v;
}

/**
 * The first difference between `actual` and `expected`, or undefined: same types, same key order
 * (Maps and objects), Object.is for numbers (-0 and NaN matter), plain prototypes.
 */
function differs(actual: unknown, expected: unknown, path = '$'): string | undefined {
  if (expected instanceof Map) {
    if (!(actual instanceof Map)) return `${path}: expected a Map`;
    const ak = [...actual.keys()];
    const ek = [...expected.keys()];
    if (JSON.stringify(ak) !== JSON.stringify(ek)) return `${path}: keys ${JSON.stringify(ak).slice(0, 200)} != ${JSON.stringify(ek).slice(0, 200)}`;
    for (const k of ek) {
      const d = differs(actual.get(k), expected.get(k), `${path}[${JSON.stringify(k)}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || Object.getPrototypeOf(actual) !== Array.prototype) return `${path}: expected an array`;
    if (actual.length !== expected.length) return `${path}: length ${actual.length} != ${expected.length}`;
    for (let i = 0; i < expected.length; i++) {
      const d = differs(actual[i], expected[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Object.getPrototypeOf(actual) !== Object.prototype) {
      return `${path}: expected a plain object with Object.prototype`;
    }
    const ak = Object.keys(actual);
    const ek = Object.keys(expected);
    if (JSON.stringify(ak) !== JSON.stringify(ek)) return `${path}: keys ${JSON.stringify(ak)} != ${JSON.stringify(ek)}`;
    for (const k of ek) {
      const d = differs(
        Object.getOwnPropertyDescriptor(actual, k)?.value,
        Object.getOwnPropertyDescriptor(expected, k)?.value,
        `${path}[${JSON.stringify(k)}]`,
      );
      if (d) return d;
    }
    return undefined;
  }
  if (!Object.is(actual, expected)) return `${path}: ${String(actual).slice(0, 80)} != ${String(expected).slice(0, 80)}`;
  return undefined;
}

function expectSame(actual: unknown, expected: unknown): void {
  expect(differs(actual, expected)).toBeUndefined();
}

/** The frames Python wrote ([offset, length] of each FRAME opcode) that `data` lacks. */
function missingFrames(data: Buffer, frames: Array<[number, number]>): Array<[number, number]> {
  return frames.filter(([pos, len]) => !(data[pos] === 0x95 && pos + 9 <= data.length && Number(data.readBigUInt64LE(pos + 1)) === len));
}

function craft(...parts: Array<string | number[] | Buffer>): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
}

const PROTO4 = [0x80, 0x04];

/** What the cache serializer passes: Django 3.2's set_expiry(datetime) pickles a datetime there. */
const DATETIME_KEYS: { datetimeKeys: readonly string[] } = { datetimeKeys: ['_session_expiry'] };

describe(`pickleDumps: byte for byte what django-redis ${fixtures.django_redis} writes on Python ${fixtures.python}`, () => {
  it('uses the protocol django-redis uses (pickle.DEFAULT_PROTOCOL)', () => {
    expect(fixtures.pickle_default_protocol).toBe(4);
  });

  it.each(fixtures.dumps.map((e) => [e.id, e] as const))('%s', (_id, entry) => {
    const ours = pickleDumps(toData(entry.value, 'map'));
    if (entry.pickle !== undefined) {
      expect(ours.toString('hex')).toBe(b64(entry.pickle).toString('hex'));
    } else {
      // Big entries: the frame layout first (a readable failure), then every byte via the hash.
      expect(missingFrames(ours, entry.pickle_frames ?? [])).toEqual([]);
      expect(ours.length).toBe(entry.pickle_length);
      expect(sha256(ours)).toBe(entry.pickle_sha256);
    }
  });

  it('writes plain objects exactly as Maps when no key is integer-like', () => {
    for (const entry of fixtures.dumps) {
      if (entry.id === 'integer_like_keys') continue;
      const asObjects = toData(entry.value, 'object');
      expect(pickleDumps(asObjects).equals(pickleDumps(toData(entry.value, 'map')))).toBe(true);
    }
  });

  it('writes a container referenced twice once, then as BINGET (as CPython does for a shared list)', () => {
    const shared = [1, 'x'];
    const value = new Map<string, unknown>([['a', shared], ['b', shared], ['c', { d: shared }]]);
    expect(pickleDumps(value).toString('hex')).toBe(b64(fixtures.shared.pickle).toString('hex'));
  });

  it('writes protocol 5 (PICKLE_VERSION=5) with only the PROTO byte changed', () => {
    const v = { a: [1, 'b', { c: null }] };
    const p4 = pickleDumps(v);
    const p5 = pickleDumps(v, { protocol: 5 });
    expect(p5[1]).toBe(5);
    expect(p5.subarray(2).equals(p4.subarray(2))).toBe(true);
  });

  it('writes the known answer for {"a": 1}', () => {
    expect(pickleDumps({ a: 1 }).toString('hex')).toBe('8004950a000000000000007d948c0161944b01732e');
  });

  it('writes -0 as the int 0 and an integral number as an int, whatever its size', () => {
    expect(pickleDumps(-0).equals(pickleDumps(0))).toBe(true);
    expect(pickleLoads(pickleDumps(1e20))).toBe(1e20);
    expect(pickleDumps(2 ** 64).toString('hex')).toBe('8004' + '950c00000000000000' + '8a09' + '000000000000000001' + '2e');
  });

  it('writes lone surrogates as UTF-8 "surrogatepass" (3 bytes each) and pairs as one code point', () => {
    const bytes = pickleDumps('\ud800\ud83d\ude00\udfff');
    expect(bytes.toString('hex')).toBe('8004' + '950e00000000000000' + '8c0a' + 'eda080' + 'f09f9880' + 'edbfbf' + '942e');
    expect(pickleLoads(bytes)).toBe('\ud800\ud83d\ude00\udfff');
  });

  const refusals: Array<[string, unknown]> = [
    ['undefined', { a: undefined }],
    ['a function', { a: () => 1 }],
    ['a symbol', { a: Symbol('s') }],
    ['a bigint', { a: 1n }],
    ['NaN', { a: NaN }],
    ['Infinity', { a: [Infinity] }],
    ['a Date', { a: new Date(0) }],
    ['a class instance', { a: new (class Point { x = 1; })() }],
    ['a Set', { a: new Set([1]) }],
    ['a Buffer', { a: Buffer.from('x') }],
    ['an array hole', { a: [1, , 3] }],
    ['a Map with a non-string key', new Map<unknown, unknown>([[1, 'a']])],
    ['a symbol key', { [Symbol('k')]: 1 }],
    ['an Array subclass', { a: new (class Row extends Array<number> {})() }],
  ];
  it.each(refusals)('refuses %s with a TypeError', (_what, value) => {
    expect(() => pickleDumps(value)).toThrow(TypeError);
  });

  it('refuses cycles, but not shared references', () => {
    const list: unknown[] = [1];
    list.push(list);
    expect(() => pickleDumps({ list })).toThrow(/circular/);
    const obj: Record<string, unknown> = {};
    obj.self = obj;
    expect(() => pickleDumps(obj)).toThrow(/circular/);
    const shared = { x: 1 };
    expect(() => pickleDumps([shared, shared, [shared]])).not.toThrow();
  });

  it(`refuses nesting deeper than ${PICKLE_MAX_DEPTH} levels, counting shared containers where they are used`, () => {
    const nest = (n: number): unknown[] => {
      let v: unknown[] = [];
      for (let i = 1; i < n; i++) v = [v];
      return v;
    };
    expect(() => pickleDumps(nest(PICKLE_MAX_DEPTH))).not.toThrow();
    expect(() => pickleDumps(nest(PICKLE_MAX_DEPTH + 1))).toThrow(/deeper than 1000/);
    // 600 deep, then the same 600-deep list again under 500 levels: 1,100 once expanded.
    const deep = nest(600);
    let wrapper: unknown[] = [deep];
    for (let i = 0; i < 499; i++) wrapper = [wrapper];
    expect(() => pickleDumps([deep, wrapper])).toThrow(/deeper than 1000/);
    expect(() => pickleDumps({ a: 1 }, { maxDepth: 0 })).toThrow(TypeError);
    expect(() => pickleDumps([[1]], { maxDepth: 1 })).toThrow(/deeper than 1 levels/);
  });
});

describe('pickleLoadsDict: what Python wrote, at every protocol', () => {
  const cases: Array<[string, Buffer, Tag]> = [];
  for (const entry of fixtures.dumps) {
    // Entries given by hash were matched byte for byte above: our output is Python's.
    const p4 = entry.pickle !== undefined ? b64(entry.pickle) : pickleDumps(toData(entry.value, 'map'));
    cases.push([`${entry.id} (protocol 4)`, p4, entry.value]);
    for (const [proto, data] of Object.entries(entry.protocols ?? {})) {
      cases.push([`${entry.id} (protocol ${proto})`, b64(data), entry.value]);
    }
  }
  for (const entry of fixtures.loads) {
    for (const [proto, data] of Object.entries(entry.protocols ?? {})) {
      cases.push([`${entry.id} (protocol ${proto})`, b64(data), entry.expected]);
    }
  }

  it.each(cases)('%s', (_id, data, expected) => {
    // As the cache serializers read: Python's ints past the double range as bigints.
    const loaded = pickleLoadsDict(data, { pythonNumbers: true });
    expectSame(loaded, expectedSession(expected));
  });

  it('keeps integer-like keys in stored order at the top level', () => {
    const entry = fixtures.dumps.find((e) => e.id === 'integer_like_keys')!;
    expect([...pickleLoadsDict(b64(entry.pickle!)).keys()]).toEqual(['b', '10', '2', 'a', '0', '01', '-1', '4294967294', '4294967295', '1.5']);
  });

  it('keeps a container Python shared as one shared object', () => {
    const entry = fixtures.loads.find((e) => e.id === 'shared_containers')!;
    for (const data of Object.values(entry.protocols!)) {
      const loaded = pickleLoadsDict(b64(data));
      expect(loaded.get('a')).toBe(loaded.get('b'));
      expect((loaded.get('c') as { d: unknown }).d).toBe(loaded.get('a'));
    }
  });

  it('reads a "__proto__" key as an own data property and pollutes no prototype', () => {
    const entry = fixtures.dumps.find((e) => e.id === 'proto_keys')!;
    for (const data of [entry.pickle!, ...Object.values(entry.protocols!)]) {
      const loaded = pickleLoadsDict(b64(data));
      const proto = loaded.get('__proto__') as Record<string, unknown>;
      expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
      expect(proto.polluted).toBe('yes');
      const nested = loaded.get('nested') as Record<string, unknown>;
      expect(Object.getPrototypeOf(nested)).toBe(Object.prototype);
      expect(Object.keys(nested)).toEqual(['__proto__']);
      expect(Object.getOwnPropertyDescriptor(nested, '__proto__')?.value).toEqual([1]);
      expect(Array.isArray(Object.getPrototypeOf(nested))).toBe(false);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    }
  });

  it('reads what pickleDumps writes back to the same data (seeded random sessions)', () => {
    let seed = 42;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    // No integer-like strings: nested dicts come back as objects, which would list them first.
    const strings = ['', 'a', 'é', 'Zoë', '日本語', '😀', '\ud800', 'x'.repeat(300), '__proto__', 'constructor'];
    const scalar = (): unknown => {
      const r = rand();
      if (r < 0.1) return null;
      if (r < 0.2) return rand() < 0.5;
      if (r < 0.4) return Math.floor((rand() - 0.5) * 2 ** (1 + Math.floor(rand() * 70)));
      if (r < 0.5) return (rand() - 0.5) * 10 ** Math.floor(rand() * 20 - 10);
      return strings[Math.floor(rand() * strings.length)];
    };
    const value = (depth: number): unknown => {
      const r = rand();
      if (depth > 4 || r < 0.5) return scalar();
      const n = Math.floor(rand() * 6);
      if (r < 0.75) return Array.from({ length: n }, () => value(depth + 1));
      return new Map(Array.from({ length: n }, () => [strings[Math.floor(rand() * strings.length)]!, value(depth + 1)]));
    };
    for (let i = 0; i < 200; i++) {
      const v = value(0);
      const session = v instanceof Map ? (v as Map<string, unknown>) : new Map([['v', v]]);
      const bytes = pickleDumps(session);
      const loaded = pickleLoadsDict(bytes);
      expectSame(loaded, new Map([...session].map(([k, v]) => [k, toObjects(v)])));
      expect(pickleDumps(loaded).equals(bytes)).toBe(true);
    }
  });
});

describe('pickleLoads / pickleLoadsDict refuse what is not plain data', () => {
  const refusedCases = fixtures.refused_pickles.map((r) => [`${r.id}: ${r.why}`, r] as const);

  it.each(refusedCases)('%s', (_title, r) => {
    const data = b64(r.pickle);
    // Refused as plain data, and just as much when datetimes are read under '_session_expiry'.
    for (const options of [{}, DATETIME_KEYS]) {
      expect(() => pickleLoadsDict(data, options)).toThrow(PickleError);
      if (r.pickle_loads_ok) {
        expect(() => pickleLoads(data, options)).not.toThrow();
      } else {
        expect(() => pickleLoads(data, options)).toThrow(PickleError);
        expect(() => pickleLoads(data, options)).toThrow(/offset \d+|nested deeper|contains itself/);
      }
    }
  });

  it('names the opcode: GLOBAL / STACK_GLOBAL for a datetime, at its offset, when datetimes are not asked for', () => {
    const p0 = b64(fixtures.refused_pickles.find((r) => r.id === 'datetime_p0')!.pickle);
    expect(() => pickleLoads(p0)).toThrow(`GLOBAL (0x63) at offset ${p0.indexOf('c')} is not supported`);
    const p4 = b64(fixtures.refused_pickles.find((r) => r.id === 'datetime_p4')!.pickle);
    expect(() => pickleLoads(p4)).toThrow(/^STACK_GLOBAL \(0x93\) at offset \d+ is not supported/);
  });

  it('executes nothing for an os.system REDUCE payload, datetimes asked for or not', () => {
    rmSync(fixtures.rce_marker, { force: true });
    const payloads = fixtures.refused_pickles.filter((x) => x.id.startsWith('os_system') || x.id === 'dt_os_system');
    expect(payloads).toHaveLength(4);
    for (const r of payloads) {
      for (const options of [{}, DATETIME_KEYS]) {
        expect(() => pickleLoadsDict(b64(r.pickle), options)).toThrow(PickleError);
        expect(() => pickleLoads(b64(r.pickle), options)).toThrow(/GLOBAL/);
      }
      // With datetimes asked for, refused at the opcode that names it: nothing past it is read.
      expect(() => pickleLoads(b64(r.pickle), DATETIME_KEYS)).toThrow(/GLOBAL \(0x[69]3\) at offset \d+ names "(posix|os)" "system", which is not supported/);
    }
    expect(existsSync(fixtures.rce_marker)).toBe(false);
  });

  it('refuses bytes after STOP, which Python would ignore', () => {
    expect(() => pickleLoads(craft(PROTO4, 'N.', [0]))).toThrow('1 trailing bytes after STOP at offset 3');
  });

  const crafted: Array<[string, Buffer, RegExp]> = [
    ['empty input', Buffer.alloc(0), /truncated/],
    ['no STOP', craft(PROTO4, 'N'), /truncated/],
    ['stack underflow', craft(PROTO4, 'a.'), /APPEND \(0x61\) at offset 2 stack underflow/],
    ['APPEND onto a tuple', craft(PROTO4, ')Na.'), /targets a tuple, not a list/],
    ['SETITEM onto a list', craft(PROTO4, ']NNs.'), /targets a list, not a dict/],
    ['an int dict key', craft(PROTO4, '}K', [1], 'Ns.'), /dict key that is an int/],
    ['a float dict key', craft(PROTO4, '}G', [0x3f, 0xf8, 0, 0, 0, 0, 0, 0], 'Ns.'), /dict key that is a float/],
    ['an odd SETITEMS', craft(PROTO4, '}(N', 'u.'), /odd number of items/],
    ['a GET of nothing stored', craft(PROTO4, 'h', [7], '.'), /memo index 7, which was never stored/],
    ['a FRAME longer than the data', craft(PROTO4, [0x95, 100, 0, 0, 0, 0, 0, 0, 0], 'N.'), /FRAME \(0x95\) at offset 2 announces 100 bytes/],
    ['a str cut short', craft(PROTO4, [0x8c, 10], 'abc'), /needs 10 bytes, only 3 left/],
    ['invalid UTF-8', craft(PROTO4, [0x8c, 2, 0xc3, 0x28], '.'), /invalid UTF-8/],
    ['an overlong UTF-8 form', craft(PROTO4, [0x8c, 2, 0xc0, 0xaf], '.'), /invalid UTF-8/],
    ['a MARK left open', craft(PROTO4, '(N.'), /leaves a MARK open/],
    ['two values at STOP', craft(PROTO4, 'NN.'), /leaves 2 items on the stack/],
    ['LONG4 with a negative length', craft(PROTO4, [0x8b, 0xff, 0xff, 0xff, 0xff], '.'), /negative byte count/],
    ['SHORT_BINSTRING (Python 2 str)', craft(PROTO4, 'U', [1], 'a.'), /SHORT_BINSTRING \(0x55\)/],
    ['SHORT_BINBYTES', craft(PROTO4, 'C', [1], 'a.'), /SHORT_BINBYTES \(0x43\)/],
    ['PERSID', craft('P1\n.'), /PERSID \(0x50\) at offset 0/],
    ['EXT1', craft(PROTO4, [0x82, 1], '.'), /EXT1 \(0x82\)/],
    ['INST', craft("(ios\nsystem\n."), /INST \(0x69\) at offset 1/],
    ['BUILD', craft(PROTO4, '}}b.'), /BUILD \(0x62\)/],
    ['NEWOBJ_EX', craft(PROTO4, [0x92], '.'), /NEWOBJ_EX \(0x92\)/],
    ['an invalid text int', craft('I0x10\n.'), /invalid integer/],
    ['an invalid text float', craft('F1,5\n.'), /invalid float/],
    ['a truncated \\u escape', craft('V\\u12\n.'), /truncated \\u escape/],
    ['a \\U escape past U+10FFFF', craft('V\\U00110000\n.'), /out of range/],
    ['a text memo index that is not a number', craft('Np-1\n.'), /invalid memo index/],
    ['a dict holding itself', craft(PROTO4, '}', [0x94], 'X', [1, 0, 0, 0], 'a', [0x68, 0], 's.'), /contains itself/],
  ];
  it.each(crafted)('refuses %s', (_what, data, message) => {
    expect(() => pickleLoads(data)).toThrow(PickleError);
    expect(() => pickleLoads(data)).toThrow(message);
  });

  it('refuses a shared container that makes the value too deep where it is used again', () => {
    // L = 600 nested lists, memoized; then 500 lists around a second reference to L.
    const deep = craft(PROTO4, ']'.repeat(600), 'a'.repeat(599), [0x94]);
    const around = craft(']'.repeat(500), [0x68, 0], 'a'.repeat(500));
    const data = craft(deep, around, [0x86], '.'); // TUPLE2 (L, wrapper)
    expect(() => pickleLoads(data)).toThrow(/nested deeper than 1000 levels/);
    expect(() => pickleLoads(data, { maxDepth: 1200 })).not.toThrow();
  });

  it('throws TypeError for input that is not a Buffer', () => {
    expect(() => pickleLoads('N.' as unknown as Buffer)).toThrow(TypeError);
  });
});

describe('datetimeKeys: the datetime.datetime Django 3.2 pickles as _session_expiry (set_expiry)', () => {
  const reads: Array<[string, Buffer, DatetimeEntry]> = [];
  for (const entry of fixtures.datetimes) {
    for (const [proto, data] of Object.entries(entry.protocols)) reads.push([`${entry.id} (protocol ${proto})`, b64(data), entry]);
  }

  it('covers what the brief asks for: pytz.utc (Django 3.2), timezone.utc, naive, with and without microseconds, protocols 0-5', () => {
    const ids = fixtures.datetimes.map((e) => e.id);
    for (const id of ['django_set_expiry', 'pytz_utc_us', 'pytz_utc_no_us', 'timezone_utc_us', 'timezone_utc_no_us', 'naive_us', 'naive_no_us']) {
      expect(ids).toContain(id);
    }
    for (const e of fixtures.datetimes) expect(Object.keys(e.protocols)).toEqual(['0', '1', '2', '3', '4', '5', '4-binbytes']);
    expect(fixtures.datetimes.find((e) => e.id === 'django_set_expiry')!.python_repr).toMatch(/tzinfo=<UTC>\)$/);
  });

  it.each(reads)('reads %s: _session_expiry as its isoformat()', (_id, data, entry) => {
    const loaded = pickleLoadsDict(data, DATETIME_KEYS);
    expectSame(loaded, expectedSession(entry.expected));
    const iso = loaded.get('_session_expiry') as string;
    expect(iso).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?(\+00:00)?$/);
    expectSame(toMaps(pickleLoads(data, DATETIME_KEYS)), toMaps(expectedSession(entry.expected)));
    // Not asked for: refused at the first GLOBAL / STACK_GLOBAL, as before.
    expect(() => pickleLoadsDict(data)).toThrow(/^(STACK_)?GLOBAL \(0x(63|93)\) at offset \d+ is not supported/);
  });

  it.each(fixtures.datetimes.map((e) => [e.id, e] as const))('writes %s back as Python writes it (aware: a datetime.timezone.utc datetime, never pytz; naive: a str)', (_id, entry) => {
    const loaded = pickleLoadsDict(b64(entry.protocols['4']!), DATETIME_KEYS);
    const ours = pickleDumps(loaded, DATETIME_KEYS);
    expect(ours.toString('hex')).toBe(b64(entry.rewritten).toString('hex'));
    expect(ours.includes(Buffer.from('pytz'))).toBe(false);
    if (entry.rewritten_is_datetime && entry.python_repr.endsWith('tzinfo=datetime.timezone.utc)')) {
      // A timezone.utc session comes out exactly as it went in.
      expect(ours.toString('hex')).toBe(b64(entry.protocols['4']!).toString('hex'));
    }
    // Protocol 5: only the PROTO byte differs.
    const p5 = pickleDumps(loaded, { ...DATETIME_KEYS, protocol: 5 });
    expect(p5[1]).toBe(5);
    expect(p5.subarray(2).equals(ours.subarray(2))).toBe(true);
    // And reads back to the same session.
    expectSame(pickleLoadsDict(ours, DATETIME_KEYS), loaded);
    // Without datetimeKeys it is a str, as before.
    expect(pickleDumps(loaded).includes(Buffer.from('pytz'))).toBe(false);
    expect(pickleLoadsDict(pickleDumps(loaded))).toEqual(loaded);
  });

  it('writes an aware-UTC isoformat() _session_expiry with tzinfo datetime.timezone.utc, as pickle.dumps(session, 4) does, not pytz.utc (absent from pip installs of Django >= 4.0)', () => {
    const python = b64(fixtures.datetimes.find((e) => e.id === 'timezone_utc_us')!.protocols['4']!);
    const session = new Map<string, unknown>([
      ['_auth_user_id', '42'],
      ['_auth_user_backend', 'django.contrib.auth.backends.ModelBackend'],
      ['_session_expiry', '2030-01-02T03:04:05.123456+00:00'],
    ]);
    const ours = pickleDumps(session, DATETIME_KEYS);
    expect(ours.includes(Buffer.from('pytz'))).toBe(false);
    expect(ours.toString('hex')).toBe(python.toString('hex'));
    // The same for a session Django 3.2 wrote with pytz.utc and Nest saves back.
    const django32 = pickleLoadsDict(b64(fixtures.datetimes.find((e) => e.id === 'pytz_utc_us')!.protocols['4']!), DATETIME_KEYS);
    expect(pickleDumps(django32, DATETIME_KEYS).toString('hex')).toBe(python.toString('hex'));
  });

  it.each(fixtures.datetime_frames.pads.map((p) => [p[0], p] as const))(
    'frames a datetime exactly as CPython when the 64 KiB boundary falls inside it (str of %i bytes before it)',
    (pad, [, length, hash, frames]) => {
      const session = new Map<string, unknown>([['pad', 'p'.repeat(pad)], ['_session_expiry', fixtures.datetime_frames.iso]]);
      const ours = pickleDumps(session, DATETIME_KEYS);
      expect(missingFrames(ours, frames)).toEqual([]);
      expect(ours.length).toBe(length);
      expect(sha256(ours)).toBe(hash);
      expect(pickleLoadsDict(ours, DATETIME_KEYS).get('_session_expiry')).toBe(fixtures.datetime_frames.iso);
    },
  );

  it.each([
    ['microseconds written as .000000', '2030-01-02T03:04:05.000000+00:00'],
    ['Z instead of +00:00', '2030-01-02T03:04:05Z'],
    ['a space instead of T', '2030-01-02 03:04:05+00:00'],
    ['a non-UTC offset', '2030-01-02T03:04:05+05:30'],
    ['-00:00', '2030-01-02T03:04:05-00:00'],
    ['naive', '2030-01-02T03:04:05'],
    ['naive with microseconds', '2030-01-02T03:04:05.123456'],
    ['5 fraction digits', '2030-01-02T03:04:05.12345+00:00'],
    ['7 fraction digits', '2030-01-02T03:04:05.1234567+00:00'],
    ['no seconds', '2030-01-02T03:04+00:00'],
    ['Feb 29 of a common year', '2030-02-29T03:04:05+00:00'],
    ['Feb 30', '2028-02-30T03:04:05+00:00'],
    ['month 13', '2030-13-02T03:04:05+00:00'],
    ['day 0', '2030-01-00T03:04:05+00:00'],
    ['hour 24', '2030-01-02T24:00:00+00:00'],
    ['second 60', '2030-01-02T03:04:60+00:00'],
    ['year 0', '0000-01-02T03:04:05+00:00'],
    ['a 5-digit year', '12030-01-02T03:04:05+00:00'],
    ['leading space', ' 2030-01-02T03:04:05+00:00'],
    ['trailing newline', '2030-01-02T03:04:05+00:00\n'],
    ['full-width digits', '２030-01-02T03:04:05+00:00'],
    ['Python str() form', '2030-01-02 03:04:05.123456+00:00'],
  ])('writes a string that is not exact aware-UTC isoformat() output as a str: %s', (_what, text) => {
    const session = new Map<string, unknown>([['_session_expiry', text]]);
    expect(pickleDumps(session, DATETIME_KEYS).equals(pickleDumps(session))).toBe(true);
  });

  it('writes a datetime only for the top-level keys given, and only for strings', () => {
    const iso = '2030-01-02T03:04:05+00:00';
    const datetimeBytes = Buffer.from('8c086461746574696d65948c086461746574696d659493', 'hex');
    const written = (v: unknown, options = DATETIME_KEYS): Buffer => pickleDumps(v, options);
    expect(written(new Map([['_session_expiry', iso]])).includes(datetimeBytes)).toBe(true);
    expect(written({ _session_expiry: iso }).includes(datetimeBytes)).toBe(true);
    for (const v of [
      new Map([['when', iso]]),
      new Map([['outer', { _session_expiry: iso }]]),
      new Map([['outer', new Map([['_session_expiry', iso]])]]),
      new Map([['_session_expiry', [iso]]]),
      [iso],
      iso,
    ]) {
      expect(written(v).includes(datetimeBytes)).toBe(false);
      expect(written(v).equals(pickleDumps(v))).toBe(true);
    }
    for (const v of [1_209_600, null, 1.5, new Map([['x', 1]])]) {
      expect(written(new Map([['_session_expiry', v]])).equals(pickleDumps(new Map([['_session_expiry', v]])))).toBe(true);
    }
    // Another key list, and the same dict nested in itself is still refused as a cycle.
    expect(written(new Map([['when', iso]]), { datetimeKeys: ['when'] }).includes(datetimeBytes)).toBe(true);
    const cyclic = new Map<string, unknown>([['_session_expiry', iso]]);
    cyclic.set('self', cyclic);
    expect(() => written(cyclic)).toThrow(/circular/);
    expect(() => pickleDumps({}, { datetimeKeys: 'x' as unknown as string[] })).toThrow(TypeError);
    expect(() => pickleLoads(Buffer.from('80047d942e', 'hex'), { datetimeKeys: [1] as unknown as string[] })).toThrow(TypeError);
  });

  it('refuses a datetime under a key that was not given, with the REDUCE offset', () => {
    const entry = fixtures.datetimes.find((e) => e.id === 'pytz_utc_us')!;
    const data = b64(entry.protocols['4']!);
    expect(() => pickleLoadsDict(data, { datetimeKeys: ['other'] })).toThrow(
      /^REDUCE \(0x52\) at offset \d+ makes a datetime\.datetime, which is read only as the value of a top-level key given in datetimeKeys \(datetimeKeys: "other"\)$/,
    );
    expect(pickleLoadsDict(data, { datetimeKeys: ['other', '_session_expiry'] }).get('_session_expiry')).toBe('2030-01-02T03:04:05.123456+00:00');
  });

  const refusedDatetimes = fixtures.refused_pickles.filter((r) => r.datetime_keys_too);
  it('refuses the datetime shapes the brief lists (fixtures made by Python)', () => {
    const ids = refusedDatetimes.map((r) => r.id);
    for (const id of ['dt_state_9_bytes', 'dt_state_11_bytes', 'dt_date_p4', 'dt_timedelta_p4', 'dt_timedelta_zero', 'dt_paris_p4', 'dt_offset_0530_p4', 'dt_os_system']) {
      expect(ids).toContain(id);
    }
  });

  const messages: Record<string, RegExp> = {
    dt_state_9_bytes: /^REDUCE \(0x52\) at offset \d+ calls datetime\.datetime with \(bytes, a tzinfo\), which is not supported/,
    dt_state_11_bytes: /calls datetime\.datetime with \(bytes, a tzinfo\)/,
    dt_state_day_32: /calls datetime\.datetime/,
    dt_state_hour_24: /calls datetime\.datetime/,
    dt_fold: /calls datetime\.datetime/,
    dt_date_p0: /^GLOBAL \(0x63\) at offset \d+ names "datetime" "date", which is not supported/,
    dt_date_p4: /^STACK_GLOBAL \(0x93\) at offset \d+ names "datetime" "date", which is not supported/,
    dt_timedelta_p4: /calls datetime\.timedelta with \(an int, an int, an int\), which is not supported: only \(0, 0, 0\)/,
    dt_timedelta_zero: /^REDUCE \(0x52\) at offset \d+ makes a datetime\.timedelta, which is read only as the offset of datetime\.timezone\.utc/,
    dt_paris_p4: /names "pytz" "_p", which is not supported/,
    dt_paris_p2: /^GLOBAL \(0x63\) at offset \d+ names "pytz" "_p"/,
    dt_offset_0530_p4: /calls datetime\.timedelta with/,
    dt_named_utc: /calls datetime\.timezone with \(a datetime\.timedelta, a str\)/,
    dt_codecs_utf8: /calls _codecs\.encode with \(a str, a str\)/,
    dt_str_state: /calls datetime\.datetime with \(a str, a tzinfo\)/,
    dt_codecs_as_value: /^REDUCE \(0x52\) at offset \d+ makes bytes, which is read only as the state of a datetime\.datetime/,
    dt_bytes_as_value: /^SHORT_BINBYTES \(0x43\) at offset \d+ makes bytes/,
    dt_class_as_value: /^STACK_GLOBAL \(0x93\) at offset \d+ makes the global datetime\.datetime, which is read only to make a datetime\.datetime/,
    dt_utc_as_value: /^REDUCE \(0x52\) at offset \d+ makes a tzinfo, which is read only as the tzinfo of a datetime\.datetime/,
    dt_timezone_utc_as_value: /makes a tzinfo/,
    dt_other_key: /makes a datetime\.datetime, which is read only as the value of a top-level key/,
    dt_nested: /makes a datetime\.datetime/,
    dt_in_list: /makes a datetime\.datetime/,
    dt_in_tuple: /makes a datetime\.datetime/,
    dt_as_key: /has a dict key that is a datetime\.datetime; only str keys are supported/,
    dt_top_level: /the pickle holds a datetime\.datetime, not a dict/,
    dt_utc_with_args: /calls pytz\._UTC with \(an int\), which is not supported: only \(\)/,
    dt_three_args: /calls datetime\.datetime with \(bytes, a tzinfo, None\)/,
    dt_tzinfo_none: /calls datetime\.datetime with \(bytes, None\)/,
  };
  it.each(refusedDatetimes.map((r) => [`${r.id}: ${r.why} (Python ${r.python})`, r] as const))('refuses %s, naming why', (_title, r) => {
    const data = b64(r.pickle);
    expect(() => pickleLoadsDict(data, DATETIME_KEYS)).toThrow(PickleError);
    const message = messages[r.id];
    if (message !== undefined) expect(() => pickleLoadsDict(data, DATETIME_KEYS)).toThrow(message);
  });

  it('has a message for every refused datetime fixture at protocol 4', () => {
    const missing = refusedDatetimes.map((r) => r.id).filter((id) => !(id in messages) && !/_p[0-35]$/.test(id) && id !== 'dt_os_system');
    expect(missing).toEqual([]);
  });

  const dt = (state: number[], tz: Buffer | string = ''): Buffer =>
    craft(PROTO4, '}', [0x8c, 15], '_session_expiry', [0x8c, 8], 'datetime', [0x8c, 8], 'datetime', [0x93], 'C', [state.length], state, tz, tz === '' ? [0x85] : [0x86], 'R', 's.');
  const UTC = craft([0x8c, 4], 'pytz', [0x8c, 4], '_UTC', [0x93], ')R');
  const STATE = [0x07, 0xee, 1, 2, 3, 4, 5, 0x01, 0xe2, 0x40];

  const craftedReads: Array<[string, Buffer, string]> = [
    ['no MEMOIZE at all', dt(STATE, UTC), '2030-01-02T03:04:05.123456+00:00'],
    ['naive', dt(STATE), '2030-01-02T03:04:05.123456'],
    ['GLOBAL opcodes at protocol 4', craft(PROTO4, '}', [0x8c, 15], '_session_expiry', 'cdatetime\ndatetime\nC', [10], STATE, 'cpytz\n_UTC\n)R', [0x86], 'Rs.'), '2030-01-02T03:04:05.123456+00:00'],
    ['the global memoized and fetched again', craft(PROTO4, '}', [0x8c, 15], '_session_expiry', [0x8c, 8], 'datetime', [0x94], [0x68, 0], [0x93], 'C', [10], STATE, [0x85], 'Rs.'), '2030-01-02T03:04:05.123456'],
    ['timedelta(0.0, -0.0, 0) as the UTC offset (Python: the same timedelta(0))', craft(PROTO4, '}', [0x8c, 15], '_session_expiry', 'cdatetime\ndatetime\nC', [10], STATE, 'cdatetime\ntimezone\ncdatetime\ntimedelta\nG', Buffer.alloc(8), 'G', [0x80, 0, 0, 0, 0, 0, 0, 0], 'K', [0], [0x87], 'R', [0x85], 'R', [0x86], 'Rs.'), '2030-01-02T03:04:05.123456+00:00'],
  ];
  it.each(craftedReads)('reads a crafted datetime: %s', (_what, data, iso) => {
    expect(pickleLoadsDict(data, DATETIME_KEYS).get('_session_expiry')).toBe(iso);
  });

  const craftedRefusals: Array<[string, Buffer, RegExp]> = [
    ['REDUCE of a str', craft(PROTO4, '}', [0x8c, 15], '_session_expiry', [0x8c, 1], 'x)Rs.'), /REDUCE \(0x52\) at offset \d+ calls a str/],
    ['REDUCE of a tuple', craft(PROTO4, '}', [0x8c, 15], '_session_expiry', '))Rs.'), /calls a tuple/],
    ['REDUCE with a list for arguments', craft(PROTO4, '}', [0x8c, 15], '_session_expiry', 'cpytz\n_UTC\n]Rs.'), /passes a list to pytz\._UTC, not a tuple/],
    ['STACK_GLOBAL of ints', craft(PROTO4, 'K', [1], 'K', [2], [0x93], '.'), /STACK_GLOBAL \(0x93\) at offset 6 needs a module and a name that are str, got an int and an int/],
    ['STACK_GLOBAL with nothing on the stack', craft(PROTO4, [0x93], '.'), /stack underflow/],
    ['a dotted name', craft(PROTO4, [0x8c, 4], 'pytz', [0x8c, 6], '_UTC.x', [0x93], '.'), /names "pytz" "_UTC.x", which is not supported/],
    ['a module spelled with a newline', craft(PROTO4, [0x8c, 14], 'datetime\ndatet', [0x8c, 3], 'ime', [0x93], '.'), /names "datetime\\ndatet" "ime"/],
    ['builtins.eval', craft('cbuiltins\neval\n(V1\ntR.'), /^GLOBAL \(0x63\) at offset 0 names "builtins" "eval", which is not supported/],
    ['_codecs.encode of a 9-character str', craft(PROTO4, 'c_codecs\nencode\n', [0x8c, 9], 'abcdefghi', [0x8c, 6], 'latin1', [0x86], 'R.'), /calls _codecs\.encode with \(a str, a str\), which is not supported/],
    ['_codecs.encode of a non-latin-1 str', craft(PROTO4, 'c_codecs\nencode\n', [0x8c, 11], 'abcdefghi\xc4\x80', [0x8c, 6], 'latin1', [0x86], 'R.'), /calls _codecs\.encode/],
    ['the state truncated', craft(PROTO4, 'C', [10], [1, 2, 3]), /SHORT_BINBYTES \(0x43\) at offset 2 needs 10 bytes, only 3 left/],
    ['BINBYTES announcing 4 GiB', craft(PROTO4, 'B', [0xff, 0xff, 0xff, 0xff], '.'), /needs 4294967295 bytes/],
    ['BINBYTES8', craft(PROTO4, [0x8e, 10, 0, 0, 0, 0, 0, 0, 0], STATE, '.'), /BINBYTES8 \(0x8e\) at offset 2 is not supported/],
    ['a year-0 state', dt([0, 0, 1, 1, 0, 0, 0, 0, 0, 0], UTC), /calls datetime\.datetime/],
    ['microsecond 1,000,000', dt([0x07, 0xee, 1, 2, 3, 4, 5, 0x0f, 0x42, 0x40], UTC), /calls datetime\.datetime/],
    ['Feb 29 of a common year', dt([0x07, 0xee, 2, 29, 3, 4, 5, 0, 0, 0], UTC), /calls datetime\.datetime/],
    ['a timedelta of booleans (protocol 0 I00)', craft('(dV_session_expiry\ncdatetime\ndatetime\n(C', [10], STATE, 'cdatetime\ntimezone\n(cdatetime\ntimedelta\n(I00\nI00\nI00\ntRtRtRs.'), /calls datetime\.timedelta with \(a bool, a bool, a bool\)/],
    ['a datetime as the timezone offset', craft(PROTO4, '}', [0x8c, 15], '_session_expiry', 'cdatetime\ntimezone\n', dt(STATE).subarray(20, -2), [0x85], 'Rs.'), /calls datetime\.timezone with \(a datetime\.datetime\)/],
    ['BUILD after a datetime', craft(PROTO4, '}', [0x8c, 15], '_session_expiry', dt(STATE).subarray(20, -2), '}bs.'), /BUILD \(0x62\)/],
    ['NEWOBJ of datetime', craft(PROTO4, 'cdatetime\ndatetime\n)', [0x81], '.'), /NEWOBJ \(0x81\)/],
  ];
  it.each(craftedRefusals)('refuses a crafted %s', (_what, data, message) => {
    expect(() => pickleLoads(data, DATETIME_KEYS)).toThrow(PickleError);
    expect(() => pickleLoads(data, DATETIME_KEYS)).toThrow(message);
  });

  it('keeps linear work and the depth limit with datetimes: 100,000 REDUCEs of one memoized global are refused in one pass', () => {
    // {'_session_expiry': [dt, dt, ...]}: the global is memoized (1) and popped, every datetime is
    // read, then the list of them is refused.
    const one = craft([0x68, 1], 'C', [10], STATE, [0x85], 'R');
    const data = craft(PROTO4, '}', [0x8c, 15], '_session_expiry', [0x8c, 8], 'datetime', [0x94], [0x8c, 8], 'datetime', [0x93, 0x94], '0](', Buffer.concat(Array.from({ length: 100_000 }, () => one)), 'es.');
    expect(() => pickleLoadsDict(data, DATETIME_KEYS)).toThrow(/makes a datetime\.datetime/);
    const deep = craft(PROTO4, '}', [0x8c, 15], '_session_expiry', ']'.repeat(1001), 'a'.repeat(1000), 's.');
    expect(() => pickleLoadsDict(deep, DATETIME_KEYS)).toThrow(/nested deeper than 1000 levels/);
  });
});

describe('pickleLoads: every opcode of the supported subset', () => {
  const cases: Array<[string, Buffer, unknown]> = [
    ['NONE / NEWTRUE / NEWFALSE in a TUPLE3', craft(PROTO4, 'N', [0x88, 0x89, 0x87], '.'), [null, true, false]],
    ['protocol 0 booleans', craft('(I01\nI00\nl.'), [true, false]],
    ['INT and LONG text forms', craft('(I-5\nI123456789012\nL18446744073709551617L\nL-3\nl.'), [-5, 123456789012, 18446744073709551617, -3]],
    ['BININT1 / BININT2 / BININT', craft(PROTO4, '(K', [255], 'M', [0xff, 0xff], 'J', [0, 0, 0, 0x80], 'l.'), [255, 65535, -(2 ** 31)]],
    ['LONG1 of 0 bytes is 0', craft(PROTO4, [0x8a, 0], '.'), 0],
    ['LONG1 with redundant sign bytes', craft(PROTO4, [0x8a, 4, 0xff, 0xff, 0xff, 0xff], '.'), -1],
    ['LONG4', craft(PROTO4, [0x8b, 2, 0, 0, 0, 0x00, 0x80], '.'), -32768],
    ['LONG4 far beyond a double', craft(PROTO4, [0x8b, 0x00, 0x04, 0, 0], Buffer.alloc(1023), [0x01], '.'), Infinity],
    ['FLOAT text, inf, nan and BINFLOAT', craft('(F1.5\nFinf\nF-inf\nFnan\nG', [0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18], 'l.'), [1.5, Infinity, -Infinity, NaN, Math.PI]],
    ['UNICODE raw-unicode-escape', craft('V\\u005c\\u000a\\u00e9\\U0001f600\\x\xe9\n.'), '\\\n\u00e9\u{1f600}\\x\u00e9'],
    ['BINUNICODE and BINUNICODE8', craft(PROTO4, '(X', [2, 0, 0, 0], 'hi', [0x8d, 3, 0, 0, 0, 0, 0, 0, 0], 'abc', 't.'), ['hi', 'abc']],
    ['a kept BOM', craft(PROTO4, [0x8c, 3, 0xef, 0xbb, 0xbf], '.'), '\ufeff'],
    ['DICT / LIST / TUPLE from a MARK', craft('(Va\n(I1\nlVb\n(I2\ntd.'), { a: [1], b: [2] }],
    ['EMPTY_TUPLE / TUPLE1 / TUPLE2', craft(PROTO4, ')K', [1], [0x85], 'K', [1], 'K', [2], [0x86, 0x86, 0x86], '.'), [[], [[1], [1, 2]]]],
    ['PUT / GET text and BINPUT / BINGET / LONG_BINPUT / LONG_BINGET', craft('(Vx\np7\ng7\nq', [1], 'h', [1], 'r', [0, 1, 0, 0], 'j', [0, 1, 0, 0], 'l.'), ['x', 'x', 'x', 'x']],
    ['DUP, POP and POP_MARK', craft(PROTO4, 'K', [1], '2', '(K', [5], 'K', [6], '1', '0', '.'), 1],
    ['POP of an empty stack above a MARK pops the mark', craft(PROTO4, 'K', [9], '(0.'), 9],
    ['SETITEMS with a repeated key: first position, last value', craft(PROTO4, '}(', [0x8c, 1], 'a', 'K', [1], [0x8c, 1], 'b', 'K', [2], [0x8c, 1], 'a', 'K', [3], 'u.'), { a: 3, b: 2 }],
    ['FRAME around the payload', craft(PROTO4, [0x95, 2, 0, 0, 0, 0, 0, 0, 0], 'N.'), null],
    ['PROTO 5', craft([0x80, 5], 'N.'), null],
  ];
  it.each(cases)('%s', (_what, data, expected) => {
    expectSame(pickleLoads(data), expected);
  });

  it('reads SETITEMS with a repeated key in first-insertion order', () => {
    const data = craft(PROTO4, '}(', [0x8c, 1], 'b', 'K', [1], [0x8c, 2], '10', 'K', [2], [0x8c, 1], 'b', 'K', [3], 'u.');
    expect([...pickleLoadsDict(data)]).toEqual([['b', 3], ['10', 2]]);
  });

  it('completes on big inputs (no quadratic work; no timing assertion)', () => {
    const list = Array.from({ length: 100_000 }, (_, i) => (i % 3 === 0 ? `s${i}` : i));
    const bytes = pickleDumps({ list });
    expect((pickleLoads(bytes) as { list: unknown[] }).list).toHaveLength(100_000);
    const dict = new Map(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i] as [string, number]));
    expect(pickleLoadsDict(pickleDumps(dict)).size).toBe(100_000);
    // 100,000 memo puts and gets; 50,000 nested MARKs (refused by depth, after linear work).
    const memo = craft(PROTO4, ']', [0x94], '(', Buffer.from('K\x01\x94'.repeat(50_000), 'latin1'), Buffer.from(Array.from({ length: 50_000 }, (_, i) => `j${String.fromCharCode((i + 1) & 0xff, ((i + 1) >> 8) & 0xff, 0, 0)}`).join(''), 'latin1'), 'e.');
    expect((pickleLoads(memo) as unknown[]).length).toBe(100_000);
    expect(() => pickleLoads(craft(PROTO4, '('.repeat(50_000), 'l'.repeat(50_000), '.'))).toThrow(PickleError);
    // A 4 MB LONG4 and a 1 MB decimal LONG: Infinity, without a 32-million-bit BigInt.
    expect(pickleLoads(craft(PROTO4, [0x8b, 0, 0, 0x40, 0], Buffer.alloc(0x400000, 0x7f), '.'))).toBe(Infinity);
    expect(pickleLoads(craft('L', '9'.repeat(1_000_000), 'L\n.'))).toBe(Infinity);
    expect(pickleLoads(craft('V', '\\u00e9'.repeat(200_000), '\n.'))).toHaveLength(200_000);
  });
});

// Python reads back what we write, through django-redis's own serializer when it is installed.
describeWith(['django'], 'pickleDumps output read by Python (pickle.loads)', ({ django: python }) => {
  const script = String.raw`
import base64, json, pickle, sys
try:
    from django_redis.serializers.pickle import PickleSerializer
    serializer = PickleSerializer(options={})
except ImportError:
    serializer = None
def tag(v):
    if v is None or isinstance(v, (bool, str)): return v
    if isinstance(v, int): return v if abs(v) < 2**53 else {'int': str(v)}
    if isinstance(v, float): return {'float': repr(v)}
    if isinstance(v, list): return {'list': [tag(x) for x in v]}
    if isinstance(v, dict): return {'dict': [[k, tag(x)] for k, x in v.items()]}
    raise TypeError(type(v))
out = []
for data in json.load(sys.stdin):
    raw = base64.b64decode(data)
    v = serializer.loads(raw) if serializer else pickle.loads(raw)
    again = serializer.dumps(v) if serializer else pickle.dumps(v, 4)
    out.append({'value': tag(v), 'again': base64.b64encode(again).decode()})
json.dump(out, sys.stdout)
`;

  it('reads the corpus and random sessions to the same values, and writes the same bytes again', () => {
    // deep_*: Python reads them, but its pickler gives up past 499 levels (2 recursion units each).
    const values: Array<Map<string, unknown>> = fixtures.dumps
      .filter((e) => e.pickle !== undefined && !e.id.startsWith('deep_'))
      .map((e) => toData(e.value, 'map') as Map<string, unknown>);
    values.push(new Map<string, unknown>([['lone', '\udc00x\ud800'], ['big', 2 ** 70], ['neg', -(2 ** 40) - 1], ['f', 1e-7]]));
    values.push(new Map<string, unknown>([['list', Array.from({ length: 5000 }, (_, i) => ({ i, s: `v${i}`, f: i / 7 }))]]));
    const ours = values.map((v) => pickleDumps(v));
    const run = spawnSync(python, ['-c', script], {
      input: JSON.stringify(ours.map((b) => b.toString('base64'))),
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const results = JSON.parse(run.stdout) as Array<{ value: Tag; again: string }>;
    results.forEach((r, i) => {
      expectSame(toData(r.value, 'map'), toMaps(values[i]));
      expect(b64(r.again).toString('hex')).toBe(ours[i]!.toString('hex'));
    });
  });

  it('reads our _session_expiry datetimes as aware datetime.timezone.utc datetimes, and Python writes the same bytes; ours reads Python\'s', () => {
    const datetimeScript = String.raw`
import base64, datetime, json, pickle, sys
import pytz
out = []
for item in json.load(sys.stdin):
    v = pickle.loads(base64.b64decode(item['ours']))
    e = v['_session_expiry']
    # Python's own pickles of the same instant: pytz.utc (Django 3.2's), timezone.utc and naive.
    when = datetime.datetime.fromisoformat(item['iso'])
    theirs = [pickle.dumps({'x': 1, '_session_expiry': when.replace(tzinfo=tz)}, p)
              for tz in (pytz.utc, datetime.timezone.utc, None) for p in (2, 3, 4, 5)]
    out.append({'type': type(e).__name__, 'timezone_utc': e.tzinfo is datetime.timezone.utc, 'iso': e.isoformat(),
                'again': base64.b64encode(pickle.dumps(v, 4)).decode(),
                'theirs': [base64.b64encode(t).decode() for t in theirs]})
json.dump(out, sys.stdout)
`;
    let seed = 7;
    const rand = (n: number): number => Math.floor(((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * n);
    const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
    const isos = ['0001-01-01T00:00:00+00:00', '9999-12-31T23:59:59.999999+00:00', '2024-02-29T12:00:00.000001+00:00'];
    for (let i = 0; i < 300; i++) {
      const us = rand(3) === 0 ? 0 : rand(1_000_000);
      isos.push(
        `${pad(1 + rand(9999), 4)}-${pad(1 + rand(12))}-${pad(1 + rand(28))}T${pad(rand(24))}:${pad(rand(60))}:${pad(rand(60))}` +
          (us === 0 ? '' : `.${pad(us, 6)}`) + '+00:00',
      );
    }
    const ours = isos.map((iso) => pickleDumps(new Map<string, unknown>([['x', 1], ['_session_expiry', iso]]), DATETIME_KEYS));
    const run = spawnSync(python, ['-c', datetimeScript], {
      input: JSON.stringify(isos.map((iso, i) => ({ iso, ours: ours[i]!.toString('base64') }))),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const results = JSON.parse(run.stdout) as Array<{ type: string; timezone_utc: boolean; iso: string; again: string; theirs: string[] }>;
    results.forEach((r, i) => {
      expect(r).toMatchObject({ type: 'datetime', timezone_utc: true, iso: isos[i] });
      expect(b64(r.again).toString('hex')).toBe(ours[i]!.toString('hex'));
      r.theirs.forEach((t, k) => {
        const naive = k >= 8;
        expect(pickleLoadsDict(b64(t), DATETIME_KEYS).get('_session_expiry')).toBe(naive ? isos[i]!.slice(0, -6) : isos[i]);
      });
    });
  });

  it('writes a _session_expiry datetime that Python without pytz loads (a pip install of Django >= 4.0 has none)', () => {
    // pytz made unimportable, as on Django 5.2 / 6 installed with pip: loading a pytz._UTC pickle fails.
    const noPytz = String.raw`
import base64, datetime, pickle, sys
sys.modules['pytz'] = None
v = pickle.loads(base64.b64decode(sys.stdin.read()))
e = v['_session_expiry']
print(type(e).__name__, e.tzinfo is datetime.timezone.utc, e.isoformat())
`;
    const session = new Map<string, unknown>([['_auth_user_id', '42'], ['_session_expiry', '2030-01-02T03:04:05+00:00']]);
    const run = spawnSync(python, ['-c', noPytz], { input: pickleDumps(session, DATETIME_KEYS).toString('base64'), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('datetime True 2030-01-02T03:04:05+00:00\n');
  });
});
