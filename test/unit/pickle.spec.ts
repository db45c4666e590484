import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import {
  PICKLE_MAX_DEPTH,
  PickleError,
  pickleDumps,
  pickleLoads,
  pickleLoadsDict,
} from '../../src/codec/pickle.js';
import { describeWith } from '../support/env.js';

// Known answers written by django-redis's own PickleSerializer on CPython 3.11:
// test/interop/make-cache-serializer-fixtures.py (its docstring describes the format).

type Tag =
  | null
  | boolean
  | string
  | number
  | { int: string }
  | { float: string }
  | { list: Tag[] }
  | { tuple: Tag[] }
  | { dict: Array<[string, Tag]> }
  | { repeat: [string, number] }
  | { range: number }
  | { format: [string, number] }
  | { keyed: [string, number] }
  | { rows: number }
  | { nest: number };

interface DumpsEntry {
  id: string;
  value: Tag;
  pickle?: string;
  pickle_sha256?: string;
  pickle_length?: number;
  pickle_frames?: Array<[number, number]>;
  protocols?: Record<string, string>;
}

interface LoadsEntry {
  id: string;
  expected: Tag;
  protocols?: Record<string, string>;
}

interface RefusedPickle {
  id: string;
  pickle: string;
  why: string;
  python: string;
  pickle_loads_ok: boolean;
}

interface Fixtures {
  python: string;
  django_redis: string;
  pickle_default_protocol: number;
  rce_marker: string;
  dumps: DumpsEntry[];
  shared: { id: string; value: Tag; pickle: string };
  loads: LoadsEntry[];
  refused_pickles: RefusedPickle[];
}

const fixtures = JSON.parse(
  readFileSync(new URL('../fixtures/django-redis/serializers.json', import.meta.url), 'utf8'),
) as Fixtures;

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function pyFloat(repr: string): number {
  if (repr === 'inf') return Infinity;
  if (repr === '-inf') return -Infinity;
  if (repr === 'nan') return NaN;
  return Number(repr);
}

function setEntry(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * The JS value of a fixture tag. Dicts become Maps (`dicts: 'map'`, Python's order even for "10")
 * or plain objects (`'object'`, what the reader returns below the top level).
 */
function toData(t: Tag, dicts: 'map' | 'object'): unknown {
  if (t === null || typeof t !== 'object') return t;
  if ('int' in t) return Number(t.int);
  if ('float' in t) return pyFloat(t.float);
  if ('list' in t) return t.list.map((x) => toData(x, dicts));
  if ('tuple' in t) return t.tuple.map((x) => toData(x, dicts));
  if ('dict' in t) return makeDict(t.dict.map(([k, v]) => [k, toData(v, dicts)]), dicts);
  if ('repeat' in t) return t.repeat[0].repeat(t.repeat[1]);
  if ('range' in t) return Array.from({ length: t.range }, (_, i) => i);
  if ('format' in t) return Array.from({ length: t.format[1] }, (_, i) => t.format[0] + String(i));
  if ('keyed' in t) return makeDict(Array.from({ length: t.keyed[1] }, (_, i) => [t.keyed[0] + String(i), i]), dicts);
  if ('rows' in t) {
    return Array.from({ length: t.rows }, (_, i) =>
      makeDict([['id', i], ['name', `row ${i}`], ['tags', ['a', 'bc', `t${i}`]], ['score', i + 0.5]], dicts),
    );
  }
  let v: unknown[] = [];
  for (let i = 1; i < t.nest; i++) v = [v];
  return v;
}

function makeDict(entries: Array<[string, unknown]>, dicts: 'map' | 'object'): unknown {
  if (dicts === 'map') return new Map(entries);
  const obj: Record<string, unknown> = {};
  for (const [k, v] of entries) setEntry(obj, k, v);
  return obj;
}

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

function toObjects(v: unknown): unknown {
  if (v instanceof Map) return makeDict([...v].map(([k, x]) => [k as string, toObjects(x)]), 'object');
  if (Array.isArray(v)) return v.map(toObjects);
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
    const loaded = pickleLoadsDict(data);
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
    expect(() => pickleLoadsDict(data)).toThrow(PickleError);
    if (r.pickle_loads_ok) {
      expect(() => pickleLoads(data)).not.toThrow();
    } else {
      expect(() => pickleLoads(data)).toThrow(PickleError);
      expect(() => pickleLoads(data)).toThrow(/offset \d+|nested deeper|contains itself/);
    }
  });

  it('names the opcode: GLOBAL / STACK_GLOBAL for a datetime, at its offset', () => {
    const p0 = b64(fixtures.refused_pickles.find((r) => r.id === 'datetime_p0')!.pickle);
    expect(() => pickleLoads(p0)).toThrow(`GLOBAL (0x63) at offset ${p0.indexOf('c')} is not supported`);
    const p4 = b64(fixtures.refused_pickles.find((r) => r.id === 'datetime_p4')!.pickle);
    expect(() => pickleLoads(p4)).toThrow(/^STACK_GLOBAL \(0x93\) at offset \d+ is not supported/);
  });

  it('executes nothing for an os.system REDUCE payload', () => {
    rmSync(fixtures.rce_marker, { force: true });
    for (const r of fixtures.refused_pickles.filter((x) => x.id.startsWith('os_system'))) {
      expect(() => pickleLoadsDict(b64(r.pickle))).toThrow(PickleError);
      expect(() => pickleLoads(b64(r.pickle))).toThrow(/GLOBAL/);
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
});
