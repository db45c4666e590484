/*
 * Python's numbers that JSON lacks, and JSON that outgrows the limit once written again: what Django
 * can store is read and saved back as Python wrote it, and nothing is read that no save could write.
 *
 * Expected bytes are Python 3.11's, made by the one-liners quoted above each constant
 * (/usr/bin/python3 -c '...').
 */
import { createHash } from 'node:crypto';
import { CACHE_SERIALIZERS } from '../../src/codec/cache-serializers.js';
import { PickleError, pickleDumps } from '../../src/codec/pickle.js';
import { DEFAULT_SESSION_SALT, SessionCodec } from '../../src/codec/session-codec.js';
import * as signing from '../../src/codec/signing.js';

const { decodeObjectPayload, encodeObjectPayload, pythonJsonDumps, timestampSign, timestampUnsign } = signing;

const { pickle, json } = CACHE_SERIALIZERS;
const KEY = 'django-insecure-codec-limits';
const BIG = 10n ** 400n;

/** The session every case stores: Python's {'inf': inf, 'ninf': -inf, 'nan': nan, 'big': 10**400, 'nbig': -10**400}. */
function expectPythonNumbers(session: Map<string, unknown>): void {
  expect([...session.keys()]).toEqual(['inf', 'ninf', 'nan', 'big', 'nbig']);
  expect(session.get('inf')).toBe(Infinity);
  expect(session.get('ninf')).toBe(-Infinity);
  expect(session.get('nan')).toBeNaN();
  expect(session.get('big')).toBe(BIG);
  expect(session.get('nbig')).toBe(-BIG);
}

const entries = (data: Record<string, unknown>): Map<string, unknown> => new Map(Object.entries(data));

// import pickle, sys; sys.stdout.write(pickle.dumps({'inf': float('inf'), 'ninf': float('-inf'),
//   'nan': float('nan'), 'big': 10**400, 'nbig': -10**400}, protocol=4).hex())
const PYTHON_PICKLE = Buffer.from(
  '80049592010000000000007d94288c03696e6694477ff00000000000008c046e696e669447fff00000000000008c036e616e94477ff80000000000008c03626967948aa7' +
    '0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000c1a92f7e3724b8f0e932dbeb3346a2d38aa4' +
    '9341aa96498ee059d0e171a25cc7e0e113487cb4cd76e7a0ba5959ce3642fe27a4c58dbf3486afe0fd6ccfecb2a04699ce5398628ed16a0e5c0e1250bfb7d0e53080b3ad' +
    'af50c18b0b19f58f25de8245e5b68dc377c1fb26cf1ccbf33f97917fecb4018c046e626967948aa7000000000000000000000000000000000000000000000000000000' +
    '00000000000000000000000000000000000000000000003f56d081c8db470f16cd2414ccb95d2c755b6cbe5569b6711fa62f1e8e5da3381f1eecb7834b3289185f45a6a6' +
    '31c9bd01d85b3a7240cb79501f029330134d5fb96631ac679d712e95f1a3f1edaf40482f1acf7f4c5250af3e74f4e60a70da217dba1a49723c883e04d930e3340cc06' +
    '86e80134bfe752e',
  'hex',
);

// import json, sys; sys.stdout.write(json.dumps({'inf': float('inf'), 'ninf': float('-inf'),
//   'nan': float('nan'), 'big': 10**400, 'nbig': -10**400}))       (django-redis's JSONSerializer)
const PYTHON_JSON = `{"inf": Infinity, "ninf": -Infinity, "nan": NaN, "big": 1${'0'.repeat(400)}, "nbig": -1${'0'.repeat(400)}}`;

// The same with separators=(',', ':'): Django's session JSONSerializer (session_data).
const PYTHON_COMPACT_JSON = `{"inf":Infinity,"ninf":-Infinity,"nan":NaN,"big":1${'0'.repeat(400)},"nbig":-1${'0'.repeat(400)}}`;

describe("Python's NaN, ±Infinity and ints past the double range round-trip", () => {
  it('pickle serializer: read as NaN, ±Infinity and bigints, written back byte for byte', () => {
    const session = pickle.loads(PYTHON_PICKLE);
    expectPythonNumbers(session);
    expect(pickle.dumps(session).toString('hex')).toBe(PYTHON_PICKLE.toString('hex'));
  });

  it('pickle serializer: the text opcodes of protocol 0 too', () => {
    // pickle.dumps({'x': [float('inf'), 2**1100]}, 0)
    const p0 = Buffer.from(`(dp0\nVx\np1\n(lp2\nFinf\naL${(2n ** 1100n).toString()}L\nas.`, 'latin1');
    expect(pickle.loads(p0).get('x')).toEqual([Infinity, 2n ** 1100n]);
  });

  it('json serializer: read as Python reads it, written back byte for byte', () => {
    const session = json.loads(Buffer.from(PYTHON_JSON));
    expectPythonNumbers(session);
    expect(json.dumps(session).toString('latin1')).toBe(PYTHON_JSON);
  });

  it("session_data as Django writes it: read ('ok'), and re-encoded to Python's bytes", () => {
    const codec = new SessionCodec({ secretKey: KEY });
    const stored = timestampSign(encodeObjectPayload(Buffer.from(PYTHON_COMPACT_JSON, 'latin1'), true), { key: KEY, salt: DEFAULT_SESSION_SALT });
    const decoded = codec.decode(stored);
    expect(decoded.status).toBe('ok');
    expectPythonNumbers(entries(decoded.data));
    const saved = codec.encodeEntries(entries(decoded.data));
    const { value } = timestampUnsign(saved, { keys: [KEY], salt: DEFAULT_SESSION_SALT });
    expect(decodeObjectPayload(value).toString('latin1')).toBe(PYTHON_COMPACT_JSON);
  });

  it('a value read from one store is written by the others (pickle → session_data → json → pickle)', () => {
    const codec = new SessionCodec({ secretKey: KEY });
    const fromPickle = pickle.loads(PYTHON_PICKLE);
    const viaRow = entries(codec.decode(codec.encodeEntries(fromPickle)).data);
    const viaJson = json.loads(json.dumps(viaRow));
    expect(pickle.dumps(viaJson).equals(PYTHON_PICKLE)).toBe(true);
  });

  it('nested anywhere, and in the signing JSON helpers', () => {
    const value = { a: [Infinity, { b: [-Infinity, NaN] }], c: -(2n ** 1100n) };
    const text = pythonJsonDumps(value);
    expect(text).toBe(`{"a":[Infinity,{"b":[-Infinity,NaN]}],"c":-${(2n ** 1100n).toString()}}`);
    expect(signing.parsePythonJson(text)).toEqual(value);
    // A string that spells one is still a string.
    expect(signing.parsePythonJson('{"s":"NaN","t":"Infinity -Infinity 1e400"}')).toEqual({ s: 'NaN', t: 'Infinity -Infinity 1e400' });
  });

  it("an int of 4,300 digits round-trips; one more digit is refused, as Python's json refuses it", () => {
    // import pickle, hashlib; print(hashlib.sha256(pickle.dumps({'n': 10**4299, 'm': -10**4299}, 4)).hexdigest())
    const n = 10n ** 4299n;
    const bytes = pickleDumps(new Map([['n', n], ['m', -n]]), { pythonNumbers: true });
    expect(bytes.length).toBe(3606);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe('29ea9867ef58401f76a3dc598d401feb184ea97c9341b79d5b5ccb676bf043de');
    expect(pickle.loads(bytes).get('n')).toBe(n);
    expect(json.loads(json.dumps(new Map([['n', n]]))).get('n')).toBe(n);

    const tooLong = (10n ** 4300n).toString();
    // json.loads('1' + '0' * 4300) raises ValueError: Django's session is {} (malformed), silently.
    expect(() => json.loads(Buffer.from(`{"n": ${tooLong}}`))).toThrow(SyntaxError);
    const codec = new SessionCodec({ secretKey: KEY });
    const row = timestampSign(encodeObjectPayload(Buffer.from(`{"n":${tooLong}}`), true), { key: KEY, salt: DEFAULT_SESSION_SALT });
    expect(codec.decode(row).status).toBe('malformed');
    // pickle.loads(b'L' + b'1' * 4301 + b'L\n.') raises ValueError; a binary LONG of as many digits
    // Python reads, but its json could neither write it nor read it back: refused alike.
    expect(() => pickle.loads(Buffer.from(`(dp0\nVn\nL${tooLong}L\ns.`, 'latin1'))).toThrow(PickleError);
    const withLong4 = (x: bigint): Buffer => {
      const digits = x.toString(16);
      const le = Buffer.from(digits.length % 2 === 0 ? digits : `0${digits}`, 'hex').reverse();
      const payload = ((le[le.length - 1] as number) & 0x80) === 0 ? le : Buffer.concat([le, Buffer.of(0)]);
      const header = Buffer.alloc(5);
      header[0] = 0x8b; // LONG4
      header.writeInt32LE(payload.length, 1);
      return Buffer.concat([Buffer.from('\x80\x04}\x8c\x01n', 'latin1'), header, payload, Buffer.from('s.', 'latin1')]);
    };
    expect(pickle.loads(withLong4(n)).get('n')).toBe(n);
    expect(() => pickle.loads(withLong4(10n ** 4300n))).toThrow(/4300 digits/);
    // And the writers refuse to write one.
    expect(() => pickle.dumps(new Map([['n', 10n ** 4300n]]))).toThrow(TypeError);
  });

  it('a bigint a number holds is no Python-only number, and pickleDumps without pythonNumbers refuses Infinity', () => {
    expect(() => pickle.dumps(new Map([['n', 10n]]))).toThrow(TypeError);
    expect(() => json.dumps(new Map([['n', 10n]]))).toThrow(TypeError);
    expect(() => new SessionCodec({ secretKey: KEY }).encodeEntries(new Map([['n', 10n]]))).toThrow(TypeError);
    expect(() => pickleDumps(new Map([['n', Infinity]]))).toThrow(TypeError);
  });
});

describe('JSON that fits maxDecodedBytes but would not once written again', () => {
  // Python writes the float 1e20 as '1e+20'; JS has one number type and writes the int's 21 digits.
  const grows = `{"a":[${Array(150).fill('1e+20').join(',')}]}`;

  it("session_data: 'too-large' (no session), not a session whose every save fails", () => {
    const codec = new SessionCodec({ secretKey: KEY, maxDecodedBytes: 1024 });
    expect(grows.length).toBeLessThan(1024);
    const row = timestampSign(encodeObjectPayload(Buffer.from(grows), true), { key: KEY, salt: DEFAULT_SESSION_SALT });
    const decoded = codec.decode(row);
    expect(decoded.status).toBe('too-large');
    expect(decoded.data).toEqual({});
  });

  it('session_data: just below, read and saved again', () => {
    const fits = `{"a":[${Array(45).fill('1e+20').join(',')}]}`;
    const codec = new SessionCodec({ secretKey: KEY, maxDecodedBytes: 1024 });
    const decoded = codec.decode(timestampSign(encodeObjectPayload(Buffer.from(fits), true), { key: KEY, salt: DEFAULT_SESSION_SALT }));
    expect(decoded.status).toBe('ok');
    expect(() => codec.encodeEntries(entries(decoded.data))).not.toThrow();
  });

  it('json serializer: refused under the limit the engine passes', () => {
    const value = Buffer.from(grows.replaceAll(',', ', ').replace(':', ': '));
    expect(value.length).toBeLessThan(1200);
    expect(() => json.loads(value, { maxDecodedBytes: 1200 })).toThrow(TypeError);
    expect(json.loads(value, { maxDecodedBytes: 4096 }).get('a')).toHaveLength(150);
  });

  it('a value longer than the limit the engine passes is refused before it is parsed', () => {
    const session = new Map([['s', 'x'.repeat(2000)]]);
    expect(() => json.loads(json.dumps(session), { maxDecodedBytes: 1024 })).toThrow(/maxDecodedBytes/);
    expect(() => pickle.loads(pickle.dumps(session), { maxDecodedBytes: 1024 })).toThrow(/maxDecodedBytes/);
  });
});
