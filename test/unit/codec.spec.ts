import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants as zlibConstants, deflateRawSync, deflateSync, inflateSync } from 'node:zlib';
import {
  DEFAULT_MAX_DECODED_BYTES,
  DEFAULT_SESSION_SALT,
  MAX_SESSION_DEPTH,
  SessionCodec,
  assertJsonValue,
  legacySaltFor,
  type DecodeResult,
  type SessionDict,
} from '../../src/codec/session-codec.js';
import { b62Decode, b64UrlDecode, b64UrlEncode, saltedHmac, sign, timestampSign } from '../../src/codec/signing.js';
import { describeWith } from '../support/env.js';

interface Vector {
  id: string;
  description: string;
  format: string;
  secret: string;
  decode_secret?: string;
  /** A JSON list in vectors.json; a python-repr string in older dumps. */
  decode_fallbacks?: string[] | string;
  salt?: string;
  byte_exact?: boolean | string;
  compressed?: boolean | string;
  js_caveat?: string;
  logged?: boolean | string;
  django_3_2: string;
  django_4_plus: string;
  dict: unknown;
  decoded_by_django?: unknown;
  session_data: string;
  serialized_json?: string;
  timestamp?: number;
  timestamp_b62?: string;
  signature?: string;
}

/** A session exactly MAX_SESSION_DEPTH deep, written and read back by Django 3.2 (make-vectors.py). */
interface DepthVector {
  id: string;
  depth: number;
  shape: 'list' | 'dict';
  secret: string;
  django_3_2: string;
  session_data: string;
  serialized_json: string;
  compressed: boolean;
  timestamp: number;
}

const VECTORS_URL = new URL('../fixtures/django/vectors.json', import.meta.url);
const vectorsFile = JSON.parse(readFileSync(VECTORS_URL, 'utf8')) as {
  copied_verbatim: { entries: string[]; source: string };
  vectors: Vector[];
  depth_vectors: DepthVector[];
};
const { vectors } = vectorsFile;

const byId = (id: string): Vector => {
  const v = vectors.find((x) => x.id === id);
  if (!v) throw new Error(`no vector ${id}`);
  return v;
};

const flag = (x: unknown): boolean => x === true || x === 'True' || x === 'true';

function fallbacksOf(v: Vector): string[] {
  if (v.decode_fallbacks === undefined) return [];
  if (Array.isArray(v.decode_fallbacks)) return v.decode_fallbacks;
  return JSON.parse(v.decode_fallbacks.replace(/'/g, '"')) as string[];
}

function codecFor(v: Vector, legacyDecode: boolean): SessionCodec {
  // Django decodes with the store's own salt (the default), whatever salt the data was made with.
  return new SessionCodec({ secretKey: v.decode_secret ?? v.secret, secretKeyFallbacks: fallbacksOf(v), legacyDecode });
}

/** What Django's SessionBase.decode returned, translated into our result. */
function expectedFor(v: Vector, legacyDecode: boolean): DecodeResult {
  const d3 = v.django_3_2;
  const d4 = v.django_4_plus;
  // serialized_json holds the payload bytes already read as latin-1, exactly as Django reads them.
  const parsed = (): SessionDict => JSON.parse(v.serialized_json as string) as SessionDict;
  if (d4 === 'other' && d3 === 'other') {
    return { data: v.decoded_by_django as SessionDict, status: 'ok', stale: false, format: 'signed' };
  }
  if (d4 === 'dict') {
    // Verified by a key other than the current one: a SECRET_KEY_FALLBACKS entry.
    const stale = v.decode_secret !== undefined && v.decode_secret !== v.secret;
    return { data: parsed(), status: 'ok', stale, format: 'signed' };
  }
  if (d4 === 'empty' && d3 === 'dict') {
    // Only Django 3.2 reads it (sha1-signed or pre-3.1 legacy); 4.0+ logs "Session data corrupted".
    if (!legacyDecode) return { data: {}, status: 'bad-signature', stale: false };
    return { data: parsed(), status: 'ok', stale: true, format: v.format === 'legacy' ? 'legacy' : 'signed' };
  }
  if (d4 === 'empty' && d3 === 'raises') {
    // Valid signature, undecodable payload: 4.0+ returns {} silently (3.2 crashed).
    return { data: {}, status: 'malformed', stale: false, format: 'signed' };
  }
  if (d4 === 'empty' && d3 === 'empty' && flag(v.logged)) {
    return { data: {}, status: 'bad-signature', stale: false };
  }
  throw new Error(`vector ${v.id}: no rule for django_3_2=${d3} django_4_plus=${d4}`);
}

/**
 * A dict as `encodeEntries()` takes it (the store keeps sessions as Maps): the top-level members of
 * the JSON `text`, in the order the text lists them, i.e. the Python dict's order. (JSON.parse
 * would list integer-like keys first.)
 */
function mapInTextOrder(text: string): Map<string, unknown> {
  const parsed = JSON.parse(text) as SessionDict;
  const keys: string[] = [];
  let depth = 0;
  let atKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (depth === 1 && atKey) keys.push(JSON.parse(text.slice(i, end + 1)) as string);
      atKey = false;
      i = end;
    } else if (c === '{' || c === '[') {
      depth++;
      atKey = depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      atKey = true;
    }
  }
  if (keys.length !== Object.keys(parsed).length) throw new Error(`mapInTextOrder: found keys ${keys.join()} in ${text}`);
  return new Map(keys.map((k) => [k, parsed[k]]));
}

/** A decoded session as the store holds it: a Map in the JSON's key order. */
const mapOf = ({ data, keys }: DecodeResult): Map<string, unknown> =>
  new Map((keys ?? Object.keys(data)).map((k) => [k, data[k]]));

const KEY = 'django-insecure-vector-secret-0123456789abcdefghijklmnop';

describe('the Django vectors (test/fixtures/django/vectors.json)', () => {
  const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
  const script = fileURLToPath(new URL('../interop/make-vectors.py', import.meta.url));

  it('are read from inside the repository, by every suite that uses them', () => {
    for (const spec of ['codec.spec.ts', 'signing.spec.ts', 'django-dates.spec.ts']) {
      const specUrl = new URL(spec, import.meta.url);
      const read = [...readFileSync(specUrl, 'utf8').matchAll(/new URL\('([^']+)', import\.meta\.url\)/g)].map((m) =>
        fileURLToPath(new URL(m[1] as string, specUrl)),
      );
      expect(read.some((path) => path.endsWith('vectors.json'))).toBe(true);
      for (const path of read) {
        // A user's clone has nothing beside the repository.
        expect(relative(repoRoot, path)).not.toMatch(/^\.\./);
        expect(existsSync(path)).toBe(true);
      }
    }
  });

  it('come with the script that regenerates them from Django', () => {
    expect(existsSync(script)).toBe(true);
    expect(readFileSync(script, 'utf8')).toMatch(/'fixtures', 'django', 'vectors\.json'/);
  });

  it('say which entries were copied from Django 5.2 rather than regenerated', () => {
    const fromDjango5 = vectors.filter((v) => (v as { django_version?: string }).django_version === '5.2.17').map((v) => v.id);
    expect(vectorsFile.copied_verbatim.entries).toEqual(fromDjango5);
    expect(fromDjango5).toEqual(expect.arrayContaining(['fallback_key', 'expiry_set_by_datetime_django5']));
    expect(vectorsFile.copied_verbatim.source).toMatch(/5\.2\.17/);
    const others = vectors.filter((v) => !fromDjango5.includes(v.id));
    for (const v of others) expect((v as { django_version?: string }).django_version).toBe('3.2.25');
  });

  describeWith(['django'], 'are what test/interop/make-vectors.py makes with the real Django', ({ django }) => {
    it('make-vectors.py --check', () => {
      const run = spawnSync(django, [script, '--check'], { encoding: 'utf8', timeout: 60_000 });
      expect(run.stderr).toContain('is up to date');
      expect(run.status).toBe(0);
    });
  });
});

describe('mapInTextOrder (test helper)', () => {
  it('keeps the text order of top-level keys, integer-like ones included, and skips nested keys', () => {
    const map = mapInTextOrder('{"b":1,"10":{"2":3,"z":[{"q":"}\\",\\"x"}]},"a":"{\\"k\\":1}","1":null}');
    expect([...map.keys()]).toEqual(['b', '10', 'a', '1']);
    expect(map.get('10')).toEqual({ 2: 3, z: [{ q: '}","x' }] });
    expect(map.get('a')).toBe('{"k":1}');
    expect(map.get('1')).toBeNull();
    expect(Object.keys(JSON.parse('{"b":1,"10":2}') as object)).toEqual(['10', 'b']);
    expect(mapInTextOrder('{}').size).toBe(0);
  });
});

describe('SessionCodec', () => {
  describe('decode: every Django vector', () => {
    it('has vectors to check', () => {
      expect(vectors.length).toBeGreaterThanOrEqual(45);
    });

    describe.each([
      ['legacyDecode: true (Django 3.2)', true],
      ['legacyDecode: false (Django 4.0+, the default)', false],
    ] as const)('%s', (_name, legacyDecode) => {
      it.each(vectors.map((v) => [v.id, v] as const))('%s', (_id, v) => {
        const codec = codecFor(v, legacyDecode);
        const result = codec.decode(v.session_data);
        expect(result).toStrictEqual(expectedFor(v, legacyDecode));
        if (result.status === 'ok' && v.django_4_plus !== 'other') {
          // Cross-check against the dict as Django printed it.
          expect(result.data).toEqual(v.dict);
        }
      });
    });

    it("legacyDecode defaults to what the default djangoVersion (5.2) does: neither the pre-3.1 format nor SHA-1 signatures", () => {
      const codec = new SessionCodec({ secretKey: KEY });
      expect(codec.decode(byId('legacy_simple').session_data).status).toBe('bad-signature');
      expect(codec.decode(byId('compat_sha1_signed').session_data).status).toBe('bad-signature');
      const legacy = new SessionCodec({ secretKey: KEY, legacyDecode: true });
      expect(legacy.decode(byId('legacy_simple').session_data).status).toBe('ok');
      expect(legacy.decode(byId('compat_sha1_signed').session_data).status).toBe('ok');
    });

    it('reads raw UTF-8 JSON as latin-1, like Django (warn_raw_utf8_json)', () => {
      const result = new SessionCodec({ secretKey: KEY }).decode(byId('warn_raw_utf8_json').session_data);
      expect(result.data).toEqual({ name: 'Zo\u00c3\u00ab' });
    });

    it('rounds 2**60 as JS does (large_int)', () => {
      const result = new SessionCodec({ secretKey: KEY }).decode(byId('large_int').session_data);
      expect(result.data.big).toBe(2 ** 60);
      expect(result.data.ok).toBe(Number.MAX_SAFE_INTEGER);
    });

    it('neg_wrong_salt verifies under the salt it was made with', () => {
      const v = byId('neg_wrong_salt');
      const codec = new SessionCodec({ secretKey: KEY, salt: v.salt });
      expect(codec.decode(v.session_data)).toStrictEqual({
        data: { 'a test key': 'a test value' },
        status: 'ok',
        stale: false,
        format: 'signed',
      });
    });

    it('Django 3.2 and 5.2 wrote identical bytes for the same second', () => {
      expect(byId('simple_live_3').session_data).toBe(byId('simple_live_5').session_data);
      expect(byId('nested_live_3').session_data).toBe(byId('nested_live_5').session_data);
      expect(byId('compress_big_live_3').session_data).toBe(byId('compress_big_live_5').session_data);
    });
  });

  describe('encode: byte-exact against Django', () => {
    const signedWithTs = vectors.filter((v) => v.format === 'signed' && v.timestamp !== undefined);
    const reproducible = signedWithTs.filter(
      (v) => v.django_4_plus === 'dict' && !flag(v.compressed) && v.js_caveat === undefined,
    );

    it('covers every byte_exact, uncompressed vector without a JS caveat', () => {
      const required = vectors.filter((v) => flag(v.byte_exact) && !flag(v.compressed) && v.js_caveat === undefined);
      expect(required.length).toBeGreaterThanOrEqual(10);
      for (const v of required) expect(reproducible).toContain(v);
    });

    it.each(reproducible.map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const codec = new SessionCodec({ secretKey: v.secret });
      expect(codec.encode(JSON.parse(v.serialized_json as string) as SessionDict, v.timestamp)).toBe(v.session_data);
    });

    it.each(reproducible.map((v) => [v.id, v] as const))('%s: encodeEntries (what the store calls)', (_id, v) => {
      const codec = new SessionCodec({ secretKey: v.secret });
      expect(codec.encodeEntries(mapInTextOrder(v.serialized_json as string), v.timestamp)).toBe(v.session_data);
    });

    it.each(signedWithTs.map((v) => [v.id, v] as const))('%s: layout, timestamp and signature', (_id, v) => {
      const [payload, ts, sig] = v.session_data.split(':').slice(-3) as [string, string, string];
      expect(ts).toBe(v.timestamp_b62);
      expect(b62Decode(ts)).toBe(v.timestamp);
      expect(sig).toBe(v.signature);
      const value = v.session_data.slice(0, v.session_data.lastIndexOf(':'));
      const salt = v.salt ?? DEFAULT_SESSION_SALT;
      // Re-sign Django's own value: the signer is byte-exact even where our JSON or zlib is not.
      const algorithm = sig.length === 27 ? 'sha1' : 'sha256';
      const resigned = sign(value, { key: v.secret, salt, algorithm });
      if (v.id.startsWith('neg_tampered_')) {
        // These were altered after signing: the alteration must be real.
        expect(resigned).not.toBe(v.session_data);
      } else {
        expect(resigned).toBe(v.session_data);
      }
      if (payload.startsWith('.') !== flag(v.compressed)) {
        throw new Error(`vector ${v.id}: '.' prefix disagrees with compressed=${String(v.compressed)}`);
      }
      if (v.id !== 'neg_tampered_payload' && v.id !== 'neg_django_testsuite_serializer_exception') {
        const bytes = flag(v.compressed) ? inflateSync(b64UrlDecode(payload.slice(1))) : b64UrlDecode(payload);
        expect(bytes.toString('latin1')).toBe(v.serialized_json);
      }
    });

    it.each(
      signedWithTs
        .filter((v) => v.django_4_plus === 'dict' && flag(v.compressed))
        .map((v) => [v.id, v] as const),
    )('%s (compressed): chooses compression, writes Python-identical JSON, round-trips', (_id, v) => {
      const codec = new SessionCodec({ secretKey: v.secret });
      const data = JSON.parse(v.serialized_json as string) as SessionDict;
      for (const encoded of [
        codec.encode(data, v.timestamp),
        codec.encodeEntries(mapInTextOrder(v.serialized_json as string), v.timestamp),
      ]) {
        expect(encoded.startsWith('.')).toBe(true);
        const [payload, ts] = encoded.split(':') as [string, string];
        expect(ts).toBe(v.timestamp_b62);
        expect(inflateSync(b64UrlDecode(payload.slice(1))).toString('latin1')).toBe(v.serialized_json);
        expect(codec.decode(encoded)).toStrictEqual({ data, status: 'ok', stale: false, format: 'signed' });
      }
    });

    it.each(['large_int', 'float_forms'])('%s: JS re-encodes differently, but the values survive', (id) => {
      const v = byId(id);
      const codec = new SessionCodec({ secretKey: v.secret });
      const decoded = codec.decode(v.session_data);
      const data = decoded.data;
      for (const encoded of [codec.encode(data, v.timestamp), codec.encodeEntries(mapOf(decoded), v.timestamp)]) {
        expect(encoded).not.toBe(v.session_data);
        expect(codec.decode(encoded).data).toEqual(data);
      }
    });

    it('encode({ a: 1 }) with secretKey \'k\' at timestamp 1700000000 gives the exact session_data Django gives', () => {
      const codec = new SessionCodec({ secretKey: 'k' });
      const expected = 'eyJhIjoxfQ:1r31eq:l3BIOCnr7yyAYpte7c_WUHlDz1VMFHFhA8iEt2m8VCc';
      expect(codec.encode({ a: 1 }, 1700000000)).toBe(expected);
      expect(codec.encodeEntries(new Map([['a', 1]]), 1700000000)).toBe(expected);
    });

    it('escapes non-ASCII, astral, DEL and control characters as Python does', () => {
      const codec = new SessionCodec({ secretKey: KEY });
      const v = byId('escapes');
      const encoded = codec.encode({ name: 'Zoë', emoji: '😀', del: '\u007f', ctl: '\u0001\u001f' }, 1700000000);
      const payload = encoded.split(':')[0] as string;
      const json = (payload.startsWith('.') ? inflateSync(b64UrlDecode(payload.slice(1))) : b64UrlDecode(payload)).toString(
        'latin1',
      );
      expect(json).toBe('{"name":"Zo\\u00eb","emoji":"\\ud83d\\ude00","del":"\\u007f","ctl":"\\u0001\\u001f"}');
      expect(v.serialized_json).toContain('"del":"\\u007f"');
      expect(v.serialized_json).toContain('"ctl":"\\u0001\\u001f"');
      expect(byId('unicode').serialized_json).toContain('"emoji":"\\ud83d\\ude00"');
      expect(byId('unicode').serialized_json).toContain('Zo\\u00eb');
    });

    it('uses the current time by default', () => {
      const before = Math.floor(Date.now() / 1000);
      const encoded = new SessionCodec({ secretKey: 'k' }).encode({ a: 1 });
      const after = Math.floor(Date.now() / 1000);
      const ts = b62Decode(encoded.split(':')[1] as string);
      expect(ts).toBeGreaterThanOrEqual(before);
      expect(ts).toBeLessThanOrEqual(after);
    });

    it('refuses a non-finite clock', () => {
      expect(() => new SessionCodec({ secretKey: 'k' }).encode({}, Number.NaN)).toThrow(RangeError);
    });
  });

  describe('compression threshold: len(zlib) < len(json) - 1', () => {
    const codec = new SessionCodec({ secretKey: 'k' });
    const savedBytes = (d: SessionDict): number => {
      const json = Buffer.from(JSON.stringify(d));
      return json.length - deflateSync(json).length;
    };

    it('does not compress when zlib saves exactly one byte (the "." would eat it)', () => {
      const d = { x: 'xyz12xyz12xyz12' };
      expect(savedBytes(d)).toBe(1);
      expect(codec.encode(d, 1).startsWith('.')).toBe(false);
    });

    it('compresses when zlib saves two bytes', () => {
      const d = { x: 'aaaaaaaaaaaa' };
      expect(savedBytes(d)).toBe(2);
      expect(codec.encode(d, 1).startsWith('.')).toBe(true);
      expect(codec.decode(codec.encode(d, 1)).data).toEqual(d);
    });

    it('does not compress when zlib makes it longer', () => {
      const d = { x: 'ab' };
      expect(savedBytes(d)).toBeLessThan(0);
      expect(codec.encode(d, 1).startsWith('.')).toBe(false);
    });
  });

  describe('tampering → bad-signature', () => {
    const codec = new SessionCodec({ secretKey: KEY });
    const good = codec.encode({ 'a test key': 'a test value', n: 1 }, 1700000000);
    const [payload, ts, sig] = good.split(':') as [string, string, string];
    const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const cases: Array<[string, string]> = [
      ['uppercased', good.toUpperCase()],
      ['appended', good + 'a'],
      ['first char changed', flip(good, 0)],
      ['":" removed', good.replaceAll(':', '')],
      ['payload char changed', `${flip(payload, 5)}:${ts}:${sig}`],
      ['timestamp changed', `${payload}:${flip(ts, 0)}:${sig}`],
      ['signature char changed', `${payload}:${ts}:${flip(sig, 10)}`],
      ['signature dropped', `${payload}:${ts}`],
      ['signature empty', `${payload}:${ts}:`],
    ];

    it('starts from a valid value', () => {
      expect(codec.decode(good).status).toBe('ok');
    });

    it.each(cases)('%s', (_what, tampered) => {
      expect(tampered).not.toBe(good);
      expect(codec.decode(tampered)).toStrictEqual({ data: {}, status: 'bad-signature', stale: false });
      expect(new SessionCodec({ secretKey: KEY, legacyDecode: false }).decode(tampered).status).toBe('bad-signature');
    });
  });

  describe('decode never throws', () => {
    // Deterministic PRNG (mulberry32) so a failure is reproducible.
    let seed = 0x2f6b3c1d;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const alphabet = 'ABCxyz0189-_=+/.: é\u00ff😀\u0000\n\'"{}[]';
    const junk = (max: number): string =>
      Array.from({ length: Math.floor(rand() * max) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    const inputs: string[] = [];
    for (let i = 0; i < 400; i++) {
      const prefix = ['', '.', ':', '.:', '::'][i % 5] as string;
      inputs.push(i % 2 === 0 ? prefix + junk(120) : `${prefix}${junk(60)}:${junk(8)}:${junk(50)}`);
    }
    const codecs = [
      new SessionCodec({ secretKey: KEY }),
      new SessionCodec({ secretKey: KEY, secretKeyFallbacks: ['old'], legacyDecode: false }),
    ];

    it('answers bad-signature for random strings (including ":" and "." prefixes)', () => {
      for (const codec of codecs) {
        for (const input of inputs) {
          let result: DecodeResult | undefined;
          expect(() => (result = codec.decode(input))).not.toThrow();
          expect(result).toStrictEqual({ data: {}, status: 'bad-signature', stale: false });
        }
      }
    });

    it('answers malformed or ok (never throws) for random payloads under a valid signature', () => {
      const codec = codecs[0] as SessionCodec;
      for (const input of inputs) {
        const signed = timestampSign(input, { key: KEY, salt: DEFAULT_SESSION_SALT, timestampSeconds: 1700000000 });
        let result: DecodeResult | undefined;
        expect(() => (result = codec.decode(signed))).not.toThrow();
        expect(['malformed', 'ok']).toContain(result?.status);
        expect(Object.getPrototypeOf(result?.data)).toBe(Object.prototype);
      }
    });

    it.each([null, undefined, 42, {}, [], Buffer.from('e30'), Symbol('x'), () => 'e30'])(
      'answers malformed for the non-string %p',
      (input) => {
        const codec = codecs[0] as SessionCodec;
        expect(codec.decode(input as unknown as string)).toStrictEqual({ data: {}, status: 'malformed', stale: false });
      },
    );
  });

  describe('valid signature, undecodable payload → malformed', () => {
    const codec = new SessionCodec({ secretKey: KEY });
    const salt = DEFAULT_SESSION_SALT;
    const signPayload = (payload: string): string => timestampSign(payload, { key: KEY, salt, timestampSeconds: 1700000000 });
    const b64 = (s: string): string => b64UrlEncode(Buffer.from(s, 'latin1'));
    const cases: Array<[string, string]> = [
      ['no timestamp', sign('e30', { key: KEY, salt })],
      ['timestamp not base62', sign('e30:1r3!eq', { key: KEY, salt })],
      ['empty timestamp', sign('e30:', { key: KEY, salt })],
      ['payload not base64url', signPayload('e3+0')],
      ['payload of length 4n+1', signPayload('e30Ae')],
      ['"." payload that is not zlib', signPayload('.' + b64('{"a":1}'))],
      ['truncated zlib', signPayload('.' + b64UrlEncode(deflateSync(Buffer.from('{"a":"' + 'x'.repeat(50) + '"}')).subarray(0, 8)))],
      ['not JSON', signPayload(b64('{"a":'))],
      ['top-level list', signPayload(b64('[1,2]'))],
      ['top-level string', signPayload(b64('"str"'))],
      ['top-level number', signPayload(b64('1'))],
      ['top-level null', signPayload(b64('null'))],
      ['top-level true', signPayload(b64('true'))],
    ];

    it.each(cases)('%s', (_what, input) => {
      expect(codec.decode(input)).toStrictEqual({ data: {}, status: 'malformed', stale: false, format: 'signed' });
    });

    it('verified by a fallback, still malformed and not stale', () => {
      const rotated = new SessionCodec({ secretKey: 'new', secretKeyFallbacks: [KEY] });
      expect(rotated.decode(signPayload(b64('[1]')))).toStrictEqual({
        data: {},
        status: 'malformed',
        stale: false,
        format: 'signed',
      });
    });

    it('accepts padded base64 as Django does', () => {
      expect(codec.decode(signPayload('eyJhIjoxfQ==')).data).toEqual({ a: 1 });
    });

    it('reads bytes above 0x7F as latin-1', () => {
      expect(codec.decode(signPayload(b64('{"a":"\u00e9"}'))).data).toEqual({ a: 'é' });
    });
  });

  describe('__proto__ in the JSON', () => {
    const codec = new SessionCodec({ secretKey: KEY });
    const json = '{"__proto__":{"polluted":true},"a":{"__proto__":{"deep":1}}}';
    const signed = timestampSign(b64UrlEncode(Buffer.from(json)), { key: KEY, salt: DEFAULT_SESSION_SALT, timestampSeconds: 1 });

    it('stays an own data property and does not change any prototype', () => {
      const { data, status } = codec.decode(signed);
      expect(status).toBe('ok');
      expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
      expect(Object.keys(data)).toEqual(['__proto__', 'a']);
      expect(Object.getOwnPropertyDescriptor(data, '__proto__')?.value).toEqual({ polluted: true });
      expect((data as { polluted?: unknown }).polluted).toBeUndefined();
      expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
      const a = data.a as object;
      expect(Object.getPrototypeOf(a)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(a, '__proto__')?.value).toEqual({ deep: 1 });
    });

    it('survives a re-encode', () => {
      const again = codec.decode(codec.encode(codec.decode(signed).data, 1));
      expect(again.status).toBe('ok');
      expect(Object.getOwnPropertyDescriptor(again.data, '__proto__')?.value).toEqual({ polluted: true });
      expect(Object.getPrototypeOf(again.data)).toBe(Object.prototype);
    });
  });

  it('returns a fresh object on every decode', () => {
    const codec = new SessionCodec({ secretKey: KEY });
    const v = byId('simple');
    const first = codec.decode(v.session_data);
    const second = codec.decode(v.session_data);
    expect(first.data).not.toBe(second.data);
    first.data.x = 1;
    expect(second.data.x).toBeUndefined();
    expect(codec.decode('').data).not.toBe(codec.decode('').data);
  });

  describe('secretKeyFallbacks', () => {
    const old = new SessionCodec({ secretKey: 'old' });
    const signedWithOld = old.encode({ user: 1 }, 1795382664);
    const rotated = new SessionCodec({ secretKey: 'new', secretKeyFallbacks: ['older', 'old'] });

    it('decodes data signed with a fallback and marks it stale', () => {
      expect(rotated.decode(signedWithOld)).toStrictEqual({ data: { user: 1 }, status: 'ok', stale: true, format: 'signed' });
    });

    it('re-signs with the current key only', () => {
      const resigned = rotated.encode(rotated.decode(signedWithOld).data, 1795382664);
      expect(resigned).not.toBe(signedWithOld);
      expect(new SessionCodec({ secretKey: 'new' }).decode(resigned)).toStrictEqual({
        data: { user: 1 },
        status: 'ok',
        stale: false,
        format: 'signed',
      });
      expect(old.decode(resigned).status).toBe('bad-signature');
    });

    it('fails without the fallback', () => {
      expect(new SessionCodec({ secretKey: 'new' }).decode(signedWithOld).status).toBe('bad-signature');
    });
  });

  describe('legacy formats', () => {
    // What Django 3.2 reads (legacyDecode: true, djangoVersion '3.2'); 4.0+ reads none of it.
    const legacyEncode = (json: string, secret: string, salt = 'django.contrib.sessionsSessionStore'): string => {
      const hash = saltedHmac(salt, json, secret, 'sha1').toString('hex');
      return Buffer.from(`${hash}:${json}`, 'latin1').toString('base64');
    };

    it('legacyEncode reproduces Django (legacy_simple)', () => {
      expect(legacyEncode('{"a test key":"a test value"}', KEY)).toBe(byId('legacy_simple').session_data);
    });

    it('derives the legacy salt from the configured salt', () => {
      expect(legacySaltFor(DEFAULT_SESSION_SALT)).toBe('django.contrib.sessionsSessionStore');
      expect(legacySaltFor('django.contrib.sessions.MySessionStore')).toBe('django.contrib.sessionsMySessionStore');
      // Django used __name__ (not __qualname__) for the legacy hash.
      expect(legacySaltFor('django.contrib.sessions.Outer.SessionStore')).toBe('django.contrib.sessionsSessionStore');
      expect(legacySaltFor('myapp.Store')).toBe('myappStore');
      expect(legacySaltFor('nodot')).toBe('nodot');
    });

    it('reads legacy data under a custom salt', () => {
      const data = legacyEncode('{"k":"v"}', KEY, 'django.contrib.sessionsMySessionStore');
      const custom = new SessionCodec({ secretKey: KEY, salt: 'django.contrib.sessions.MySessionStore', legacyDecode: true });
      expect(custom.decode(data)).toStrictEqual({ data: { k: 'v' }, status: 'ok', stale: true, format: 'legacy' });
      expect(new SessionCodec({ secretKey: KEY, legacyDecode: true }).decode(data).status).toBe('bad-signature');
    });

    it('tries the fallbacks', () => {
      const data = legacyEncode('{"k":"v"}', 'old');
      const rotated = new SessionCodec({ secretKey: 'new', secretKeyFallbacks: ['old'], legacyDecode: true });
      expect(rotated.decode(data)).toStrictEqual({ data: { k: 'v' }, status: 'ok', stale: true, format: 'legacy' });
    });

    it.each([
      ['not JSON', '{"k":'],
      ['a top-level list', '[1]'],
    ])('valid hash over %s → malformed', (_what, json) => {
      expect(new SessionCodec({ secretKey: KEY, legacyDecode: true }).decode(legacyEncode(json, KEY))).toStrictEqual({
        data: {},
        status: 'malformed',
        stale: false,
        format: 'legacy',
      });
    });

    it('ignores whitespace around legacy base64, as Python b64decode does', () => {
      const v = byId('legacy_simple');
      expect(new SessionCodec({ secretKey: KEY, legacyDecode: true }).decode(`${v.session_data}\n`).status).toBe('ok');
    });

    it.each([
      ['non-ASCII inserted', (s: string) => s.slice(0, 4) + 'é' + s.slice(4)],
      ['padding stripped', (s: string) => s.replace(/=+$/, '')],
      ['hash uppercased', (s: string) => {
        const raw = Buffer.from(s, 'base64').toString('latin1');
        const colon = raw.indexOf(':');
        return Buffer.from(raw.slice(0, colon).toUpperCase() + raw.slice(colon), 'latin1').toString('base64');
      }],
      ['no ":" inside', () => Buffer.from('deadbeef').toString('base64')],
    ])('%s → bad-signature', (_what, mutate) => {
      const original = byId('legacy_simple').session_data;
      const mutated = mutate(original);
      expect(mutated).not.toBe(original);
      expect(new SessionCodec({ secretKey: KEY, legacyDecode: true }).decode(mutated)).toStrictEqual({ data: {}, status: 'bad-signature', stale: false });
    });

    it('sha1-signed modern data is read only with legacyDecode', () => {
      const data = timestampSign('eyJhIjoxfQ', { key: KEY, salt: DEFAULT_SESSION_SALT, algorithm: 'sha1', timestampSeconds: 1 });
      expect(new SessionCodec({ secretKey: KEY, legacyDecode: true }).decode(data)).toStrictEqual({
        data: { a: 1 },
        status: 'ok',
        stale: true,
        format: 'signed',
      });
      expect(new SessionCodec({ secretKey: KEY, legacyDecode: false }).decode(data).status).toBe('bad-signature');
    });

    it('a legacy session re-encodes to the modern format', () => {
      const codec = new SessionCodec({ secretKey: KEY, legacyDecode: true });
      const decoded = codec.decode(byId('legacy_types').session_data);
      expect(codec.encode(decoded.data, 1700000000)).toBe(byId('types').session_data);
      expect(codec.encodeEntries(mapOf(decoded), 1700000000)).toBe(byId('types').session_data);
    });
  });

  describe('constructor', () => {
    it.each([
      ['empty secretKey', { secretKey: '' }],
      ['missing secretKey', {}],
      ['non-string fallback', { secretKey: 'k', secretKeyFallbacks: [1] }],
      ['empty fallback', { secretKey: 'k', secretKeyFallbacks: [''] }],
      ['empty salt', { secretKey: 'k', salt: '' }],
    ])('rejects %s', (_what, options) => {
      expect(() => new SessionCodec(options as never)).toThrow(TypeError);
    });
  });

  describe('encode refuses non-JSON data', () => {
    const codec = new SessionCodec({ secretKey: 'k' });

    it('names the path of the offending value', () => {
      expect(() => codec.encode({ cart: { items: [1, 2, new Date(0)] } })).toThrow(
        'session value at "cart.items[2]" is a Date; only JSON values (string, number, boolean, null, arrays, plain objects) can be stored',
      );
    });

    it.each([
      ['an array', []],
      ['null', null],
      ['a Map', new Map()],
      ['a string', 'x'],
    ])('refuses %s as the session itself', (_what, data) => {
      expect(() => codec.encode(data as never)).toThrow(TypeError);
    });

    it('refuses a cycle through the root', () => {
      const d: SessionDict = { a: 1 };
      d.self = { back: d };
      expect(() => codec.encode(d)).toThrow('session value at "self.back" is a circular reference');
    });

    it('accepts a null-prototype session', () => {
      const d = Object.assign(Object.create(null) as SessionDict, { a: 1 });
      expect(codec.decode(codec.encode(d, 1)).data).toEqual({ a: 1 });
    });
  });
});

describe('assertJsonValue', () => {
  const shared = { x: 1 };

  it.each([
    ['a string', 'x'],
    ['an empty string', ''],
    ['zero', 0],
    ['a negative float', -1.5],
    ['true', true],
    ['false', false],
    ['null', null],
    ['an empty array', []],
    ['an empty object', {}],
    ['nested values', { a: [1, 'two', { three: [null, true] }], b: { c: {} } }],
    ['a null-prototype object', Object.assign(Object.create(null) as object, { a: 1 })],
    ['a shared (non-cyclic) object', { a: shared, b: shared, c: [shared, shared] }],
    ['MAX_VALUE', Number.MAX_VALUE],
  ])('accepts %s', (_what, value) => {
    expect(() => assertJsonValue(value)).not.toThrow();
  });

  class Foo {
    x = 1;
  }
  class MyArray extends Array<number> {}
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const cyclicList: unknown[] = [1];
  cyclicList.push({ up: cyclicList });
  const withSymbolKey = { [Symbol('k')]: 1 };

  it.each([
    ['undefined', { a: undefined }, '"value.a" is undefined'],
    ['a function', { a: () => 1 }, '"value.a" is a function'],
    ['a symbol', { a: Symbol('s') }, '"value.a" is a symbol'],
    ['a bigint', { a: 1n }, '"value.a" is a bigint'],
    ['NaN', { a: Number.NaN }, '"value.a" is NaN'],
    ['Infinity', { a: Infinity }, '"value.a" is Infinity'],
    ['-Infinity', { a: -Infinity }, '"value.a" is -Infinity'],
    ['a Date', { a: new Date() }, '"value.a" is a Date'],
    ['a Map', { a: new Map() }, '"value.a" is a Map'],
    ['a Set', { a: new Set() }, '"value.a" is a Set'],
    ['a RegExp', { a: /x/ }, '"value.a" is a RegExp'],
    ['a Buffer', { a: Buffer.from('x') }, '"value.a" is a Buffer'],
    ['a typed array', { a: new Uint8Array(2) }, '"value.a" is a Uint8Array'],
    ['a class instance', { a: new Foo() }, '"value.a" is a Foo'],
    ['an Array subclass', { a: MyArray.from([1]) }, '"value.a" is a MyArray'],
    ['a boxed string', { a: new String('x') }, '"value.a" is a String'],
    ['an object inheriting from a plain object', { a: Object.create({ inherited: 1 }) as object }, '"value.a" is an Object'],
    ['an array hole', { a: [1, , 3] }, '"value.a[1]" is undefined'],
    ['a cycle', cyclic, '"value.self" is a circular reference'],
    ['a cycle through an array', cyclicList, '"value[1].up" is a circular reference'],
    ['symbol keys', withSymbolKey, '"value" has symbol keys'],
    ['an odd key', { 'a.b': undefined }, '"value["a.b"]" is undefined'],
    ['a top-level undefined', undefined, '"value" is undefined'],
  ])('refuses %s, naming the path', (_what, value, message) => {
    let error: unknown;
    try {
      assertJsonValue(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(`session value at ${message}`);
    expect((error as Error).message).toContain('only JSON values');
  });

  it('starts paths at the given name', () => {
    expect(() => assertJsonValue({ items: [1, 2, new Date()] }, 'cart')).toThrow('session value at "cart.items[2]" is a Date');
  });
});

const MiB = 1024 * 1024;

/**
 * A valid zlib stream (what zlib.compress makes) of `mib` MiB of zeros, built without allocating
 * them: one MiB deflated and ended by a full flush is a byte-aligned run of blocks that refers to
 * nothing before it, so it can be repeated; then an empty final block and the Adler-32 of n zero
 * bytes (a = 1, b = n mod 65521).
 */
function zeroBomb(mib: number): Buffer {
  const segment = deflateRawSync(Buffer.alloc(MiB), { finishFlush: zlibConstants.Z_FULL_FLUSH });
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE(((mib * MiB) % 65521) * 65536 + 1);
  return Buffer.concat([Buffer.from([0x78, 0x9c]), ...Array<Buffer>(mib).fill(segment), Buffer.from([0x03, 0x00]), adler]);
}

/** A validly signed session_data holding `payload` (already base64, '.'-prefixed if compressed). */
const signedPayload = (payload: string, key = KEY): string =>
  timestampSign(payload, { key, salt: DEFAULT_SESSION_SALT, timestampSeconds: 1700000000 });
const signedJson = (json: string, compress: boolean): string =>
  signedPayload(compress ? '.' + b64UrlEncode(deflateSync(Buffer.from(json, 'latin1'))) : b64UrlEncode(Buffer.from(json, 'latin1')));
/** `{"a":"xxx…"}`, exactly `bytes` long. */
const jsonOfLength = (bytes: number): string => `{"a":"${'x'.repeat(bytes - 8)}"}`;

describe('a signed zlib bomb (maxDecodedBytes)', () => {
  const codec = new SessionCodec({ secretKey: KEY });
  const tooLarge: DecodeResult = { data: {}, status: 'too-large', stale: false, format: 'signed' };

  it('defaults to 4 MiB', () => {
    expect(DEFAULT_MAX_DECODED_BYTES).toBe(4 * MiB);
  });

  it('zeroBomb (test helper) builds a valid zlib stream', () => {
    expect(inflateSync(zeroBomb(3)).equals(Buffer.alloc(3 * MiB))).toBe(true);
  });

  // First in this describe, so that no earlier test has raised the peak RSS it measures against.
  it('is refused without being inflated: peak memory grows by far less than the bomb', () => {
    const bomb = signedPayload('.' + b64UrlEncode(zeroBomb(256))); // 256 MiB from 350 KB
    expect(bomb.length).toBeLessThan(400_000);
    const peakBefore = process.resourceUsage().maxRSS * 1024;
    const buffersBefore = process.memoryUsage().arrayBuffers;
    const result = codec.decode(bomb);
    const buffersAfter = process.memoryUsage().arrayBuffers;
    const peakGrowth = process.resourceUsage().maxRSS * 1024 - peakBefore;
    // Unbounded, inflating it takes 256 MiB of buffers plus their concatenation (> 500 MiB).
    expect(peakGrowth).toBeLessThan(64 * MiB);
    expect(buffersAfter - buffersBefore).toBeLessThan(32 * MiB);
    expect(result).toStrictEqual(tooLarge);
  });

  it('a 64 MiB bomb made by zlib.compress and signed with the secret decodes to {} with status too-large', () => {
    const bomb = deflateSync(Buffer.alloc(64 * MiB));
    const sessionData = signedPayload('.' + b64UrlEncode(bomb));
    expect(codec.decode(sessionData)).toStrictEqual(tooLarge);
    // Verified first: under another key it is a signature failure, not inflated at all.
    expect(new SessionCodec({ secretKey: 'other' }).decode(sessionData).status).toBe('bad-signature');
  });

  it('the session is then empty and can be saved again', () => {
    const { data } = codec.decode(signedPayload('.' + b64UrlEncode(zeroBomb(8))));
    expect(codec.decode(codec.encode(data, 1)).status).toBe('ok');
  });

  describe.each([
    ['compressed', true],
    ['uncompressed', false],
  ] as const)('%s', (_what, compress) => {
    it('a session of exactly the limit decodes; one byte more is too-large', () => {
      const atLimit = jsonOfLength(DEFAULT_MAX_DECODED_BYTES);
      const result = codec.decode(signedJson(atLimit, compress));
      expect(result.status).toBe('ok');
      expect((result.data.a as string).length).toBe(DEFAULT_MAX_DECODED_BYTES - 8);
      expect(codec.decode(signedJson(jsonOfLength(DEFAULT_MAX_DECODED_BYTES + 1), compress))).toStrictEqual(tooLarge);
    });

    it('a custom lower limit', () => {
      const small = new SessionCodec({ secretKey: KEY, maxDecodedBytes: 100 });
      expect(small.decode(signedJson(jsonOfLength(100), compress)).status).toBe('ok');
      expect(small.decode(signedJson(jsonOfLength(101), compress))).toStrictEqual(tooLarge);
      expect(codec.decode(signedJson(jsonOfLength(101), compress)).status).toBe('ok');
    });

    it('a custom higher limit', () => {
      const big = new SessionCodec({ secretKey: KEY, maxDecodedBytes: 8 * MiB });
      const sessionData = signedJson(jsonOfLength(6 * MiB), compress);
      expect(big.decode(sessionData).status).toBe('ok');
      expect(codec.decode(sessionData)).toStrictEqual(tooLarge);
      expect(big.decode(signedJson(jsonOfLength(8 * MiB + 1), compress))).toStrictEqual(tooLarge);
    });
  });

  it('refuses a compressed stream that is itself longer than the limit, before inflating it', () => {
    // Stored, not compressed (level 0): 800 bytes of JSON in an 811-byte stream. Django never
    // writes that (it compresses only when the result is shorter), so the stream length alone decides.
    const stream = deflateSync(Buffer.from(jsonOfLength(800)), { level: 0 });
    expect(stream.length).toBe(811);
    const sessionData = signedPayload('.' + b64UrlEncode(stream));
    expect(new SessionCodec({ secretKey: KEY, maxDecodedBytes: 810 }).decode(sessionData)).toStrictEqual(tooLarge);
    expect(new SessionCodec({ secretKey: KEY, maxDecodedBytes: 811 }).decode(sessionData).status).toBe('ok');
  });

  it('applies to the legacy format too, which cannot be verified without decoding: bad-signature', () => {
    const v = byId('legacy_simple');
    const json = v.serialized_json as string;
    expect(new SessionCodec({ secretKey: KEY, legacyDecode: true, maxDecodedBytes: json.length }).decode(v.session_data).status).toBe('ok');
    expect(new SessionCodec({ secretKey: KEY, legacyDecode: true, maxDecodedBytes: json.length - 1 }).decode(v.session_data)).toStrictEqual({
      data: {},
      status: 'bad-signature',
      stale: false,
    });
  });

  it('encode refuses to write what decode would refuse (RangeError)', () => {
    const small = new SessionCodec({ secretKey: KEY, maxDecodedBytes: 100 });
    const atLimit = JSON.parse(jsonOfLength(100)) as SessionDict;
    expect(small.decode(small.encode(atLimit, 1)).data).toEqual(atLimit);
    expect(small.decode(small.encodeEntries(new Map(Object.entries(atLimit)), 1)).data).toEqual(atLimit);
    const over = JSON.parse(jsonOfLength(101)) as SessionDict;
    expect(() => small.encode(over, 1)).toThrow(RangeError);
    expect(() => small.encode(over, 1)).toThrow('more than maxDecodedBytes (100)');
    expect(() => small.encodeEntries(new Map(Object.entries(over)), 1)).toThrow(RangeError);
  });

  it.each([0, -1, 1.5, Number.NaN, Infinity, '4096', 2 ** 53])('the constructor refuses maxDecodedBytes %p', (maxDecodedBytes) => {
    expect(() => new SessionCodec({ secretKey: 'k', maxDecodedBytes: maxDecodedBytes as number })).toThrow(TypeError);
  });
});

/** `{"k": …}` nested `depth` containers deep, the session dict being level 1. */
function nestedJson(depth: number, shape: 'list' | 'dict'): string {
  if (shape === 'list') return `{"k":${'['.repeat(depth - 1)}1${']'.repeat(depth - 1)}}`;
  return `${'{"k":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** A value `levels` containers deep (built without recursion). */
function nestedValue(levels: number, shape: 'list' | 'dict'): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = shape === 'list' ? [value] : { k: value };
  return value;
}

describe('nesting depth (MAX_SESSION_DEPTH)', () => {
  const codec = new SessionCodec({ secretKey: KEY });
  const malformedSigned: DecodeResult = { data: {}, status: 'malformed', stale: false, format: 'signed' };

  it('is 500 levels, the session dict counting as 1', () => {
    expect(MAX_SESSION_DEPTH).toBe(500);
    expect(nestedJson(2, 'list')).toBe('{"k":[1]}');
    expect(nestedJson(2, 'dict')).toBe('{"k":{"k":1}}');
  });

  describe.each(['list', 'dict'] as const)('nested %ss', (shape) => {
    it('a signed row 100,000 deep decodes to {} (malformed), and the session can be saved again', () => {
      for (const compress of [false, true]) {
        const result = codec.decode(signedJson(nestedJson(100_000, shape), compress));
        expect(result).toStrictEqual(malformedSigned);
        expect(() => codec.encode(result.data, 1)).not.toThrow();
      }
    });

    it('one level past the limit is malformed too', () => {
      expect(codec.decode(signedJson(nestedJson(MAX_SESSION_DEPTH + 1, shape), true))).toStrictEqual(malformedSigned);
    });

    it('exactly at the limit round-trips', () => {
      const data = { k: nestedValue(MAX_SESSION_DEPTH - 1, shape) };
      const json = nestedJson(MAX_SESSION_DEPTH, shape);
      expect(JSON.stringify(data)).toBe(json);
      const read = codec.decode(signedJson(json, false));
      expect(read).toStrictEqual({ data, status: 'ok', stale: false, format: 'signed' });
      for (const encoded of [codec.encode(read.data, 1), codec.encodeEntries(new Map([['k', read.data.k]]), 1)]) {
        expect(codec.decode(encoded)).toStrictEqual({ data, status: 'ok', stale: false, format: 'signed' });
      }
    });

    it('encoding a value 100,000 deep throws a TypeError naming the limit and the path (not a RangeError)', () => {
      const deep = nestedValue(100_000, shape);
      for (const write of [
        () => codec.encode({ k: deep }, 1),
        () => codec.encodeEntries(new Map([['k', deep]]), 1),
        () => assertJsonValue(deep, 'k'),
      ]) {
        let error: unknown;
        try {
          write();
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(TypeError);
        const message = (error as Error).message;
        expect(message).toContain('nested deeper than MAX_SESSION_DEPTH (500 levels');
        // The path of the first container past the limit: "k" and 499 steps down.
        const step = shape === 'list' ? '[0]' : '.k';
        expect(message).toContain(`session value at "k${step.repeat(MAX_SESSION_DEPTH - 1)}" is nested`);
      }
    });

    it('one level past the limit throws; at the limit is accepted', () => {
      expect(() => codec.encode({ k: nestedValue(MAX_SESSION_DEPTH, shape) }, 1)).toThrow(TypeError);
      expect(() => assertJsonValue(nestedValue(MAX_SESSION_DEPTH, shape))).toThrow('MAX_SESSION_DEPTH');
      expect(() => assertJsonValue(nestedValue(MAX_SESSION_DEPTH - 1, shape))).not.toThrow();
    });
  });

  it('counts only brackets outside strings', () => {
    const json = `{"k":"${'[{'.repeat(1000)}\\"[[[","n":[[["\\\\"]]]}`;
    expect(codec.decode(signedJson(json, false))).toMatchObject({ status: 'ok', data: { k: `${'[{'.repeat(1000)}"[[[`, n: [[['\\']]] } });
  });

  it('applies to the legacy format', () => {
    const json = nestedJson(100_000, 'list');
    const hash = saltedHmac('django.contrib.sessionsSessionStore', json, KEY, 'sha1').toString('hex');
    const legacy = Buffer.from(`${hash}:${json}`, 'latin1').toString('base64');
    expect(new SessionCodec({ secretKey: KEY, legacyDecode: true }).decode(legacy)).toStrictEqual({ data: {}, status: 'malformed', stale: false, format: 'legacy' });
  });

  describe.each(vectorsFile.depth_vectors.map((v) => [v.id, v] as const))('Django 3.2 wrote and read back %s', (_id, v) => {
    const expected = { k: nestedValue(v.depth - 1, v.shape) };

    it('is exactly MAX_SESSION_DEPTH deep', () => {
      expect(v.depth).toBe(MAX_SESSION_DEPTH);
      expect(v.django_3_2).toBe('dict');
      expect(v.serialized_json).toBe(nestedJson(v.depth, v.shape));
    });

    it('decodes, and re-encodes to the JSON Django wrote', () => {
      const codec = new SessionCodec({ secretKey: v.secret });
      const read = codec.decode(v.session_data);
      expect(read).toStrictEqual({ data: expected, status: 'ok', stale: false, format: 'signed' });
      const [payload, ts] = codec.encode(read.data, v.timestamp).split(':') as [string, string];
      expect(ts).toBe(v.session_data.split(':')[1]);
      expect(payload.startsWith('.')).toBe(v.compressed);
      // zlib bytes may differ between Node and CPython: compare what they inflate to.
      expect(inflateSync(b64UrlDecode(payload.slice(1))).toString('latin1')).toBe(v.serialized_json);
    });
  });
});
