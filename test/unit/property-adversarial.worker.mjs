// Runs one adversarial case of test/unit/property-adversarial.spec.ts in a worker thread, against
// the sources that spec transpiled into workerData.dir, and posts back what came out. The cases
// are here, not in the spec, so that building the big inputs is bounded by the same timeout.
import { parentPort, workerData } from 'node:worker_threads';
import { deflateSync } from 'node:zlib';

const { dir, name } = workerData;
const load = (file) => import(new URL(file, dir).href);
const { SessionCodec, DEFAULT_SESSION_SALT } = await load('codec/session-codec.js');
const { timestampSign } = await load('codec/signing.js');
const { pickleLoads, pickleDumps, PickleError } = await load('codec/pickle.js');
const { CACHE_SERIALIZERS } = await load('codec/cache-serializers.js');
const { readSessionCookie } = await load('session.http.js');

const MB = 1 << 20;
const SECRET = 'adversarial-secret';
const codec = new SessionCodec({ secretKey: SECRET });
const signed = (payload) => timestampSign(payload, { key: SECRET, salt: DEFAULT_SESSION_SALT, timestampSeconds: 1700000000 });
const plain = (text) => signed(Buffer.from(text, 'latin1').toString('base64url'));
const zipped = (text) => signed('.' + deflateSync(Buffer.from(text, 'latin1')).toString('base64url'));
const status = (sessionData) => codec.decode(sessionData).status;

const bytes = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
const u32 = (n) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const PROTO = [0x80, 4];

/** 'data' (with what it is), or the error's class name: the spec checks which. */
function outcome(read) {
  try {
    const v = read();
    if (v instanceof Map) return `Map(${v.size})`;
    if (Array.isArray(v)) return `array(${v.length})`;
    if (typeof v === 'object' && v !== null) return 'object';
    return typeof v === 'string' ? `string(${v.length})` : String(v);
  } catch (e) {
    if (e instanceof PickleError) return 'PickleError';
    return e?.constructor?.name ?? String(e);
  }
}

const pickled = (...parts) => outcome(() => pickleLoads(bytes(PROTO, ...parts, '.')));

const cases = {
  // SessionCodec.decode: unsigned input goes through verify, then the pre-3.1 reader.
  'decode: 1 MB of ":"': () => status(':'.repeat(MB)),
  'decode: 1 MB of "."': () => status('.'.repeat(MB)),
  'decode: 1 MB of "A" (valid base64: the legacy reader decodes it)': () => status('A'.repeat(MB)),
  'decode: 1 MB + 1 of "A" (base64 with a bad length)': () => status('A'.repeat(MB + 1)),
  'decode: base64 of 768 KB of ":" (legacy: a hash and a payload made of colons)': () => status(Buffer.from(':'.repeat((3 * MB) / 4)).toString('base64')),
  'decode: 1 MB of "é"': () => status('é'.repeat(MB)),
  'decode: a 1 MB payload with a wrong signature': () => status('A'.repeat(MB) + ':1r31eq:' + 'A'.repeat(43)),
  // Validly signed: what the depth scan and JSON.parse see.
  'decode: signed, 1 MB of "["': () => status(plain('['.repeat(MB))),
  'decode: signed and compressed, 1 MB of "["': () => status(zipped('['.repeat(MB))),
  'decode: signed, 1 MB of "{"a":" (unterminated)': () => status(plain('{"a":'.repeat(MB / 5))),
  'decode: signed, a 1 MB string of backslash pairs': () => status(plain('{"a":"' + '\\\\'.repeat(MB / 2) + '"}')),
  'decode: signed, a 1 MB string of escaped quotes': () => status(plain('{"a":"' + '\\"'.repeat(MB / 2) + '"}')),
  'decode: signed, 1 MB of quotes': () => status(plain('"'.repeat(MB))),
  'decode: signed, 100,000 integer-like keys (the key-order scan)': () =>
    status(plain('{' + Array.from({ length: 100_000 }, (_, i) => `"${100_000 - i}":"\\"${i}"`).join(',') + '}')),
  'decode: signed zlib bomb (64 MiB of zeros)': () => status(signed('.' + deflateSync(Buffer.alloc(64 * MB)).toString('base64url'))),
  'decode: signed, 1 MB of ":" as the payload': () => status(signed(':'.repeat(MB))),
  'encode + decode: 100,000 keys and a 256 K string of lone surrogates': () => {
    const map = new Map(Array.from({ length: 100_000 }, (_, i) => [String(i), i]));
    map.set('s', '\ud800'.repeat(MB / 4));
    return status(codec.encodeEntries(map));
  },

  // pickleLoads: one pass over the input whatever it holds.
  'pickle: 1 MB of MARK': () => pickled('('.repeat(MB)),
  'pickle: 512 K nested EMPTY_LIST + APPEND': () => pickled(']'.repeat(MB / 2), 'a'.repeat(MB / 2 - 1)),
  'pickle: 256 K nested dicts': () => pickled('}\x8c\x01k'.repeat(MB / 4), 's'.repeat(MB / 4 - 1)),
  'pickle: a 1 M-item list (APPENDS)': () => pickled('](', 'N'.repeat(MB), 'e'),
  'pickle: a 1 M-item tuple (TUPLE)': () => pickled('(', 'N'.repeat(MB), 't'),
  'pickle: 256 K SETITEMS pairs': () => pickled('}(', '\x8c\x01aN'.repeat(MB / 4), 'u'),
  'pickle: 256 K MEMOIZE': () => pickled('N', '\x94'.repeat(MB / 4)),
  'pickle: 400 levels of [x, x] sharing one memo entry (2^400 leaves once expanded)': () => {
    const parts = [']\x94'];
    // Level i+1 = [level i, level i] from the memo; POP drops level i from the stack.
    for (let i = 0; i < 400; i++) parts.push([0x30, 0x28, 0x6a, ...u32(i), 0x6a, ...u32(i), 0x6c, 0x94]);
    return pickled(...parts);
  },
  'pickle: INT with 1 MB of digits': () => pickled('I' + '1'.repeat(MB) + '\n'),
  'pickle: LONG with 1 MB of digits': () => pickled('L' + '1'.repeat(MB) + 'L\n'),
  'pickle: GET with 1 MB of digits': () => pickled('N\x94g' + '9'.repeat(MB) + '\n'),
  'pickle: FLOAT with 1 MB of digits': () => pickled('F' + '1'.repeat(MB) + '\n'),
  'pickle: FLOAT with 1 MB of digits, then junk': () => pickled('F' + '1'.repeat(MB) + 'x\n'),
  'pickle: FLOAT with 1 MB of digits after a point, then junk': () => pickled('F1.' + '1'.repeat(MB) + 'x\n'),
  'pickle: FLOAT with a 1 MB exponent, then junk': () => pickled('F1e' + '1'.repeat(MB) + 'x\n'),
  'pickle: UNICODE with 1 MB of \\u escapes': () => pickled('V' + '\\u00e9'.repeat(MB / 6) + '\n'),
  'pickle: UNICODE with 1 MB of backslashes': () => pickled('V' + '\\'.repeat(MB) + '\n'),
  'pickle: UNICODE without its newline': () => pickled('V' + 'a'.repeat(MB)),
  'pickle: BINUNICODE of 1 MB of lone surrogates (surrogatepass)': () => pickled([0x58, ...u32(3 * MB)], Buffer.from('\xed\xa0\x80'.repeat(MB), 'latin1')),
  'pickle: BINUNICODE of 1 MB, invalid UTF-8 at the end': () => pickled([0x58, ...u32(MB)], 'a'.repeat(MB - 1) + '\xff'),
  'pickle: LONG4 announcing 2 GB': () => pickled([0x8b, ...u32(0x7fffffff)]),
  'pickle: FRAME announcing 2^64 - 1 bytes': () => pickled([0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  'pickle: pickleDumps of a 256 K string of lone surrogates and 100,000 keys': () =>
    outcome(() => pickleLoads(pickleDumps(new Map([...Array.from({ length: 100_000 }, (_, i) => [String(i), i]), ['s', '\udc00'.repeat(MB / 4)]])))),

  // The JSON cache serializer.
  'cache json: 1 MB of "["': () => outcome(() => CACHE_SERIALIZERS.json.loads(Buffer.from('['.repeat(MB)))),
  'cache json: an unterminated 1 MB string': () => outcome(() => CACHE_SERIALIZERS.json.loads(Buffer.from('{"a": "' + 'a'.repeat(MB)))),
  'cache json: 100,000 integer-like keys (the key-order scan)': () =>
    outcome(() => CACHE_SERIALIZERS.json.loads(Buffer.from('{' + Array.from({ length: 100_000 }, (_, i) => `"${100_000 - i}": "\\\\\\"${i}"`).join(', ') + '}'))),
  'cache pickle: 256 K nested lists': () => outcome(() => CACHE_SERIALIZERS.pickle.loads(bytes(PROTO, '}\x8c\x01k', ']'.repeat(MB / 4), 'a'.repeat(MB / 4 - 1), 's.'))),

  // readSessionCookie.
  'cookie: 100,000 cookies, the session one last': () =>
    readSessionCookie({ headers: { cookie: Array.from({ length: 100_000 }, (_, i) => `c${i}=v${i}`).join('; ') + '; sessionid=abc' } }, 'sessionid'),
  'cookie: 100,000 session cookies': () =>
    readSessionCookie({ headers: { cookie: Array.from({ length: 100_000 }, (_, i) => `sessionid=${i}`).join(';') } }, 'sessionid'),
  'cookie: 1 MB of ";"': () => String(readSessionCookie({ headers: { cookie: ';'.repeat(MB) } }, 'sessionid')),
  'cookie: 1 MB of "="': () => String(readSessionCookie({ headers: { cookie: '='.repeat(MB) } }, 'sessionid')),
  'cookie: "sessionid" 100,000 times, no "="': () => String(readSessionCookie({ headers: { cookie: 'sessionid'.repeat(100_000) } }, 'sessionid')),
  'cookie: 1 MB of spaces around the value': () => readSessionCookie({ headers: { cookie: 'sessionid=' + ' '.repeat(MB) + '"x"' + ' '.repeat(MB) } }, 'sessionid'),
};

if (name === undefined) parentPort.postMessage(Object.keys(cases));
else parentPort.postMessage(cases[name]());
