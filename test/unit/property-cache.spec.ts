/*
 * Property-based tests of django-redis's value serializers (src/codec/cache-serializers.ts) and of
 * the pickle subset under them (src/codec/pickle.ts). Generators are in ./property-support.ts;
 * test/interop/property-corpus.spec.ts checks a generated corpus with the real Python/django-redis.
 */
import fc from 'fast-check';
import { CACHE_SERIALIZERS } from '../../src/codec/cache-serializers.js';
import { PICKLE_MAX_DEPTH, PickleError, pickleDumps, pickleLoads, pickleLoadsDict } from '../../src/codec/pickle.js';
import { MAX_JSON_DEPTH } from '../../src/codec/signing.js';
import {
  anyKey,
  anyString,
  canon,
  jsonValue,
  leaf,
  mutateBytes,
  mutations,
  nest,
  nestShape,
  notPlainData,
  pyJsonDumps,
  runs,
  sessionMap,
  sessionMapWithExpiry,
  datetimePickle as datetimePickleWith,
  shortUnicode as short,
  u32,
} from './property-support.js';

// Only our reader ever sees these: they may name os.system.
const datetimePickle = datetimePickleWith({ forPython: false });

const { pickle, json } = CACHE_SERIALIZERS;

describe('cache serializers: loads(dumps(map)) is the identity', () => {
  it.each([['pickle'], ['json']] as const)('%s: values, types and key order at every level', (name) => {
    const serializer = CACHE_SERIALIZERS[name];
    fc.assert(
      fc.property(sessionMap, (map) => {
        const loaded = serializer.loads(serializer.dumps(map));
        expect(loaded).toBeInstanceOf(Map);
        expect(canon(loaded)).toEqual(canon(map));
        expect(notPlainData(loaded, true).problem).toBeUndefined();
      }),
      runs(300, name === 'pickle' ? 0x9c1 : 0x150),
    );
  });

  it.each([['pickle'], ['json']] as const)('%s: also with _session_expiry as an aware-UTC isoformat() string (pickle: written as the datetime Django 3.2 stores)', (name) => {
    const serializer = CACHE_SERIALIZERS[name];
    fc.assert(
      fc.property(sessionMapWithExpiry, (map) => {
        const bytes = serializer.dumps(map);
        if (name === 'pickle') expect(bytes.includes('\x8c\x08datetime\x94\x8c\x08datetime\x94\x93', 0, 'latin1')).toBe(true);
        expect(canon(serializer.loads(bytes))).toEqual(canon(map));
      }),
      runs(200, name === 'pickle' ? 0xda7e : 0xda7f),
    );
  });

  it.each([['pickle'], ['json']] as const)('%s: right up to MAX_JSON_DEPTH levels (the session dict being level 1), and no further', (name) => {
    const serializer = CACHE_SERIALIZERS[name];
    expect(MAX_JSON_DEPTH).toBe(500);
    const deep = fc.oneof(nestShape(1, MAX_JSON_DEPTH - 1), nestShape(MAX_JSON_DEPTH - 10, MAX_JSON_DEPTH - 1));
    fc.assert(
      fc.property(anyKey, deep, leaf, (key, shape, inner) => {
        const map = new Map([[key, nest(shape, inner)]]);
        expect(canon(serializer.loads(serializer.dumps(map)))).toEqual(canon(map));
      }),
      runs(20, 0xd1),
    );
    fc.assert(
      fc.property(anyKey, nestShape(MAX_JSON_DEPTH, MAX_JSON_DEPTH + 20), leaf, (key, shape, inner) => {
        expect(() => serializer.dumps(new Map([[key, nest(shape, inner)]]))).toThrow(TypeError);
      }),
      runs(10, 0xd2),
    );
  });

  it("json: the bytes are Python's json.dumps(dict) (', ' and ': ', ensure_ascii, repr floats, exact ints)", () => {
    fc.assert(
      fc.property(sessionMap, (map) => {
        expect(json.dumps(map).toString('latin1')).toBe(pyJsonDumps(map, [', ', ': '], 'exact'));
      }),
      runs(300, 0x15d),
    );
  });

  it('pickle: pickleLoads(pickleDumps(v)) is v for any JSON-like value, at protocols 4 and 5', () => {
    fc.assert(
      fc.property(jsonValue, fc.constantFrom(4 as const, 5 as const), (value, protocol) => {
        const bytes = pickleDumps(value, { protocol });
        expect(bytes[0]).toBe(0x80);
        expect(bytes[1]).toBe(protocol);
        expect(canon(pickleLoads(bytes))).toEqual(canon(value));
      }),
      runs(300, 0x9c2),
    );
  });

  it("round-trip Python's numbers JSON lacks (NaN, ±Infinity, ints past the double range), wherever they are", () => {
    const pythonOnly = fc.constantFrom<unknown>(NaN, Infinity, -Infinity, 10n ** 400n, -(2n ** 1100n));
    fc.assert(
      fc.property(sessionMap, anyKey, nestShape(0, 5), pythonOnly, (map, key, shape, value) => {
        const session = new Map(map).set(key, nest(shape, value));
        expect(canon(pickle.loads(pickle.dumps(session)))).toEqual(canon(session));
        expect(canon(json.loads(json.dumps(session)))).toEqual(canon(session));
      }),
      runs(100, 0x9e7),
    );
  });

  it('refuse (TypeError) any value that is neither JSON-like nor a Map, wherever it is', () => {
    const bad = fc.constantFrom<unknown>(undefined, () => 1, Symbol('s'), 1n, new Date(0), Buffer.from('x'), new Set(), new (class Foo {})());
    fc.assert(
      fc.property(sessionMap, anyKey, nestShape(0, 5), bad, (map, key, shape, value) => {
        const poisoned = new Map(map).set(key, nest(shape, value));
        expect(() => pickle.dumps(poisoned)).toThrow(TypeError);
        expect(() => json.dumps(poisoned)).toThrow(TypeError);
      }),
      runs(100, 0xbad2),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Robustness: whatever the bytes, plain data or the documented error, never anything else.
// ---------------------------------------------------------------------------------------------


/**
 * One pickle opcode with plausible arguments: mostly the supported subset (so the reader's stack,
 * marks, memo and containers are driven into odd states: APPEND to a dict, cycles through the
 * memo, unbalanced marks, STOP midway), sometimes refused opcodes or a random byte.
 */
const pickleToken: fc.Arbitrary<number[]> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<number[]>(...[...'()]}aesulodt0122N'].map((c) => [c.charCodeAt(0)]), [0x85], [0x86], [0x87], [0x88], [0x89], [0x94], [0x94]) },
  { weight: 3, arbitrary: fc.nat({ max: 6 }).map((i) => [0x68, i]) }, // BINGET
  { weight: 1, arbitrary: fc.nat({ max: 6 }).map((i) => [0x71, i]) }, // BINPUT
  { weight: 1, arbitrary: fc.nat({ max: 6 }).map((i) => [0x6a, ...u32(i)]) }, // LONG_BINGET
  { weight: 1, arbitrary: fc.nat({ max: 6 }).map((i) => [...Buffer.from(`${'gp'[i % 2]}${i}\n`)]) }, // GET / PUT
  { weight: 3, arbitrary: fc.constantFrom('a', 'b', '', '10', '__proto__', 'é', '\ud800').map(short) },
  { weight: 2, arbitrary: fc.nat({ max: 255 }).map((n) => [0x4b, n]) }, // BININT1
  { weight: 1, arbitrary: fc.integer().map((n) => [0x4a, ...u32(n)]) }, // BININT
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }).map((b) => [0x8a, b.length, ...b]) }, // LONG1
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => [0x47, ...b]) }, // BINFLOAT
  {
    weight: 1,
    arbitrary: fc.constantFrom('I01\n', 'I00\n', 'I-7\n', 'I007\n', 'L5L\n', 'F1.5\n', 'Fnan\n', 'F-inf\n', 'F1e400\n', 'Vhi\\u00e9\n', 'V\\U0010ffff\n', 'V\\ud800\n', 'V\\u12\n').map((s) => [...Buffer.from(s, 'latin1')]),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }).map((b) => [0x58, ...u32(b.length), ...b]) }, // BINUNICODE, any bytes
  { weight: 1, arbitrary: fc.nat({ max: 20 }).map((n) => [0x95, n, 0, 0, 0, 0, 0, 0, 0]) }, // FRAME
  { weight: 1, arbitrary: fc.constantFrom<number[]>([0x80, 2], [0x80, 5], [0x80, 6], [...Buffer.from('cos\nsystem\n')], [0x52], [0x93], [0x62], [0x8f], [0x43, 1, 0x41], [0x53]) },
  { weight: 1, arbitrary: fc.nat({ max: 255 }).map((b) => [b]) },
);

/**
 * Mostly valid pickles from a grammar: scalars, lists / dicts / tuples built every way the opcodes
 * allow (EMPTY_LIST + APPEND(S), MARK + LIST, EMPTY_DICT + SETITEM(S), MARK + DICT, TUPLE1-3 ...),
 * values memoized now and then (MEMOIZE / BINPUT) and fetched back (BINGET): shared containers,
 * and cycles when a container is fetched while still being filled.
 */
const grammarPickle: fc.Arbitrary<Buffer> = fc
  .letrec<{ value: number[]; scalar: number[]; list: number[]; dict: number[]; tuple: number[] }>((tie) => ({
    value: fc
      .tuple(
        fc.oneof({ maxDepth: 4, depthSize: 'small' }, tie('scalar'), tie('list'), tie('dict'), tie('tuple'), fc.nat({ max: 5 }).map((i) => [0x68, i])),
        fc.constantFrom<number[]>([], [], [0x94], [0x71, 0], [0x71, 1], [0x32, 0x30]),
      )
      .map(([v, memo]) => [...v, ...memo]),
    scalar: fc.oneof(
      fc.constantFrom<number[]>([0x4e], [0x88], [0x89], [0x4b, 7], [0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], [0x8a, 1, 0xff], [...Buffer.from('I42\n')]),
      fc.constantFrom('a', '', '10', '__proto__', 'é', '\ud83d\ude00').map(short),
    ),
    list: fc.tuple(fc.array(tie('value'), { maxLength: 4 }), fc.nat({ max: 2 }), fc.boolean()).map(([items, how, memo]) => {
      const m = memo ? [0x94] : [];
      if (how === 0) return [0x5d, ...m, ...items.flatMap((i) => [...i, 0x61])];
      if (how === 1) return [0x5d, ...m, 0x28, ...items.flat(), 0x65];
      return [0x28, ...items.flat(), 0x6c, ...m];
    }),
    dict: fc
      .tuple(fc.array(fc.tuple(fc.oneof(tie('scalar'), fc.constantFrom('k', 'a', '1').map(short)), tie('value')), { maxLength: 4 }), fc.nat({ max: 2 }), fc.boolean())
      .map(([pairs, how, memo]) => {
        const m = memo ? [0x94] : [];
        if (how === 0) return [0x7d, ...m, ...pairs.flatMap(([k, v]) => [...k, ...v, 0x73])];
        if (how === 1) return [0x7d, ...m, 0x28, ...pairs.flatMap(([k, v]) => [...k, ...v]), 0x75];
        return [0x28, ...pairs.flatMap(([k, v]) => [...k, ...v]), 0x64, ...m];
      }),
    tuple: fc.array(tie('value'), { maxLength: 4 }).map((items) =>
      items.length >= 1 && items.length <= 3 ? [...items.flat(), 0x84 + items.length] : [0x28, ...items.flat(), 0x74],
    ),
  }))
  .value.map((body) => Buffer.from([0x80, 0x04, ...body, 0x2e]));

const tokenPickle = fc
  .tuple(fc.boolean(), fc.array(pickleToken, { maxLength: 40 }), fc.boolean())
  .map(([proto, tokens, stop]) => Buffer.from([...(proto ? [0x80, 4] : []), ...tokens.flat(), ...(stop ? [0x2e] : [])]));

const validPickle = fc.oneof(
  sessionMap.map((m) => pickle.dumps(m)),
  sessionMapWithExpiry.map((m) => pickle.dumps(m)),
  jsonValue.map((v) => pickleDumps(v, { protocol: 5 })),
  // Shared containers, written once and then referred to (BINGET).
  fc.tuple(jsonValue, fc.nat({ max: 4 })).map(([v, n]) => pickleDumps({ a: Array(n + 2).fill([v]), b: [v, v] })),
);

const anyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([Buffer.of(0x80, 0x04), Buffer.from(b), Buffer.of(0x2e)])),
  tokenPickle,
  grammarPickle,
  datetimePickle,
  fc.tuple(datetimePickle, mutations).map(([b, edits]) => mutateBytes(b, edits)),
  fc.tuple(grammarPickle, mutations).map(([b, edits]) => mutateBytes(b, edits)),
  fc.tuple(validPickle, mutations).map(([b, edits]) => mutateBytes(b, edits)),
);

/** Runs `read`; the result must be plain data (height at most `maxDepth`), or the error one of `errors`. */
function expectPlainOrDocumentedError(read: () => unknown, errors: ReadonlyArray<abstract new (...a: never[]) => Error>, maxDepth: number, mapRoot: boolean): 'data' | 'error' {
  let result: unknown;
  try {
    result = read();
  } catch (e) {
    if (!errors.some((E) => e instanceof E)) throw new Error(`undocumented error: ${String(e)} (${Object.prototype.toString.call(e)})`);
    return 'error';
  }
  const { problem, height } = notPlainData(result, mapRoot);
  expect(problem).toBeUndefined();
  expect(height).toBeLessThanOrEqual(maxDepth);
  if (mapRoot) expect(result).toBeInstanceOf(Map);
  return 'data';
}

describe('readers of untrusted bytes: plain data or the documented error, never anything else', () => {
  it('pickleLoads / pickleLoadsDict / the pickle serializer: plain data (no cycles, not too deep) or a PickleError', () => {
    const seen = { data: 0, error: 0 };
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        seen[expectPlainOrDocumentedError(() => pickleLoads(bytes), [PickleError], PICKLE_MAX_DEPTH, false)]++;
        expectPlainOrDocumentedError(() => pickleLoadsDict(bytes), [PickleError], PICKLE_MAX_DEPTH, true);
        expectPlainOrDocumentedError(() => pickle.loads(bytes), [PickleError], MAX_JSON_DEPTH, true);
      }),
      runs(2000, 0x9c3),
    );
    // Both outcomes are reached, not just errors.
    expect(seen.data).toBeGreaterThan(100);
    expect(seen.error).toBeGreaterThan(100);
  });

  it('the pickle serializer on datetime-shaped pickles (and mutations of them): the datetime read as a string, or a PickleError', () => {
    const seen = { data: 0, error: 0, datetimes: 0 };
    fc.assert(
      fc.property(fc.oneof(datetimePickle, fc.tuple(datetimePickle, mutations).map(([b, edits]) => mutateBytes(b, edits))), (bytes) => {
        // Without datetimeKeys every GLOBAL is refused.
        expectPlainOrDocumentedError(() => pickleLoads(bytes), [PickleError], PICKLE_MAX_DEPTH, false);
        const outcome = expectPlainOrDocumentedError(() => pickle.loads(bytes), [PickleError], MAX_JSON_DEPTH, true);
        seen[outcome]++;
        if (outcome === 'data') {
          const expiry = pickle.loads(bytes).get('_session_expiry');
          if (typeof expiry === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?(?:\+00:00)?$/.test(expiry)) seen.datetimes++;
        }
      }),
      runs(1500, 0xda7a),
    );
    expect(seen.datetimes).toBeGreaterThan(30);
    expect(seen.error).toBeGreaterThan(100);
  });

  it('the json serializer: a Map of plain data, or a SyntaxError / TypeError', () => {
    const validJson = sessionMap.map((m) => json.dumps(m));
    const jsonish = fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '\\', 'u', '0', '1', 'e', '-', '.', ' ', 'n', 'N', 'a', 'I', '\ufeff', 'é'), maxLength: 60 });
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      anyString.map((s) => Buffer.from(s, 'utf8')),
      jsonish.map((s) => Buffer.from(s, 'utf8')),
      fc.json().map((s) => Buffer.from(s, 'utf8')),
      fc.tuple(validJson, mutations).map(([b, edits]) => mutateBytes(b, edits)),
    );
    const seen = { data: 0, error: 0 };
    fc.assert(
      fc.property(input, (bytes) => {
        seen[expectPlainOrDocumentedError(() => json.loads(bytes), [SyntaxError, TypeError], MAX_JSON_DEPTH, true)]++;
      }),
      runs(2000, 0x150b),
    );
    expect(seen.data).toBeGreaterThan(100);
    expect(seen.error).toBeGreaterThan(100);
  });
});
