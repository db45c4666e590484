/*
 * Property-based tests of the session codec (src/codec/session-codec.ts, src/codec/signing.ts) and
 * of the signed_cookies engine built on it. Generators and the Python json.dumps model are in
 * ./property-support.ts; test/interop/property-corpus.spec.ts runs a generated corpus through the
 * real Django. Every property has a fixed seed and a modest numRuns: deterministic and quick.
 */
import { createHash, createHmac } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import {
  DEFAULT_SESSION_SALT,
  MAX_SESSION_DEPTH,
  SessionCodec,
  type DecodeResult,
} from '../../src/codec/session-codec.js';
import { decodedMap } from '../../src/codec/suspicious-session.js';
import { timestampSign } from '../../src/codec/signing.js';
import { SIGNED_COOKIES_SALT, SignedCookieSessionBackend } from '../../src/backends/signed-cookies/signed-cookies.backend.js';
import {
  anyKey,
  anyString,
  canon,
  codeUnit,
  floatsJsWritesOtherwise,
  jsonValue,
  leaf,
  mutateString,
  mutations,
  nest,
  nestShape,
  notPlainData,
  objectFrom,
  pyJsonDumps,
  runs,
  sessionMap,
} from './property-support.js';

const SECRET = 'property-secret-0123456789';
// Django 3.2's reading (the pre-3.1 format too); strictCodec below reads as 4.0+ does.
const codec = new SessionCodec({ secretKey: SECRET, legacyDecode: true });
const strictCodec = new SessionCodec({ secretKey: SECRET, legacyDecode: false });
const timestamp = fc.integer({ min: 0, max: 2 ** 40 });

// --- An independent Django signing, from django/core/signing.py and django/utils/crypto.py ---

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function b62(n: number): string {
  let s = '';
  do {
    s = B62[n % 62] + s;
    n = Math.floor(n / 62);
  } while (n > 0);
  return s;
}

/** Signer.signature(): b64url_nopad(HMAC-SHA256(key=sha256(salt + 'signer' + secret), value)). */
function djangoSignature(value: string, secret = SECRET, salt = DEFAULT_SESSION_SALT): string {
  const key = createHash('sha256').update(salt + 'signer' + secret).digest();
  return createHmac('sha256', key).update(value).digest('base64url');
}

/** Pre-3.1 `_legacy_encode`: base64(hex(HMAC-SHA1(key=sha1('django.contrib.sessionsSessionStore' + secret), json)) + ':' + json). */
function legacyEncode(json: string, secret = SECRET): string {
  const key = createHash('sha1').update('django.contrib.sessionsSessionStore' + secret).digest();
  const hash = createHmac('sha1', key).update(json, 'latin1').digest('hex');
  return Buffer.from(hash + ':' + json, 'latin1').toString('base64');
}

interface Unpacked {
  compressed: boolean;
  /** The bytes that were (maybe) compressed: the JSON, as latin-1. */
  json: string;
  /** The payload bytes as stored (compressed or not). */
  stored: Buffer;
  timestamp: string;
  signature: string;
  signedValue: string;
}

function unpack(sessionData: string): Unpacked {
  const parts = sessionData.split(':');
  expect(parts).toHaveLength(3);
  const [payload, ts, signature] = parts as [string, string, string];
  const compressed = payload.startsWith('.');
  const stored = Buffer.from(compressed ? payload.slice(1) : payload, 'base64url');
  const json = (compressed ? inflateSync(stored) : stored).toString('latin1');
  return { compressed, json, stored, timestamp: ts, signature, signedValue: `${payload}:${ts}` };
}

/** The \uXXXX escapes of JSON text (skipping escaped backslashes), as written. */
function unicodeEscapes(json: string): string[] {
  return [...json.matchAll(/\\(u[0-9A-Fa-f]{4}|.)/g)].map((m) => m[1]!).filter((e) => e.length === 5);
}

function expectEmpty(result: DecodeResult, status: DecodeResult['status']): void {
  expect(result.status).toBe(status);
  expect(result.stale).toBe(false);
  expect(Object.getPrototypeOf(result.data)).toBe(Object.prototype);
  expect(Reflect.ownKeys(result.data)).toEqual([]);
  expect(result.keys).toBeUndefined();
}

describe('SessionCodec: encodeEntries() then decode() is the identity', () => {
  it('for any session dict: values, types and key order at every level', () => {
    fc.assert(
      fc.property(sessionMap, timestamp, (map, ts) => {
        const sessionData = codec.encodeEntries(map, ts);
        const first = codec.decode(sessionData);
        expect(first).toMatchObject({ status: 'ok', stale: false, format: 'signed' });
        expect(canon(decodedMap(first))).toEqual(canon(map));
        expect(notPlainData(first.data).problem).toBeUndefined();
        // A fresh object every time.
        expect(codec.decode(sessionData).data).not.toBe(first.data);
        // Same for the codec that does not read legacy data.
        expect(canon(decodedMap(strictCodec.decode(sessionData)))).toEqual(canon(map));
      }),
      runs(300, 0x5e55),
    );
  });

  it('encode() of a plain object equals encodeEntries() of its entries', () => {
    fc.assert(
      fc.property(sessionMap, fc.boolean(), timestamp, (map, bare, ts) => {
        const obj = objectFrom([...map], bare);
        const viaObject = codec.encode(obj, ts);
        expect(viaObject).toBe(codec.encodeEntries(new Map(Object.keys(obj).map((k) => [k, obj[k]])), ts));
        expect(canon(codec.decode(viaObject).data)).toEqual(canon(obj));
      }),
      runs(100, 0x0b1),
    );
  });

  it('right up to MAX_SESSION_DEPTH levels (the session dict being level 1), and no further', () => {
    expect(MAX_SESSION_DEPTH).toBe(500);
    const deep = fc.oneof(nestShape(1, MAX_SESSION_DEPTH - 1), nestShape(MAX_SESSION_DEPTH - 10, MAX_SESSION_DEPTH - 1));
    fc.assert(
      fc.property(anyKey, deep, leaf, (key, shape, inner) => {
        const map = new Map([[key, nest(shape, inner)]]);
        const result = codec.decode(codec.encodeEntries(map, 1_700_000_000));
        expect(result.status).toBe('ok');
        expect(canon(decodedMap(result))).toEqual(canon(map));
      }),
      runs(25, 0xdee9),
    );
    fc.assert(
      fc.property(anyKey, nestShape(MAX_SESSION_DEPTH, MAX_SESSION_DEPTH + 20), leaf, (key, shape, inner) => {
        expect(() => codec.encodeEntries(new Map([[key, nest(shape, inner)]]))).toThrow(TypeError);
      }),
      runs(15, 0xdee0),
    );
  });

  it("round-trips Python's numbers JSON lacks (NaN, ±Infinity, ints past the double range), wherever they are", () => {
    const pythonOnly = fc.constantFrom<unknown>(NaN, Infinity, -Infinity, 10n ** 400n, -(2n ** 1100n));
    fc.assert(
      fc.property(sessionMap, anyKey, nestShape(0, 5), pythonOnly, (map, key, shape, value) => {
        const session = new Map(map).set(key, nest(shape, value));
        expect(canon(decodedMap(codec.decode(codec.encodeEntries(session))))).toEqual(canon(session));
      }),
      runs(100, 0x9e8),
    );
  });

  it('refuses (TypeError) any value that is not JSON, wherever it is', () => {
    const notJson = fc.constantFrom<unknown>(undefined, () => 1, Symbol('s'), 1n, new Date(0), new Map(), Buffer.from('x'), new (class Foo {})());
    fc.assert(
      fc.property(sessionMap, anyKey, nestShape(0, 5), notJson, (map, key, shape, bad) => {
        const poisoned = new Map(map).set(key, nest(shape, bad));
        expect(() => codec.encodeEntries(poisoned)).toThrow(TypeError);
      }),
      runs(100, 0xbad),
    );
  });
});

describe('SessionCodec: what encodeEntries() writes is what Django writes', () => {
  it("JSON as Python's json.dumps(separators=(',', ':')) writes it, zlib exactly when Django would, signed as Django signs", () => {
    let compressedSeen = 0;
    let pythonOnlyFloatsSeen = 0;
    fc.assert(
      fc.property(sessionMap, timestamp, (map, ts) => {
        const sessionData = codec.encodeEntries(map, ts);
        const u = unpack(sessionData);
        // ASCII only, lowercase escapes.
        expect(u.json).toMatch(/^[\x20-\x7e]*$/);
        for (const e of unicodeEscapes(u.json)) expect(e).toBe(e.toLowerCase());
        // Byte for byte what Python writes: key order as given, escaping, separators, numbers
        // (floats in Python's repr form, "1e-05" where JS would write "0.00001").
        expect(u.json).toBe(pyJsonDumps(map, [',', ':'], 'session'));
        if (floatsJsWritesOtherwise(map).length > 0) pythonOnlyFloatsSeen++;
        // zlib.compress(data) (level 6) kept only when len(compressed) < len(data) - 1.
        const deflated = deflateSync(Buffer.from(u.json, 'latin1'), { level: 6 });
        expect(u.compressed).toBe(deflated.length < u.json.length - 1);
        if (u.compressed) {
          compressedSeen++;
          expect(u.stored.equals(deflated)).toBe(true);
        }
        // TimestampSigner: b62(int seconds), then the HMAC-SHA256 signature of everything before it.
        expect(u.timestamp).toBe(b62(ts));
        expect(u.signature).toBe(djangoSignature(u.signedValue));
      }),
      runs(300, 0xf0e),
    );
    // The generators reach both branches.
    expect(compressedSeen).toBeGreaterThan(10);
    expect(pythonOnlyFloatsSeen).toBeGreaterThan(0);
  });
});

describe('SessionCodec.decode(): robust, and never returns data it did not sign', () => {
  const b64Alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const sessionAlphabet = b64Alphabet + ':.=+/ ';
  // Shaped like session_data: [.]base64url:base62:base64url, with any lengths.
  const lookalike = fc
    .tuple(
      fc.constantFrom('', '.'),
      fc.string({ unit: fc.constantFrom(...b64Alphabet), maxLength: 120 }),
      fc.string({ unit: fc.constantFrom(...b64Alphabet.slice(0, 62), '-'), maxLength: 8 }),
      fc.string({ unit: fc.constantFrom(...b64Alphabet), minLength: 26, maxLength: 44 }),
    )
    .map(([dot, payload, ts, sig]) => `${dot}${payload}:${ts}:${sig}`);
  const anyInput = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({ unit: codeUnit, maxLength: 200 }),
    fc.string({ unit: fc.constantFrom(...sessionAlphabet), maxLength: 200 }),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
    lookalike,
    // Standard base64 of anything with a ':' in it: what the pre-3.1 (legacy) reader looks at.
    fc.tuple(fc.string({ maxLength: 40 }), fc.string({ maxLength: 60 })).map(([h, j]) => Buffer.from(`${h}:${j}`).toString('base64')),
  );

  it("of any string or latin-1 bytes: {} with 'bad-signature' (so no internal error was swallowed)", () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        expectEmpty(codec.decode(input), 'bad-signature');
        expectEmpty(strictCodec.decode(input), 'bad-signature');
      }),
      runs(1000, 0xa11),
    );
  });

  it("of any mutation (flip, insert, delete 1-3 characters) of valid session_data: {} with 'bad-signature'", () => {
    const alphabet = sessionAlphabet + 'é\u0000\ud800😀';
    fc.assert(
      fc.property(sessionMap, timestamp, mutations, (map, ts, edits) => {
        const sessionData = codec.encodeEntries(map, ts);
        const mutated = mutateString(sessionData, edits, alphabet);
        fc.pre(mutated !== sessionData); // an insert undone by a delete
        expectEmpty(codec.decode(mutated), 'bad-signature');
        expectEmpty(strictCodec.decode(mutated), 'bad-signature');
      }),
      runs(500, 0x3117),
    );
  });

  it('of data signed with another key or salt: nothing; with a fallback key: the data, marked stale', () => {
    const other = fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.constant(SECRET + ' '), fc.constant(SECRET.slice(1)));
    fc.assert(
      fc.property(sessionMap, other, fc.string({ minLength: 1, maxLength: 40 }), (map, otherKey, otherSalt) => {
        fc.pre(otherKey !== SECRET && otherSalt !== DEFAULT_SESSION_SALT);
        const foreignKey = new SessionCodec({ secretKey: otherKey }).encodeEntries(map);
        const foreignSalt = new SessionCodec({ secretKey: SECRET, salt: otherSalt }).encodeEntries(map);
        expectEmpty(codec.decode(foreignKey), 'bad-signature');
        expectEmpty(codec.decode(foreignSalt), 'bad-signature');
        const rotated = new SessionCodec({ secretKey: otherKey, secretKeyFallbacks: [SECRET] });
        const result = rotated.decode(codec.encodeEntries(map));
        expect(result).toMatchObject({ status: 'ok', stale: true });
        expect(canon(decodedMap(result))).toEqual(canon(map));
      }),
      runs(100, 0x4e7),
    );
  });

  it('of any validly signed payload: never throws; the data exactly when the payload is a JSON object', () => {
    const payloadBytes = fc.oneof(
      fc.json({ maxDepth: 4 }).map((j) => Buffer.from(j, 'utf8')),
      jsonValue.map((v) => Buffer.from(JSON.stringify(v), 'utf8')),
      fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '\\', 'a', '1', ' ', 'n', 'u', 'l'), maxLength: 60 }).map((s) => Buffer.from(s)),
      fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)),
    );
    const payload = fc.oneof(
      fc.tuple(payloadBytes, fc.boolean()).map(([bytes, z]) => ({ bytes, text: z ? '.' + deflateSync(bytes).toString('base64url') : bytes.toString('base64url') })),
      // Not base64url, or not zlib, or not base62: verified, but undecodable.
      fc.string({ unit: fc.constantFrom(...sessionAlphabet, 'é'), maxLength: 80 }).map((text) => ({ bytes: undefined, text })),
    );
    fc.assert(
      fc.property(payload, fc.oneof(timestamp.map(b62), fc.string({ maxLength: 4 })), ({ bytes, text }, ts) => {
        const signed = `${text}:${ts}`;
        const result = codec.decode(`${signed}:${djangoSignature(signed)}`);
        expect(['ok', 'malformed', 'too-large']).toContain(result.status);
        if (result.status !== 'ok') {
          expectEmpty(result, result.status);
          return;
        }
        expect(notPlainData(result.data).problem).toBeUndefined();
        // Django: bytes.decode('latin-1') then json.loads.
        if (bytes !== undefined) expect(canon(result.data)).toEqual(canon(JSON.parse(bytes.toString('latin1'))));
      }),
      runs(500, 0x516),
    );
  });

  it("of a validly signed JSON nested deeper than MAX_SESSION_DEPTH: {} with 'malformed'", () => {
    fc.assert(
      fc.property(nestShape(MAX_SESSION_DEPTH, MAX_SESSION_DEPTH + 100), fc.boolean(), (shape, z) => {
        const json = JSON.stringify({ k: nest(shape, 1) });
        const bytes = Buffer.from(json);
        const text = z ? '.' + deflateSync(bytes).toString('base64url') : bytes.toString('base64url');
        expectEmpty(codec.decode(timestampSign(text, { key: SECRET, salt: DEFAULT_SESSION_SALT })), 'malformed');
      }),
      runs(20, 0xd33),
    );
  });

  it('reads the pre-3.1 format (stale, legacy) and nothing that is not exactly it', () => {
    fc.assert(
      fc.property(sessionMap, mutations, (map, edits) => {
        const json = pyJsonDumps(map, [',', ':'], 'session');
        const legacy = legacyEncode(json);
        const result = codec.decode(legacy);
        expect(result).toMatchObject({ status: 'ok', stale: true, format: 'legacy' });
        expect(canon(decodedMap(result))).toEqual(canon(map));
        expectEmpty(strictCodec.decode(legacy), 'bad-signature');
        const mutated = mutateString(legacy, edits, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=');
        // Base64 has slack (the low bits of the last character before '='), so compare what it decodes to.
        fc.pre(!Buffer.from(mutated, 'base64').equals(Buffer.from(legacy, 'base64')));
        expectEmpty(codec.decode(mutated), 'bad-signature');
      }),
      runs(200, 0x1e9),
    );
  });
});

describe('signed_cookies engine', () => {
  const backend = SignedCookieSessionBackend.fromContext({
    options: { secretKey: SECRET, secretKeyFallbacks: [], cookieName: 'sessionid', cookieAge: 1209600, maxDecodedBytes: 1 << 22 },
  } as never);
  const expiry = { date: new Date(Date.now() + 1e6), age: 1000 };

  it('load(save(map)) is the identity whenever the cookie fits in 4096 bytes', async () => {
    await fc.assert(
      fc.asyncProperty(sessionMap, async (map) => {
        let value: string;
        try {
          value = await backend.save('', map, expiry);
        } catch (e) {
          expect((e as Error).name).toBe('SessionCookieTooLarge');
          return;
        }
        expect(backend.isValidKey(value)).toBe(true);
        const loaded = await backend.load(value);
        expect(loaded).not.toBeNull();
        expect(canon(loaded)).toEqual(canon(map));
        // signing.dumps(..., salt='django.contrib.sessions.backends.signed_cookies'), as Django signs it.
        const u = unpack(value);
        expect(u.signature).toBe(djangoSignature(u.signedValue, SECRET, SIGNED_COOKIES_SALT));
        // Not a session_data: another salt.
        expectEmpty(codec.decode(value), 'bad-signature');
      }),
      runs(200, 0xc00c),
    );
  });

  it('isValidKey() and load() of anything: a boolean, and null unless signed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyString, fc.string({ unit: fc.constantFrom(...'Aa0_-:.'), maxLength: 5000 }), fc.anything()), async (input) => {
        expect(typeof backend.isValidKey(input)).toBe('boolean');
        if (typeof input === 'string') expect(await backend.load(input)).toBeNull();
      }),
      runs(300, 0x10ad),
    );
  });
});
