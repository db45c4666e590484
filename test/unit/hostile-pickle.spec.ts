/*
 * Pickles planted in a shared Redis to stall or swell the process: whoever can write there writes
 * what the cache engines read (Django unpickles it blindly). Reading is bounded by maxDecodedBytes
 * in bytes of the JSON the session would be as `session_data`, the work as well as the result, and
 * a genuine session of any shape within it is read and written back, whatever its item count.
 *
 * Memory is checked as the growth of the process's resident size around one read (each case's
 * input made beforehand): a bound with a wide margin, not a measurement.
 */
import { createHash } from 'node:crypto';
import { CACHE_SERIALIZERS } from '../../src/codec/cache-serializers.js';
import { PickleError, pickleDumps, pickleLoadsDict } from '../../src/codec/pickle.js';
import { SessionCodec } from '../../src/codec/session-codec.js';
import { DEFAULT_MAX_DECODED_BYTES, pythonJsonDumps } from '../../src/codec/signing.js';

const { pickle, json } = CACHE_SERIALIZERS;
const LIMIT = DEFAULT_MAX_DECODED_BYTES;

/** Opcodes as latin-1 text. */
const op = (text: string): Buffer => Buffer.from(text, 'latin1');
const PROTO4 = op('\x80\x04');
/** `{'a': [<items>]}`: EMPTY_DICT MARK 'a' MARK <items> LIST SETITEMS STOP. */
const dictOfList = (items: Buffer): Buffer => Buffer.concat([PROTO4, op('}(\x8c\x01a('), items, op('lu.')]);

/** The session's JSON as SessionCodec.encodeEntries writes it (what maxDecodedBytes limits). */
const sessionJson = (session: Map<string, unknown>): string =>
  `{${[...session].map(([k, v]) => `${pythonJsonDumps(k)}:${pythonJsonDumps(v)}`).join(',')}}`;

/** What `read` throws (or undefined), and how much the resident size grew meanwhile. */
function readMeasured(read: () => unknown): { error: unknown; rssGrowth: number } {
  const before = process.memoryUsage().rss;
  let error: unknown;
  try {
    read();
  } catch (e) {
    error = e;
  }
  return { error, rssGrowth: process.memoryUsage().rss - before };
}

describe('pickle serializer: a planted pickle is refused with bounded work and memory', () => {
  const cases: Array<[string, () => Buffer]> = [
    // The issue's value: a list of four million empty dicts, 4 MiB (JSON: 12 MiB of '{},').
    ['four million empty dicts in a list', () => dictOfList(op('}'.repeat(LIMIT - 16)))],
    ['4 MiB of EMPTY_DICT left on the stack', () => Buffer.concat([PROTO4, op('}'.repeat(LIMIT - 8)), op('.')])],
    ['4 MiB of EMPTY_LIST in a list', () => dictOfList(op(']'.repeat(LIMIT - 16)))],
    ['4 MiB of DUP of None', () => Buffer.concat([PROTO4, op('N'), op('2'.repeat(LIMIT - 8)), op('.')])],
    ['4 MiB of DUP of None after a MARK', () => dictOfList(Buffer.concat([op('N'), op('2'.repeat(LIMIT - 20))]))],
    ['two million memo references to one empty list', () => dictOfList(Buffer.concat([op(']\x94'), op('h\x00'.repeat(LIMIT / 2 - 16))]))],
    ['a 1 MB str referenced 3,000 times', () => dictOfList(Buffer.concat([op('X'), Buffer.from([0, 0, 16, 0]), Buffer.alloc(1 << 20, 0x61), op('\x94'), op('h\x00'.repeat(3000))]))],
  ];

  it.each(cases)('%s: refused (PickleError), the process growing by less than 16 × maxDecodedBytes', (_what, make) => {
    const value = make();
    expect(value.length).toBeLessThanOrEqual(LIMIT);
    const { error, rssGrowth } = readMeasured(() => pickle.loads(value));
    expect(error).toBeInstanceOf(PickleError);
    expect(rssGrowth).toBeLessThan(16 * LIMIT);
  });

  it('a list of a million memoized empty lists (what CPython writes for one) is refused too', () => {
    // Python: pickle.dumps({'a': [[] for _ in range(1_400_000)]}, 4) has this shape; its JSON is
    // 4.2 MB of '[],'. Refused once what it made would write more than maxDecodedBytes.
    const value = dictOfList(op(']\x94'.repeat(1_400_000)));
    expect(() => pickle.loads(value)).toThrow(/maxDecodedBytes/);
  });
});

describe('pickle serializer: shared references are counted in bytes of JSON, as the session would be written', () => {
  it("the issue's 10 KB pickle, one 1,000-item list referenced 4,000 times (95 MiB expanded), is refused", () => {
    // Python: l = [1234567] * 1000; pickle.dumps({'a': [l] * 4000}, 4), without framing.
    const list = Buffer.concat([op(']\x94('), op('J\x87\xd6\x12\x00'.repeat(1000)), op('e')]);
    const value = dictOfList(Buffer.concat([list, op('h\x00'.repeat(3999))]));
    expect(value.length).toBeLessThan(15_000);
    const { error, rssGrowth } = readMeasured(() => pickle.loads(value));
    expect(error).toBeInstanceOf(PickleError);
    expect((error as Error).message).toMatch(/expands past maxDecodedBytes/);
    expect(rssGrowth).toBeLessThan(16 * LIMIT);
  });

  // A row shared 40 times: its JSON holds escapes (6 bytes for 'ë'), Python's float repr and big
  // ints, so a count of items or characters would be far below the bytes written.
  const row = ['Zoë', 1e-5, 0.1, 1234567, 2 ** 64, '"quoted"\n', { k: [true, false, null] }];
  const session = new Map<string, unknown>([
    ['rows', Array.from({ length: 40 }, () => row)],
    ['_auth_user_id', '42'],
  ]);
  const bytes = pickleDumps(session);
  const written = sessionJson(session).length;

  it('is read when maxDecodedBytes is exactly the JSON it would write, and that JSON can then be saved', () => {
    expect(bytes.length).toBeLessThan(written / 5);
    const loaded = pickle.loads(bytes, { maxDecodedBytes: written });
    expect(sessionJson(loaded)).toHaveLength(written);
    // Whatever is read can be saved again under the same limit.
    expect(() => new SessionCodec({ secretKey: 'k', maxDecodedBytes: written }).encodeEntries(loaded)).not.toThrow();
  });

  it('is refused one byte below', () => {
    expect(() => pickle.loads(bytes, { maxDecodedBytes: written - 1 })).toThrow(PickleError);
    expect(() => pickleLoadsDict(bytes, { maxDecodedBytes: written - 1 })).toThrow(/expands past/);
  });

  it("the serializer's writer refuses what its reader would refuse (a RangeError), and writes what it would read", () => {
    expect(() => pickle.dumps(session, { maxDecodedBytes: written - 1 })).toThrow(RangeError);
    expect(pickle.dumps(session, { maxDecodedBytes: written })).toEqual(bytes);
  });
});

describe('sessions with long lists: nothing recurses or spreads per item', () => {
  // Python: pickle.dumps({'big': list(range(150000))}, 4): 619,076 bytes with this SHA-256.
  const PYTHON_RANGE_SHA256 = 'a812a2680c95685bc7f20369d78dadfa931b777c1c1a800fe088f85cdf73dc80';
  const range = Array.from({ length: 150_000 }, (_, i) => i);

  it('pickle: list(range(150000)) as Django stores it is read, and written back byte for byte', () => {
    const stored = pickleDumps(new Map([['big', range]]));
    expect(stored.length).toBe(619_076);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(PYTHON_RANGE_SHA256);
    const loaded = pickle.loads(stored);
    expect(JSON.stringify(loaded.get('big'))).toBe(JSON.stringify(range));
    expect(pickle.dumps(loaded).equals(stored)).toBe(true);
  });

  it('pickle: a million-item list of strings in one MARK, and a 150,000-item tuple', () => {
    const strings = dictOfList(op('\x8c\x01x'.repeat(1_000_000)));
    expect((pickle.loads(strings).get('a') as unknown[]).length).toBe(1_000_000);
    const tuple = Buffer.concat([PROTO4, op('}(\x8c\x01t('), op('K\x01'.repeat(150_000)), op('tu.')]);
    expect((pickle.loads(tuple).get('t') as unknown[]).length).toBe(150_000);
  });

  it('json serializer and session_data: the same list is read and written back', () => {
    const session = new Map<string, unknown>([['big', range]]);
    expect(JSON.stringify(json.loads(json.dumps(session)).get('big'))).toBe(JSON.stringify(range));
    const codec = new SessionCodec({ secretKey: 'k' });
    const decoded = codec.decode(codec.encodeEntries(session));
    expect(decoded.status).toBe('ok');
    expect(JSON.stringify(decoded.data.big)).toBe(JSON.stringify(range));
  });
});
