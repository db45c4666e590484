import { readFileSync } from 'node:fs';
import { createHmac, createHash, randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import {
  BadSignature,
  DEFAULT_MAX_DECODED_BYTES,
  MAX_JSON_DEPTH,
  PayloadTooLarge,
  SignatureExpired,
  assertByteLimit,
  assertJsonDepth,
  jsonDepthExceeds,
  b62Decode,
  b62Encode,
  b64UrlDecode,
  b64UrlEncode,
  constantTimeEqual,
  decodeObjectPayload,
  dumps,
  encodeObjectPayload,
  loads,
  pythonJsonDumps,
  saltedHmac,
  sign,
  signature,
  timestampSign,
  timestampUnsign,
  unsign,
  verify,
} from '../../src/codec/signing.js';

interface SignerVector {
  what: string;
  key?: string;
  key_hex?: string;
  salt?: string;
  key_salt?: string;
  value: string;
  result: string;
}

interface Vector {
  id: string;
  serialized_json?: string;
  js_caveat?: string;
  django_3_2: string;
  django_4_plus: string;
  session_data: string;
}

const vectorsFile = JSON.parse(
  readFileSync(new URL('../fixtures/django/vectors.json', import.meta.url), 'utf8'),
) as { signer_vectors: SignerVector[]; vectors: Vector[] };

function vectorKey(v: SignerVector): string | Buffer {
  if (v.key_hex !== undefined) return Buffer.from(v.key_hex, 'hex');
  if (v.key !== undefined) return v.key;
  throw new Error(`signer vector without a key: ${v.what}`);
}

describe('signer_vectors (real Django output)', () => {
  it('has the five vectors this suite knows how to check', () => {
    expect(vectorsFile.signer_vectors).toHaveLength(5);
  });

  it.each(vectorsFile.signer_vectors.map((v) => [v.what, v] as const))('%s', (_what, v) => {
    const key = vectorKey(v);
    if (v.key_salt !== undefined) {
      // salted_hmac(...).hexdigest(): 40 hex chars is sha1, 64 is sha256.
      const algorithm = v.result.length === 40 ? 'sha1' : 'sha256';
      expect(v.result).toHaveLength(algorithm === 'sha1' ? 40 : 64);
      expect(saltedHmac(v.key_salt, v.value, key, algorithm).toString('hex')).toBe(v.result);
    } else if (v.result.includes(':')) {
      expect(sign(v.value, { key, salt: v.salt })).toBe(v.result);
      expect(unsign(v.result, { keys: [key], salt: v.salt })).toBe(v.value);
    } else {
      expect(signature(v.value, { key, salt: v.salt })).toBe(v.result);
    }
  });

  it('Signer defaults to salt "django.core.signing.Signer" and sha256', () => {
    expect(sign('foo', { key: 'predictable-secret' })).toBe('foo:jZQoX_FtSO70jX9HLRGg2A_2s4kdDBxz1QoO_OpEQb0');
    expect(sign('foo', { key: Buffer.from([0xe7]) })).toBe('foo:EE4qGC5MEKyQG5msxYA0sBohAxLC0BJf8uRhemh0BGU');
  });
});

describe('saltedHmac', () => {
  it('keys the HMAC with the full digest of salt + secret (salt first)', () => {
    const key = createHash('sha256').update('saltsecret').digest();
    const expected = createHmac('sha256', key).update('msg').digest();
    expect(saltedHmac('salt', 'msg', 'secret', 'sha256').equals(expected)).toBe(true);
    expect(saltedHmac('secret', 'msg', 'salt', 'sha256').equals(expected)).toBe(false);
  });

  it('returns 20 bytes for sha1 and 32 for sha256', () => {
    expect(saltedHmac('s', 'v', 'k', 'sha1')).toHaveLength(20);
    expect(saltedHmac('s', 'v', 'k', 'sha256')).toHaveLength(32);
  });

  it('UTF-8 encodes string secrets and values', () => {
    expect(saltedHmac('s', 'é', 'ké', 'sha256').equals(saltedHmac('s', Buffer.from('é'), Buffer.from('ké'), 'sha256'))).toBe(
      true,
    );
  });
});

describe('base64url', () => {
  it('round-trips every length 0..64 without padding, in the URL-safe alphabet', () => {
    for (let n = 0; n <= 64; n++) {
      const buf = randomBytes(n);
      const s = b64UrlEncode(buf);
      expect(s).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(b64UrlDecode(s).equals(buf)).toBe(true);
    }
  });

  it('uses - and _ where standard base64 has + and /', () => {
    expect(b64UrlEncode(Buffer.from([0xfb, 0xff]))).toBe('-_8');
    expect(b64UrlDecode('-_8').equals(Buffer.from([0xfb, 0xff]))).toBe(true);
  });

  it('accepts the padding Django would add back itself', () => {
    expect(b64UrlDecode('e30=').toString()).toBe('{}');
    expect(b64UrlDecode('eyJhIjoxfQ==').toString()).toBe('{"a":1}');
  });

  it.each(['e30+', 'e3/0', 'e3 0', 'e30:', 'é30', 'e=30', 'eyJhI'])('rejects %j', (s) => {
    expect(() => b64UrlDecode(s)).toThrow(TypeError);
  });
});

describe('base62', () => {
  it('matches Django for the vector timestamps', () => {
    expect(b62Encode(1700000000)).toBe('1r31eq');
    expect(b62Encode(1795382664)).toBe('1xVF2u');
    expect(b62Decode('1r31eq')).toBe(1700000000);
    expect(b62Decode('1xVF2u')).toBe(1795382664);
  });

  it('encodes 0, small numbers and negatives as Django', () => {
    expect(b62Encode(0)).toBe('0');
    expect(b62Encode(-0)).toBe('0');
    expect(b62Encode(61)).toBe('z');
    expect(b62Encode(62)).toBe('10');
    expect(b62Encode(-62)).toBe('-10');
  });

  it('round-trips -100..99, negatives and large numbers', () => {
    const values = [...Array.from({ length: 200 }, (_, i) => i - 100), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
    for (const n of values) {
      expect(b62Decode(b62Encode(n))).toBe(n);
    }
  });

  it('decodes a lone "-" to 0 like Django', () => {
    expect(Object.is(b62Decode('-'), 0)).toBe(true);
  });

  it.each(['', ' ', '1.5', '!', '1r31eq ', '+1'])('rejects %j', (s) => {
    expect(() => b62Decode(s)).toThrow(TypeError);
  });

  it.each([1.5, Number.NaN, Infinity, 2 ** 60])('refuses to encode %p', (n) => {
    expect(() => b62Encode(n)).toThrow(RangeError);
  });
});

describe('constantTimeEqual', () => {
  it('compares equal and unequal strings of the same length', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
  });

  it('returns false (does not throw) for different lengths, including multi-byte characters', () => {
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('é', 'a')).toBe(false); // same string length, different byte length
    expect(constantTimeEqual('', '')).toBe(true);
  });
});

describe('Signer', () => {
  const key = 'predictable-secret';

  it('signature differs per key', () => {
    expect(signature('hello', { key })).not.toBe(signature('hello', { key: 'other' }));
  });

  it('signature is base64url(salted_hmac(salt + "signer", value, key, sha256))', () => {
    const expected = b64UrlEncode(saltedHmac('my-saltsigner', 'hello', key, 'sha256'));
    expect(signature('hello', { key, salt: 'my-salt' })).toBe(expected);
    expect(expected).toHaveLength(43);
  });

  it('different salts give different signatures', () => {
    expect(signature('hello', { key, salt: 'a' })).not.toBe(signature('hello', { key, salt: 'b' }));
    expect(() => unsign(sign('hello', { key, salt: 'a' }), { keys: [key], salt: 'b' })).toThrow(BadSignature);
  });

  it.each(['a string', 'a:string:with:colons', 'non-ASCII: Zoë 😀 漢字', ''])('round-trips %j', (value) => {
    const signed = sign(value, { key });
    expect(signed).not.toBe(value);
    expect(unsign(signed, { keys: [key] })).toBe(value);
  });

  describe('tampering', () => {
    const signed = sign('hello:world', { key });
    const [head, ...rest] = signed;
    const tampered: Array<[string, string]> = [
      ['uppercased', signed.toUpperCase()],
      ['appended', signed + 'a'],
      ['first char replaced', (head === 'x' ? 'y' : 'x') + rest.join('')],
      ['every ":" removed', signed.replaceAll(':', '')],
      ['signature truncated', signed.slice(0, -1)],
      ['signature removed', signed.slice(0, signed.lastIndexOf(':') + 1)],
    ];
    it.each(tampered)('%s raises BadSignature', (_what, value) => {
      expect(() => unsign(value, { keys: [key] })).toThrow(BadSignature);
    });
  });

  it('with no ":" raises BadSignature', () => {
    expect(() => unsign('no separator', { keys: [key] })).toThrow(BadSignature);
  });

  it('needs at least one key', () => {
    expect(() => unsign(sign('x', { key }), { keys: [] })).toThrow(TypeError);
  });

  describe('fallback keys', () => {
    const old = sign('v', { key: 'old' });

    it('verifies with a fallback and reports which key', () => {
      expect(verify(old, { keys: ['new', 'old'] })).toEqual({ value: 'v', keyIndex: 1, algorithm: 'sha256' });
      expect(verify(sign('v', { key: 'new' }), { keys: ['new', 'old'] }).keyIndex).toBe(0);
    });

    it('fails when the fallbacks are empty', () => {
      expect(() => unsign(old, { keys: ['new'] })).toThrow(BadSignature);
    });
  });

  describe('algorithms', () => {
    const sha1 = sign('v', { key, algorithm: 'sha1' });

    it('sha1 signatures are 27 characters', () => {
      expect(sha1.length - 'v:'.length).toBe(27);
    });

    it('are sha256 only by default', () => {
      expect(() => unsign(sha1, { keys: [key] })).toThrow(BadSignature);
    });

    it('accepts sha1 when asked to, and reports it', () => {
      expect(verify(sha1, { keys: [key], algorithms: ['sha256', 'sha1'] })).toEqual({
        value: 'v',
        keyIndex: 0,
        algorithm: 'sha1',
      });
    });
  });
});

describe('TimestampSigner', () => {
  const key = 'predictable-secret';

  it('differs from Signer and embeds the base62 timestamp', () => {
    const signed = timestampSign('hello', { key, timestampSeconds: 1700000000 });
    expect(signed).not.toBe(sign('hello', { key }));
    expect(signed.startsWith('hello:1r31eq:')).toBe(true);
    // Default salt is the class path, as Django's.
    expect(signed).toBe(sign('hello:1r31eq', { key, salt: 'django.core.signing.TimestampSigner' }));
  });

  it('round-trips and returns the timestamp', () => {
    const signed = timestampSign('a:b', { key, timestampSeconds: 1795382664 });
    expect(timestampUnsign(signed, { keys: [key] })).toMatchObject({ value: 'a:b', timestampSeconds: 1795382664, keyIndex: 0 });
  });

  it('accepts ages up to maxAgeSeconds and raises SignatureExpired beyond', () => {
    const signed = timestampSign('hello', { key, timestampSeconds: 1000 });
    expect(timestampUnsign(signed, { keys: [key], maxAgeSeconds: 10, nowSeconds: 1010 }).value).toBe('hello');
    let error: unknown;
    try {
      timestampUnsign(signed, { keys: [key], maxAgeSeconds: 10, nowSeconds: 1010.5 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SignatureExpired);
    expect(error).toBeInstanceOf(BadSignature);
  });

  it('raises BadSignature (not SignatureExpired) for a tampered timestamp', () => {
    const signed = timestampSign('hello', { key, timestampSeconds: 1000 });
    const forged = signed.replace(':G8:', ':G9:');
    expect(forged).not.toBe(signed);
    expect(() => timestampUnsign(forged, { keys: [key] })).toThrow(BadSignature);
  });

  it('raises a non-BadSignature error for a validly signed value without a timestamp', () => {
    const signed = sign('no-timestamp', { key, salt: 'django.core.signing.TimestampSigner' });
    expect(() => timestampUnsign(signed, { keys: [key] })).toThrow(TypeError);
    expect(() => timestampUnsign(signed, { keys: [key] })).not.toThrow(BadSignature);
  });
});

describe('dumps / loads', () => {
  const key = 'secret';

  it.each([
    ['a list', ['a', 'list']],
    ['a string', 'a unicode string \u2019'],
    ['a dict', { a: 'dictionary' }],
  ])('round-trips %s, with and without compression', (_what, obj) => {
    for (const compress of [false, true]) {
      expect(loads(dumps(obj, { key, compress }), { keys: [key] })).toEqual(obj);
    }
  });

  it('compresses only when it pays', () => {
    const big = { blob: 'lorem ipsum '.repeat(50) };
    expect(dumps(big, { key, compress: true }).startsWith('.')).toBe(true);
    expect(dumps(big, { key }).startsWith('.')).toBe(false);
    expect(dumps({ a: 1 }, { key, compress: true }).startsWith('.')).toBe(false);
  });

  it('uses salt "django.core.signing" by default', () => {
    const token = dumps({ a: 1 }, { key, timestampSeconds: 1700000000 });
    expect(token).toBe(timestampSign('eyJhIjoxfQ', { key, salt: 'django.core.signing', timestampSeconds: 1700000000 }));
    expect(() => loads(token, { keys: [key], salt: 'other' })).toThrow(BadSignature);
  });

  it('dumps({ a: 1 }) with key \'k\', the sessions salt, compress and timestamp 1700000000 gives Django\'s exact string (uncompressed: compressing would not make it shorter)', () => {
    expect(
      dumps({ a: 1 }, { key: 'k', salt: 'django.contrib.sessions.SessionStore', compress: true, timestampSeconds: 1700000000 }),
    ).toBe('eyJhIjoxfQ:1r31eq:l3BIOCnr7yyAYpte7c_WUHlDz1VMFHFhA8iEt2m8VCc');
  });

  it('loads enforces maxAgeSeconds', () => {
    const token = dumps('x', { key, timestampSeconds: 100 });
    expect(() => loads(token, { keys: [key], maxAgeSeconds: 5, nowSeconds: 200 })).toThrow(SignatureExpired);
  });
});

describe('object payload', () => {
  it('decodes what it encodes, compressed or not', () => {
    const data = Buffer.from('{"x":"' + 'a'.repeat(100) + '"}');
    const packed = encodeObjectPayload(data, true);
    expect(packed.startsWith('.')).toBe(true);
    expect(decodeObjectPayload(packed).equals(data)).toBe(true);
    expect(decodeObjectPayload(encodeObjectPayload(data, false)).equals(data)).toBe(true);
  });

  it('throws on a "." payload that is not a zlib stream', () => {
    expect(() => decodeObjectPayload('.' + b64UrlEncode(Buffer.from('not zlib')))).toThrow();
  });
});

describe('pythonJsonDumps', () => {
  it('escapes like Python: lowercase \\u, DEL, controls, surrogate pairs; "/" kept', () => {
    expect(pythonJsonDumps({ name: 'Zoë' })).toBe('{"name":"Zo\\u00eb"}');
    expect(pythonJsonDumps('😀')).toBe('"\\ud83d\\ude00"');
    expect(pythonJsonDumps('\u007f')).toBe('"\\u007f"');
    expect(pythonJsonDumps('\u0001\u001f\b\f\n\r\t')).toBe('"\\u0001\\u001f\\b\\f\\n\\r\\t"');
    expect(pythonJsonDumps('a/b "q" \\')).toBe('"a/b \\"q\\" \\\\"');
    expect(pythonJsonDumps('\u00ff\u0100\uffff')).toBe('"\\u00ff\\u0100\\uffff"');
    expect(pythonJsonDumps('\ud800')).toBe('"\\ud800"');
    expect(pythonJsonDumps('~ ')).toBe('"~ "');
  });

  it('uses compact separators', () => {
    expect(pythonJsonDumps({ a: [1, { b: null }], c: true })).toBe('{"a":[1,{"b":null}],"c":true}');
  });

  it('throws for values with no JSON form', () => {
    expect(() => pythonJsonDumps(undefined)).toThrow(TypeError);
    expect(() => pythonJsonDumps(() => 1)).toThrow(TypeError);
  });

  // Every vector whose dict is representable the same in JS must serialize byte for byte as Python did.
  const excluded: Record<string, string> = {
    large_int: '2**60 is not exact in a JS number',
    float_forms: 'Python writes 1.0 / 1e-07 / 1e+16',
    warn_raw_utf8_json: 'serialized_json is the latin-1 reading of raw UTF-8, not json.dumps output',
    neg_valid_signature_invalid_json: 'not JSON',
    neg_django_testsuite_serializer_exception: 'not JSON',
  };
  const withJson = vectorsFile.vectors.filter((v) => v.serialized_json !== undefined);

  it('excludes only vectors that exist and are explained', () => {
    const ids = new Set(withJson.map((v) => v.id));
    for (const id of Object.keys(excluded)) expect(ids.has(id)).toBe(true);
    for (const v of withJson) {
      if (v.js_caveat !== undefined) expect(excluded[v.id]).toBeDefined();
    }
  });

  it.each(withJson.filter((v) => !(v.id in excluded)).map((v) => [v.id, v] as const))(
    'vector %s: pythonJsonDumps(JSON.parse(serialized_json)) === serialized_json',
    (_id, v) => {
      const json = v.serialized_json as string;
      expect(pythonJsonDumps(JSON.parse(json))).toBe(json);
    },
  );

  it('escapes the mojibake of warn_raw_utf8_json as Python would on re-encode', () => {
    const v = vectorsFile.vectors.find((x) => x.id === 'warn_raw_utf8_json') as Vector;
    expect(pythonJsonDumps(JSON.parse(v.serialized_json as string))).toBe('{"name":"Zo\\u00c3\\u00ab"}');
  });

  it("writes non-integral floats as Python's repr does, and the JS forms for the documented caveats (integral floats, ints above 2^53)", () => {
    const float = vectorsFile.vectors.find((x) => x.id === 'float_forms') as Vector;
    // Django wrote {"one":1.0,"tiny":1e-07,"huge":1e+16,...}: JS cannot tell 1.0 from 1.
    expect(pythonJsonDumps(JSON.parse(float.serialized_json as string))).toBe(
      '{"one":1,"tiny":1e-07,"huge":10000000000000000,"pi":3.141592653589793}',
    );
    expect(pythonJsonDumps({ a: 1e-5, b: -2.5e-8, c: 0.0001, d: 1.5, s: '1e-7 0.00001' })).toBe('{"a":1e-05,"b":-2.5e-08,"c":0.0001,"d":1.5,"s":"1e-7 0.00001"}');
    const big = vectorsFile.vectors.find((x) => x.id === 'large_int') as Vector;
    expect(pythonJsonDumps(JSON.parse(big.serialized_json as string))).toBe(
      '{"big":1152921504606847000,"ok":9007199254740991}',
    );
  });
});

const MiB = 1024 * 1024;
/** A value `levels` containers deep (built without recursion). */
function nestedList(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe('decodeObjectPayload limit (maxDecodedBytes)', () => {
  const data = (n: number): Buffer => Buffer.alloc(n, 0x61);

  it('defaults to DEFAULT_MAX_DECODED_BYTES = 4 MiB', () => {
    expect(DEFAULT_MAX_DECODED_BYTES).toBe(4 * MiB);
    expect(decodeObjectPayload(encodeObjectPayload(data(4 * MiB), true))).toHaveLength(4 * MiB);
    expect(decodeObjectPayload(encodeObjectPayload(data(4 * MiB), false))).toHaveLength(4 * MiB);
    expect(() => decodeObjectPayload(encodeObjectPayload(data(4 * MiB + 1), true))).toThrow(PayloadTooLarge);
    expect(() => decodeObjectPayload(encodeObjectPayload(data(4 * MiB + 1), false))).toThrow(PayloadTooLarge);
  });

  it.each([true, false])('decodes exactly the limit and refuses one byte more (compress=%p)', (compress) => {
    for (const limit of [1, 2, 3, 4, 5, 100, 1000]) {
      expect(decodeObjectPayload(encodeObjectPayload(data(limit), compress), limit).equals(data(limit))).toBe(true);
      let error: unknown;
      try {
        decodeObjectPayload(encodeObjectPayload(data(limit + 1), compress), limit);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PayloadTooLarge);
      expect((error as PayloadTooLarge).limit).toBe(limit);
    }
  });

  it('counts padding as Django writes it (none) and as it may be added back', () => {
    expect(decodeObjectPayload('eyJhIjoxfQ==', 7).toString()).toBe('{"a":1}');
    expect(() => decodeObjectPayload('eyJhIjoxfQ==', 6)).toThrow(PayloadTooLarge);
  });

  it('stops a zlib bomb while inflating it', () => {
    const bomb = '.' + b64UrlEncode(deflateSync(Buffer.alloc(64 * MiB)));
    expect(() => decodeObjectPayload(bomb)).toThrow(PayloadTooLarge);
    expect(() => decodeObjectPayload(bomb, 1024)).toThrow('payload decodes to more than 1024 bytes');
  });

  it('still throws other errors for undecodable input', () => {
    let error: unknown;
    try {
      decodeObjectPayload('.' + b64UrlEncode(Buffer.from('not zlib')), 100);
    } catch (e) {
      error = e;
    }
    // zlib's error (from Node's realm, hence no toBeInstanceOf(Error) here).
    expect((error as { code?: unknown } | undefined)?.code).toBe('Z_DATA_ERROR');
    expect(error).not.toBeInstanceOf(PayloadTooLarge);
  });

  it.each([0, -1, 1.5, Number.NaN, Infinity, 2 ** 53])('refuses the limit %p', (limit) => {
    expect(() => decodeObjectPayload('e30', limit)).toThrow(TypeError);
    expect(() => assertByteLimit(limit)).toThrow('maxDecodedBytes must be an integer');
  });

  it('loads takes maxDecodedBytes', () => {
    const token = dumps({ a: 'x'.repeat(100) }, { key: 'k', compress: true });
    // {"a":"x…x"} is 108 bytes.
    expect(loads(token, { keys: ['k'], maxDecodedBytes: 108 })).toEqual({ a: 'x'.repeat(100) });
    expect(() => loads(token, { keys: ['k'], maxDecodedBytes: 107 })).toThrow(PayloadTooLarge);
    expect(() => loads(dumps(['x'.repeat(5 * MiB)], { key: 'k', compress: true }), { keys: ['k'] })).toThrow(PayloadTooLarge);
  });
});

describe('JSON depth (MAX_JSON_DEPTH)', () => {
  it('is 500', () => {
    expect(MAX_JSON_DEPTH).toBe(500);
  });

  describe('jsonDepthExceeds', () => {
    it.each([
      ['1', 0, false],
      ['[]', 0, true],
      ['[]', 1, false],
      ['{"a":[{}]}', 3, false],
      ['{"a":[{}]}', 2, true],
      ['[[],[],[[]]]', 2, true],
      ['[[],[],[]]', 2, false],
      ['["[[[[", "{{{"]', 1, false],
      ['["\\"", "[["]', 1, false],
      ['["\\\\", [1]]', 1, true],
      ['["\\\\\\"[[[[", 1]', 1, false],
      ['"unterminated [[[[', 1, false],
    ])('%s deeper than %p: %p', (text, max, expected) => {
      expect(jsonDepthExceeds(text, max)).toBe(expected);
    });

    it('handles 1,000,000 levels without recursion', () => {
      const text = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
      expect(jsonDepthExceeds(text, 999_999)).toBe(true);
      expect(jsonDepthExceeds(text, 1_000_000)).toBe(false);
    });
  });

  describe('assertJsonDepth', () => {
    it('accepts exactly the limit and refuses one more', () => {
      expect(() => assertJsonDepth(nestedList(MAX_JSON_DEPTH))).not.toThrow();
      expect(() => assertJsonDepth(nestedList(MAX_JSON_DEPTH + 1))).toThrow('JSON value nested deeper than 500 levels (MAX_JSON_DEPTH)');
      expect(() => assertJsonDepth({ a: [{ b: 1 }] }, 3)).not.toThrow();
      expect(() => assertJsonDepth({ a: [{ b: [] }] }, 3)).toThrow(TypeError);
      expect(() => assertJsonDepth('scalar', 0)).not.toThrow();
    });

    it('walks 100,000 levels without overflowing the stack', () => {
      expect(() => assertJsonDepth(nestedList(100_000))).toThrow(TypeError);
      expect(() => assertJsonDepth(nestedList(100_000), 200_000)).not.toThrow();
    });

    it('refuses cycles and accepts shared references', () => {
      const cyclic: unknown[] = [1];
      cyclic.push({ up: cyclic });
      expect(() => assertJsonDepth(cyclic)).toThrow('circular');
      const shared = { x: [1] };
      expect(() => assertJsonDepth({ a: shared, b: [shared, shared] })).not.toThrow();
    });
  });

  describe('pythonJsonDumps / dumps / loads', () => {
    it('write exactly MAX_JSON_DEPTH levels and read them back', () => {
      const value = nestedList(MAX_JSON_DEPTH - 1);
      const json = pythonJsonDumps({ k: value });
      expect(json).toBe(`{"k":${'['.repeat(MAX_JSON_DEPTH - 1)}1${']'.repeat(MAX_JSON_DEPTH - 1)}}`);
      expect(loads(dumps({ k: value }, { key: 'k', compress: true }), { keys: ['k'] })).toEqual({ k: value });
    });

    it('refuse 100,000 levels with a TypeError naming the limit, not a stack overflow', () => {
      for (const write of [() => pythonJsonDumps(nestedList(100_000)), () => dumps(nestedList(100_000), { key: 'k' })]) {
        let error: unknown;
        try {
          write();
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toContain('nested deeper than 500 levels');
      }
      expect(() => pythonJsonDumps(nestedList(MAX_JSON_DEPTH + 1))).toThrow(TypeError);
      expect(() => pythonJsonDumps(nestedList(10), 10)).not.toThrow();
      expect(() => pythonJsonDumps(nestedList(11), 10)).toThrow('nested deeper than 10 levels');
    });

    it('loads refuses what dumps would refuse', () => {
      const deep = (levels: number): string =>
        timestampSign(encodeObjectPayload(Buffer.from('['.repeat(levels) + ']'.repeat(levels)), true), {
          key: 'k',
          salt: 'django.core.signing',
        });
      expect(loads(deep(MAX_JSON_DEPTH), { keys: ['k'] })).toHaveLength(1);
      expect(() => loads(deep(MAX_JSON_DEPTH + 1), { keys: ['k'] })).toThrow(TypeError);
      expect(() => loads(deep(100_000), { keys: ['k'] })).toThrow('JSON nested deeper than 500 levels');
    });

    it('still throws for circular values', () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      expect(() => pythonJsonDumps(cyclic)).toThrow(TypeError);
    });

    it('turns a stack overflow inside toJSON() into the same TypeError', () => {
      const sneaky = { toJSON: () => nestedList(100_000) };
      expect(() => pythonJsonDumps(sneaky)).toThrow('nested deeper than 500 levels');
    });
  });
});
