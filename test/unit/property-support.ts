/*
 * Shared pieces of the property-based tests (test/unit/property-*.spec.ts and
 * test/interop/property-corpus.spec.ts): fast-check arbitraries for what a Django session can
 * hold, an independent model of Python's json.dumps output, and a checker for "plain data".
 *
 * What Django can store, and so what the arbitraries generate:
 *   - dict keys and str values: any Python str. A str may hold lone surrogates; json.dumps writes
 *     them as \udxxx escapes (ensure_ascii) and json.loads reads them back as the same lone code
 *     point, so they round-trip through Django, as astral characters do (written as a \ud83d\ude00
 *     pair, read back as one code point, which JS holds as the same two UTF-16 units).
 *   - int: exact in Python at any size; generated within ±2^53 (plus whatever integral doubles
 *     fc.double() produces), because a JS number cannot hold more.
 *   - float: any finite double; -0 is excluded: JS writes it as the int 0 (JSON.stringify(-0) is
 *     "0", and pickle has no -0 int), so it comes back as 0. Nothing else is lost.
 *   - bool, None, lists, dicts with str keys (integer-like ones such as "10" and "__proto__"
 *     included), nested up to the depth limit (MAX_SESSION_DEPTH = MAX_JSON_DEPTH = 500 levels,
 *     the session dict being level 1). The random trees stay shallow; dedicated properties build
 *     chains right up to the limit.
 */
import fc from 'fast-check';

/** Every property in these files runs with a fixed seed: the runs are deterministic. */
export function runs(numRuns: number, seed: number): fc.Parameters<unknown> {
  return { numRuns, seed, endOnFailure: false };
}

/** One UTF-16 code unit, lone surrogates included (a Python str can hold one). */
export const codeUnit: fc.Arbitrary<string> = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

/** Characters that JSON, Python's ensure_ascii, HTML and JS treat specially. */
export const specialChar: fc.Arbitrary<string> = fc.constantFrom(
  '"', '\\', '/', '\b', '\f', '\n', '\r', '\t', '\v', '\x00', '\x01', '\x1f', ' ', '\x7f', '\x80', '\x85', '\xa0', '\xff',
  '\u0100', '\u2028', '\u2029', '\ufeff', '\uffff', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d\ude00',
  '\u{10ffff}', 'é', 'Zoë', '漢', '<', '>', '&', "'", ':', '.', '=', ';', ',',
);

/** Strings of any kind: any code point, any code unit (lone surrogates), specials, mixes. */
export const anyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: codeUnit, maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: specialChar, maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: fc.oneof(codeUnit, specialChar, fc.constantFrom('a', 'b')), maxLength: 24 }) },
  // Long enough for zlib to pay off: compression is decided per value.
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 6 }), fc.integer({ min: 5, max: 80 })).map(([s, n]) => s.repeat(n)) },
);

/** Dict keys: any string, plus the ones a JS object mishandles (integer-like, "__proto__"...). */
export const anyKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: anyString },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'length', '',
      '0', '1', '10', '2', '-1', '01', '1.5', '1e3', ' 1', '4294967294', '4294967295', '9007199254740993',
      '_auth_user_id', '_auth_user_backend', '_auth_user_hash', '_session_expiry',
    ),
  },
  { weight: 2, arbitrary: fc.nat().map(String) },
);

/** Integers a JS number holds exactly, biased to the boundaries of every pickle/JSON encoding. */
export const safeInteger: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.integer({ min: -300, max: 70_000 }),
  fc.constantFrom(0, 255, 256, 65_535, 65_536, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, -(2 ** 53)),
);

/** Finite doubles but -0 (see the header), biased to where Python's repr and JS's toString differ. */
export const finiteFloat: fc.Arbitrary<number> = fc
  .oneof(
    { weight: 3, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
    { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e-3, max: 1e-3 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        0.1, 0.5, -2.5, 123.456, 1e-4, 1.5e-4, 1e-5, 1e-7, 1.5e-7, 1e-9, 1.5e-10, 1e-10, 1e15 + 0.5, 1e16, 1e21, 1.5e300,
        5e-324, -5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, 2 ** 60, 2 ** 64,
      ),
    },
  )
  .map((x) => (Object.is(x, -0) ? 0 : x));

export const leaf: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: anyString },
  { weight: 2, arbitrary: safeInteger },
  { weight: 2, arbitrary: finiteFloat },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
);

/** `obj[key] = value` that keeps "__proto__" an own data property (as JSON.parse defines it). */
export function setEntry(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/** A plain object from entries; sometimes with a null prototype (the codecs accept both). */
export function objectFrom(entries: ReadonlyArray<readonly [string, unknown]>, nullPrototype = false): Record<string, unknown> {
  const obj: Record<string, unknown> = nullPrototype ? (Object.create(null) as Record<string, unknown>) : {};
  for (const [k, v] of entries) setEntry(obj, k, v);
  return obj;
}

const uniqueEntries = <T>(value: fc.Arbitrary<T>, maxLength: number): fc.Arbitrary<Array<[string, T]>> =>
  fc.uniqueArray(fc.tuple(anyKey, value), { selector: (e) => e[0], maxLength });

/** Any JSON value Django can store, nested a few levels (lists and dicts). */
export const jsonValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown; list: unknown[]; dict: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ maxDepth: 4, depthSize: 'small' }, leaf, tie('list'), tie('dict')),
  list: fc.array(tie('value'), { maxLength: 5 }),
  dict: fc.tuple(uniqueEntries(tie('value'), 5), fc.boolean()).map(([entries, bare]) => objectFrom(entries, bare)),
})).value;

/** A session dict: a Map in Python's order (integer-like keys where they were put). */
export const sessionMap: fc.Arbitrary<Map<string, unknown>> = uniqueEntries(jsonValue, 8).map((entries) => new Map(entries));

/**
 * What Python's `isoformat()` writes for an aware UTC datetime: 'YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00',
 * microseconds only when not 0. Django 3.2 pickles `_session_expiry` as such a datetime
 * (set_expiry(datetime | timedelta)); the pickle cache serializer reads it as this string and
 * writes this string back as the datetime.
 */
const YEAR_1 = new Date(0).setUTCFullYear(1, 0, 1); // Date.UTC(1, ...) would mean 1901

export const utcIsoformat: fc.Arbitrary<string> = fc
  .record({
    day: fc.integer({ min: 0, max: 3_652_058 }), // days from 0001-01-01 to 9999-12-31
    second: fc.integer({ min: 0, max: 86_399 }),
    micro: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999_999 }), fc.constantFrom(1, 999_999, 500_000)),
  })
  .map(({ day, second, micro }) => {
    const d = new Date(YEAR_1 + day * 86_400_000 + second * 1000);
    const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
    const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${micro === 0 ? '' : '.' + pad(micro, 6)}`;
    return `${date}T${time}+00:00`;
  });

/** A session dict that may hold `_session_expiry` as an aware-UTC isoformat string, anywhere in its order. */
export const sessionMapWithExpiry: fc.Arbitrary<Map<string, unknown>> = fc
  .tuple(sessionMap, utcIsoformat, fc.nat())
  .map(([map, iso, at]) => {
    const entries = [...map].filter(([k]) => k !== '_session_expiry');
    entries.splice(at % (entries.length + 1), 0, ['_session_expiry', iso]);
    return new Map(entries);
  });

/** `levels` containers, each holding the next (a list or a one-key dict), around `inner`. */
export function nest(shape: ReadonlyArray<{ list: boolean; key: string }>, inner: unknown): unknown {
  let v = inner;
  for (let i = shape.length - 1; i >= 0; i--) {
    const { list, key } = shape[i]!;
    v = list ? [v] : objectFrom([[key, v]]);
  }
  return v;
}

export const nestShape = (minLength: number, maxLength: number): fc.Arbitrary<Array<{ list: boolean; key: string }>> =>
  fc.array(fc.record({ list: fc.boolean(), key: fc.constantFrom('a', '10', '__proto__', 'é', '') }), { minLength, maxLength });

// ---------------------------------------------------------------------------------------------
// An independent model of Python's json.dumps (ensure_ascii=True), written from CPython's
// Lib/json/encoder.py and Objects/floatobject.c (repr), not from the code under test.
// test/interop/property-corpus.spec.ts checks the model itself against the real Python.
// ---------------------------------------------------------------------------------------------

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\', '"': '\\"', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t',
};

/** encoder.py py_encode_basestring_ascii: per UTF-16 unit, which is what Python's surrogate pairs come to. */
export function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) out += short;
    else if (c < 0x20 || c > 0x7e) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/**
 * `repr(float)`: the shortest round-trip digits (JS picks the same ones), in fixed notation when
 * the decimal point position is within (-4, 16], else as d.ddde±XX (at least two exponent digits).
 */
export function pyFloatRepr(x: number): string {
  if (!Number.isFinite(x)) throw new TypeError(`not finite: ${x}`);
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const [mantissa, exp] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const decpt = Number(exp) + 1; // x = 0.<digits> * 10^decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const e = decpt - 1;
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/**
 * How a number reaches Python, and so how Python writes it back:
 *  - 'session': as the session codec writes it (JSON.stringify's text, read by json.loads):
 *    integral values below 1e21 are digits, hence ints; anything else has '.' or 'e', hence a
 *    float, which Python writes as repr().
 *  - 'exact': integral numbers are ints with their exact value (pickle, the cache JSON), others floats.
 */
export type NumberStyle = 'session' | 'exact';

function pyNumber(x: number, style: NumberStyle): string {
  if (Number.isInteger(x)) {
    if (style === 'exact') return BigInt(x).toString();
    if (Math.abs(x) < 1e21) return String(x);
  }
  return pyFloatRepr(x);
}

/**
 * Python's `json.dumps(value, separators=...)` for the Python value a JS value stands for: Maps
 * and plain objects as dicts in their iteration order, arrays as lists.
 */
export function pyJsonDumps(value: unknown, separators: readonly [string, string], style: NumberStyle): string {
  const [item, kv] = separators;
  const walk = (v: unknown): string => {
    if (v === null) return 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') return pyNumber(v, style);
    if (typeof v === 'string') return pyJsonString(v);
    if (Array.isArray(v)) return '[' + v.map(walk).join(item) + ']';
    const entries = v instanceof Map ? [...(v as Map<string, unknown>)] : Object.keys(v as object).map((k) => [k, (v as Record<string, unknown>)[k]] as const);
    return '{' + entries.map(([k, x]) => pyJsonString(k) + kv + walk(x)).join(item) + '}';
  };
  return walk(value);
}

/**
 * The non-integral floats whose text differs between JS's `String(x)` and Python's `repr(x)`
 * (1e-9 <= |x| < 1e-4, e.g. 1e-5: "0.00001" vs "1e-05"): the values that prove the codec writes
 * Python's form, not JS's.
 */
export function floatsJsWritesOtherwise(value: unknown): number[] {
  const found: number[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v) && String(v) !== pyFloatRepr(v)) found.push(v);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v instanceof Map) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk);
  };
  walk(value);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Comparing values with their key order, and telling plain data from anything else.
// ---------------------------------------------------------------------------------------------

/**
 * A JSON-able canonical form that keeps what toEqual ignores: dict key order (Maps and objects
 * alike, `{ d: [[key, value], ...] }`), lists as `{ l: [...] }`, ints beyond 2^53 exactly.
 */
export type Canon = null | boolean | number | string | { int: string } | { l: Canon[] } | { d: Array<[string, Canon]> };

export function canon(v: unknown): Canon {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v as Canon;
  if (typeof v === 'number') return Number.isInteger(v) && !Number.isSafeInteger(v) ? { int: BigInt(v).toString() } : v;
  // An int past the double range (Python's 10**400) is read as a bigint: the same int either way.
  if (typeof v === 'bigint') return { int: v.toString() };
  if (Array.isArray(v)) return { l: v.map(canon) };
  const entries = v instanceof Map ? [...(v as Map<string, unknown>)] : Object.keys(v as object).map((k) => [k, (v as Record<string, unknown>)[k]] as const);
  return { d: entries.map(([k, x]) => [k, canon(x)]) };
}

/**
 * Why `v` is not plain data, or undefined if it is: null, booleans, numbers, strings, arrays
 * (Array.prototype, no holes) and objects (Object.prototype, own enumerable data properties
 * only, no symbols); `allowMapRoot` lets the top be a Map with string keys. Shared containers
 * are fine and visited once (so a pickle "billion laughs" DAG stays linear); cycles are not.
 * Also reports the height (containers on the longest path down).
 */
export function notPlainData(v: unknown, allowMapRoot = false): { problem?: string; height: number } {
  const heights = new Map<object, number>();
  const onPath = new Set<object>();
  const visit = (x: unknown, path: string, root: boolean): number => {
    if (x === null || typeof x === 'boolean' || typeof x === 'string' || typeof x === 'number') return 0;
    if (typeof x !== 'object') throw new Error(`${path} is a ${typeof x}`);
    const known = heights.get(x);
    if (known !== undefined) return known;
    if (onPath.has(x)) throw new Error(`${path} is a cycle`);
    onPath.add(x);
    let children: Array<[string, unknown]>;
    if (root && allowMapRoot && x instanceof Map) {
      if (Object.getPrototypeOf(x) !== Map.prototype) throw new Error(`${path} is a Map subclass`);
      children = [...(x as Map<unknown, unknown>)].map(([k, c]) => {
        if (typeof k !== 'string') throw new Error(`${path} has a non-string Map key`);
        return [k, c];
      });
    } else if (Array.isArray(x)) {
      if (Object.getPrototypeOf(x) !== Array.prototype) throw new Error(`${path} is an Array subclass`);
      const arr = x as unknown[];
      for (let i = 0; i < arr.length; i++) if (!(i in arr)) throw new Error(`${path} has a hole at ${i}`);
      children = arr.map((c, i) => [String(i), c]);
    } else {
      if (Object.getPrototypeOf(x) !== Object.prototype) throw new Error(`${path} has a prototype other than Object.prototype`);
      if (Object.getOwnPropertySymbols(x).length > 0) throw new Error(`${path} has symbol keys`);
      children = Object.getOwnPropertyNames(x).map((k) => {
        const d = Object.getOwnPropertyDescriptor(x, k)!;
        if (!('value' in d) || !d.enumerable) throw new Error(`${path}.${k} is not an enumerable data property`);
        return [k, d.value];
      });
    }
    let height = 0;
    for (const [k, c] of children) height = Math.max(height, visit(c, `${path}[${JSON.stringify(k)}]`, false));
    onPath.delete(x);
    heights.set(x, height + 1);
    return height + 1;
  };
  try {
    return { height: visit(v, 'value', true) };
  } catch (e) {
    return { problem: (e as Error).message, height: -1 };
  }
}

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

export type Mutation = { op: 'flip' | 'insert' | 'delete'; at: number; unit: number };

/** One to three edits: flip (replace by a different unit), insert or delete one char/byte. */
export const mutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.record({
    op: fc.constantFrom('flip' as const, 'insert' as const, 'delete' as const),
    at: fc.nat(),
    unit: fc.nat(),
  }),
  { minLength: 1, maxLength: 3 },
);

/** Applies the edits to a string; `alphabet` supplies inserted/flipped characters. */
export function mutateString(s: string, edits: readonly Mutation[], alphabet: string): string {
  let out = s;
  for (const { op, at, unit } of edits) {
    const i = out.length === 0 ? 0 : at % (op === 'insert' ? out.length + 1 : out.length);
    let ch = alphabet[unit % alphabet.length]!;
    if (op === 'flip' && out.length > 0) {
      if (ch === out[i]) ch = alphabet[(unit + 1) % alphabet.length]!;
      out = out.slice(0, i) + ch + out.slice(i + 1);
    } else if (op === 'delete' && out.length > 0) {
      out = out.slice(0, i) + out.slice(i + 1);
    } else {
      out = out.slice(0, i) + ch + out.slice(i);
    }
  }
  return out;
}

/** Applies the edits to bytes. */
export function mutateBytes(b: Buffer, edits: readonly Mutation[]): Buffer {
  let out = b;
  for (const { op, at, unit } of edits) {
    const i = out.length === 0 ? 0 : at % (op === 'insert' ? out.length + 1 : out.length);
    const byte = unit & 0xff;
    if (op === 'flip' && out.length > 0) {
      out = Buffer.from(out);
      out[i] = out[i] === byte ? (byte + 1) & 0xff : byte;
    } else if (op === 'delete' && out.length > 0) {
      out = Buffer.concat([out.subarray(0, i), out.subarray(i + 1)]);
    } else {
      out = Buffer.concat([out.subarray(0, i), Buffer.of(byte), out.subarray(i)]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pickles shaped like the datetime Django 3.2 stores for `_session_expiry` (src/codec/pickle.ts)
// ---------------------------------------------------------------------------------------------

/** A 4-byte little-endian unsigned integer. */
export const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** SHORT_BINUNICODE of `s` (UTF-8, so at most 255 bytes). */
export function shortUnicode(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [0x8c, b.length, ...b];
}

const globalOp = (module: string, name: string): number[] => [...Buffer.from(`c${module}\n${name}\n`, 'latin1')];
const memoOrNot = fc.constantFrom<number[]>([], [], [0x94]);
const dateFields = (lo: number, hi: number) =>
  fc.record({
    year: fc.integer({ min: 1 - lo, max: 9999 + hi }),
    month: fc.integer({ min: 1 - lo, max: 12 + hi }),
    day: fc.integer({ min: 1 - lo, max: 28 + 4 * hi }),
    hour: fc.integer({ min: 0, max: 23 + hi }),
    minute: fc.integer({ min: 0, max: 59 + hi }),
    second: fc.integer({ min: 0, max: 59 + hi }),
    micro: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999_999 + hi })),
  });
// `_getstate()`: year as 2 bytes, month, day, hour, minute, second, microseconds as 3 bytes, all big-endian.
const stateBytes = fc
  .oneof({ weight: 4, arbitrary: dateFields(0, 0) }, { weight: 1, arbitrary: dateFields(1, 1) })
  .map(({ year, month, day, hour, minute, second, micro }) => [year >> 8, year & 0xff, month, day, hour, minute, second, (micro >> 16) & 0xff, (micro >> 8) & 0xff, micro & 0xff]);
const anyStateBytes = fc.oneof({ weight: 4, arbitrary: stateBytes }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 9, maxLength: 11 }).map((b) => [...b]) });
const datetimeState = (codecs: readonly string[]) =>
  fc.oneof(
    anyStateBytes.map((b) => [0x43, b.length, ...b]), // SHORT_BINBYTES
    anyStateBytes.map((b) => [0x42, ...u32(b.length), ...b]), // BINBYTES
    // _codecs.encode(<latin-1 str>, 'latin1'): how protocols 0-2 spell bytes.
    fc.tuple(anyStateBytes, fc.constantFrom(...codecs)).map(([b, codec]) => [...globalOp('_codecs', 'encode'), ...shortUnicode(String.fromCharCode(...b)), ...shortUnicode(codec), 0x86, 0x52]),
    fc.string({ maxLength: 12 }).map(shortUnicode),
  );
const smallInt = (n: number): number[] => [0x4b, n];
const TZINFOS: number[][] = [
  [], // naive
  [...globalOp('pytz', '_UTC'), 0x29, 0x52], // pytz.utc
  [...globalOp('datetime', 'timezone'), ...globalOp('datetime', 'timedelta'), ...smallInt(0), ...smallInt(0), ...smallInt(0), 0x87, 0x52, 0x85, 0x52], // timezone.utc
  [...globalOp('datetime', 'timezone'), ...globalOp('datetime', 'timedelta'), ...smallInt(0), 0x4d, 0x10, 0x0e, ...smallInt(0), 0x87, 0x52, 0x85, 0x52], // +01:00
];

/**
 * A pickled dict holding a datetime.datetime built every way a pickle can spell it: the class by
 * GLOBAL or STACK_GLOBAL (or another global), the state as bytes or as _codecs.encode(str,
 * 'latin1') (a valid date, fields out of range, random bytes, another length, a str), tzinfo
 * none / pytz.utc / datetime.timezone.utc / +01:00, as a 1-, 2- (or wrong) or MARK-tuple, then
 * REDUCE; pieces memoized now and then; under `_session_expiry` or another key, at the top level
 * or deeper.
 *
 * `forPython: false`: also os.system and builtins.eval as the class, None as the tzinfo and
 * codecs other than 'latin1'; for our reader only, never to be given to Python.
 * `forPython: true`: every global is one whose call with these arguments is harmless
 * (datetime.datetime/date/timedelta, pytz._UTC, _codecs.encode), and the arguments are spelled
 * as CPython spells them, so that whatever Python reads as a UTC or naive datetime under the
 * top-level `_session_expiry`, our reader must read too.
 */
export function datetimePickle({ forPython }: { forPython: boolean }): fc.Arbitrary<Buffer> {
  const others = [globalOp('datetime', 'date'), globalOp('datetime', 'timedelta'), globalOp('pytz', '_UTC'), globalOp('_codecs', 'encode')];
  if (!forPython) others.push(globalOp('os', 'system'), globalOp('builtins', 'eval'));
  const datetimeTz = fc.constantFrom<number[]>(...TZINFOS, ...(forPython ? [] : [[0x4e]]));
  const state = datetimeState(forPython ? ['latin1'] : ['latin1', 'latin1', 'latin-1', 'utf8']);
  const datetimeClass = fc.oneof(
    { weight: 3, arbitrary: fc.constant(globalOp('datetime', 'datetime')) },
    { weight: 3, arbitrary: fc.constant([...shortUnicode('datetime'), 0x94, ...shortUnicode('datetime'), 0x94, 0x93]) },
    { weight: 1, arbitrary: fc.constantFrom(...others) },
  );
  const datetimeValue = fc
    .tuple(datetimeClass, memoOrNot, state, memoOrNot, datetimeTz, fc.constantFrom(0, 1, 1, 2), memoOrNot)
    .map(([cls, m1, state, m2, tz, how, m3]) => {
      const args = [...state, ...m2, ...tz];
      const n = tz.length > 0 ? 2 : 1;
      // MARK ... TUPLE, the right TUPLE1/TUPLE2, or the wrong one.
      const tuple = how === 0 ? [0x28, ...args, 0x74] : [...args, 0x84 + (how === 1 ? n : n === 1 ? 2 : 1)];
      return [...cls, ...m1, ...tuple, 0x52, ...m3];
    });
  return fc
    .tuple(fc.constantFrom('_session_expiry', '_session_expiry', 'other'), datetimeValue, fc.constantFrom(0, 0, 0, 1, 2, 3))
    .map(([key, value, where]) => {
      const entry = [...shortUnicode(key), ...value];
      // A top-level dict entry (the one place it may be read), or in a list, a nested dict, a tuple.
      const body =
        where === 0 ? [0x7d, 0x94, ...entry, 0x73]
        : where === 1 ? [0x7d, 0x94, ...shortUnicode('a'), 0x5d, ...value, 0x61, 0x73]
        : where === 2 ? [0x7d, 0x94, ...shortUnicode('a'), 0x7d, ...entry, 0x73, 0x73]
        : [0x7d, 0x94, ...shortUnicode('_session_expiry'), ...value, 0x85, 0x73];
      return Buffer.from([0x80, 0x04, ...body, 0x2e]);
    });
}
