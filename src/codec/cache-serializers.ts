/*
 * The value serializers of django-redis 5.2, for sessions kept by Django's cache backend
 * (SESSION_ENGINE = 'django.contrib.sessions.backends.cache' with django_redis.cache.RedisCache),
 * and of Django 4.0+'s own django.core.cache.backends.redis.RedisCache (pickle only).
 * Each session is one Redis value holding the session dict; django-redis's default compressor is
 * the identity, so the value is exactly the serializer's output (plain ints would be stored
 * unserialized, by both caches, but a session is always a dict):
 *
 *   pickle  django_redis.serializers.pickle.PickleSerializer (the default):
 *             pickle.dumps(dict, PICKLE_VERSION)  -> its default pickle.DEFAULT_PROTOCOL: 4 on
 *               Python 3.8-3.13, 5 on Python 3.14 (see ./pickle.ts)
 *             pickle.loads(value)
 *           django.core.cache.backends.redis.RedisSerializer (Django 4.0+'s own RedisCache):
 *             pickle.dumps(dict, pickle.HIGHEST_PROTOCOL)  -> 5 on every Python it runs on
 *             int(value) first, then pickle.loads(value)
 *           Written at the `protocol` asked for (4 by default); for a session's JSON-like data
 *           protocols 4 and 5 differ in the PROTO byte alone. Read: protocols 0-5.
 *   json    django_redis.serializers.json.JSONSerializer:
 *             json.dumps(dict, cls=DjangoJSONEncoder).encode()
 *               -> separators ', ' and ': ', ensure_ascii (every character outside ' '..'~' as a
 *                  lowercase \uxxxx, astral ones as surrogate pairs; \" \\ \n \r \t \b \f short),
 *                  floats as repr() (0.1, 1e-05, 1.5e-07), ints in full
 *             json.loads(value.decode())  -> strict UTF-8, a BOM is an error
 *
 * One Python type beyond JSON-like data, for the pickle serializer only: `_session_expiry` as a
 * `datetime.datetime`. Django 3.2's `set_expiry(datetime | timedelta)` keeps the datetime itself in
 * the session dict (aware UTC, tzinfo `pytz.utc`), and this engine pickles the dict with no JSON
 * step. The top-level `_session_expiry` alone may hold one (aware UTC via pytz.utc or
 * datetime.timezone.utc, or naive): it is read as its `isoformat()` string, which the session
 * layer reads like Django 4+'s ISO `_session_expiry`. Written back, a top-level `_session_expiry`
 * string that is exactly an aware-UTC `isoformat()` ('2030-01-02T03:04:05[.123456]+00:00')
 * becomes that datetime again, byte for byte as Python pickles it with tzinfo
 * `datetime.timezone.utc`, so that Django 3.2 still reads a session Nest re-saves as a datetime
 * (any other string stays a str, and so does one named in `keepStrings`: the cache engine names
 * `_session_expiry` there when Django 4.1+ stored that date as a str). Not `pytz.utc`, although Django 3.2 writes that: its pickle
 * names `pytz._UTC`, a pip install of Django >= 4.0 has no pytz, and its cache engine would fail
 * to load such a session and silently drop it; every Django reads timezone.utc. A datetime
 * anywhere else, or with another tzinfo, is refused as before (see ./pickle.ts). The JSON
 * serializer has no datetimes: Django could not have written one there.
 *
 * Known answer for {"a": 1}:  pickle 80 04 95 0a 00.. 00 7d 94 8c 01 61 94 4b 01 73 2e
 *                                     (protocol 5: 80 05, the rest alike),
 *                              json   {"a": 1}
 *
 * Both read the top-level dict into a Map in stored order: Python dicts keep insertion order, and
 * a JS object would move integer-like keys ("10") first. Nested dicts are plain objects.
 * JS numbers cannot tell 1.0 from 1: integral numbers are written as ints, others as floats.
 * Python's numbers that JSON lacks round-trip: float('nan'), float('inf') and float('-inf') are
 * read as NaN, Infinity and -Infinity, an int past the double range (10**400) as an exact bigint,
 * and written back as Python wrote them (BINFLOAT / LONG1 / LONG4; `NaN`, `Infinity`, digits).
 * An int of more than 4,300 digits is refused: Python's json could neither write nor read it.
 *
 * Whoever can write to the Redis writes what these read, so reading is bounded by the module's
 * `maxDecodedBytes` (the engine passes it; default 4 MiB) in bytes of the JSON the session would
 * be as `session_data`: a longer value is refused, and so is one that would expand past it (a
 * pickle's memo shares containers: 10 KB can stand for 95 MiB). For pickle the bound also holds
 * while reading, so a pickle of millions of empty containers is refused after a few hundred
 * milliseconds and a few megabytes (see ./pickle.ts). A refused value is no session.
 *
 * Both serializers apply the project's one depth rule, MAX_JSON_DEPTH (500 levels), reading and
 * writing, so that switching serializer never changes what a session may hold. It suits pickle
 * too: CPython 3.11's pickler spends two recursion units per level and raises RecursionError past
 * 499 levels from the top of a script (449 under 100 Python frames), although its unpickler reads
 * any depth; json gives up near 994.
 */
import {
  childPath,
  PickleError,
  pickleDumps,
  pickleLoadsDict,
  pythonDictEntries,
  pythonKindOf,
} from './pickle.js';
import { writtenKeyOrder } from './json-key-order.js';
import {
  assertByteLimit,
  DEFAULT_MAX_DECODED_BYTES,
  jsonDepthExceeds,
  jsonEncodedLength,
  MAX_JSON_DEPTH,
  parsePythonJson,
  pythonFloatRepr,
  pythonJsonDumps,
} from './python-json.js';

/** The django-redis serializer names: `PickleSerializer` and `JSONSerializer`. */
export type CacheSerializerName = 'pickle' | 'json';

/**
 * The limit a cache engine passes to its serializer: the module's `maxDecodedBytes`.
 *
 * @example
 * CACHE_SERIALIZERS.pickle.loads(value, { maxDecodedBytes: options.maxDecodedBytes });
 */
export interface CacheSerializerOptions {
  /**
   * The most bytes of JSON a session may be once written out as `session_data` (Python's compact
   * `json.dumps`, shared references expanded), and the most bytes `loads` reads. Default
   * `DEFAULT_MAX_DECODED_BYTES` (4 MiB).
   */
  maxDecodedBytes?: number;
  /**
   * pickle `loads`: filled with the top-level keys whose value was a `datetime.datetime` (Django
   * 3.2's `_session_expiry`), read as its isoformat() string like the str Django 4.1+ stores.
   */
  datetimesRead?: Set<string>;
  /**
   * pickle `dumps`: keys whose isoformat() string stays a str (Django 4.1+ stored it so), where
   * it would otherwise be written as the datetime Django 3.2 stores. Default none.
   */
  keepStrings?: ReadonlySet<string>;
  /**
   * pickle `dumps`: the protocol, 4 (default: django-redis's PickleSerializer on Python <= 3.13)
   * or 5 (Django's own RedisSerializer, `pickle.HIGHEST_PROTOCOL`).
   */
  protocol?: 4 | 5;
}

/**
 * One of django-redis's value serializers, for a session dict.
 *
 * @example
 * const s = CACHE_SERIALIZERS.pickle;
 * const bytes = s.dumps(new Map([['_auth_user_id', '1']])); // what Django would SET in Redis
 * s.loads(bytes).get('_auth_user_id'); // '1'
 */
export interface CacheSerializer {
  readonly name: CacheSerializerName;
  /**
   * The bytes django-redis stores for this dict (pickle: a top-level `_session_expiry` that is an
   * exact aware-UTC isoformat() string is written as the datetime Django 3.2 stores). Throws a
   * `TypeError` for values Python would not read back the same (undefined, functions, symbols,
   * bigint, class instances, non-string keys, cycles) and for nesting deeper than
   * `MAX_JSON_DEPTH` (500) levels, the session dict counting as level 1. NaN, ±Infinity and bigints
   * past the double range, which `loads` returns for what Python stored, are written as Python
   * writes them. Pickle: throws a `RangeError` when the pickle fits `maxDecodedBytes` but its JSON,
   * shared containers expanded, would not (`loads` could not read it back).
   */
  dumps(session: ReadonlyMap<string, unknown>, options?: CacheSerializerOptions): Buffer;
  /**
   * The stored dict, as a Map in stored key order. Throws (PickleError, SyntaxError or TypeError)
   * when `data` is not a dict of None, bool, int, float, str, list, tuple and dict (pickle: plus
   * a datetime as the top-level `_session_expiry`, read as its isoformat() string), nests deeper
   * than `MAX_JSON_DEPTH` (500) levels, is longer than `maxDecodedBytes`, or would be more than
   * `maxDecodedBytes` of JSON once written out (the work of reading is bounded by it too).
   * Python's NaN and ±Infinity are read as those numbers, an int past the double range as a
   * bigint; an int of more than 4,300 digits is refused, as Python's json refuses it.
   */
  loads(data: Buffer, options?: CacheSerializerOptions): Map<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// JSON, as Python's json module writes and reads it
// ---------------------------------------------------------------------------------------------


/**
 * Appends Python's `json.dumps(v)` (default separators, ensure_ascii) to `out`. Recursive, never
 * deeper than MAX_JSON_DEPTH calls: the depth is checked before descending.
 */
function writeJson(v: unknown, path: string, depth: number, ancestors: Set<object>, out: string[]): void {
  switch (pythonKindOf(v, path, true)) {
    case 'none':
      out.push('null');
      return;
    case 'bool':
      out.push(v ? 'true' : 'false');
      return;
    case 'int':
      // Exact digits: Python prints 2**64 in full where JS would print 18446744073709552000.
      out.push(typeof v === 'bigint' || Number.isSafeInteger(v) ? String(v) : BigInt(v as number).toString());
      return;
    case 'float': {
      // Python's json writes NaN, Infinity and -Infinity (allow_nan=True, django-redis's default).
      const x = v as number;
      out.push(Number.isFinite(x) ? pythonFloatRepr(x) : Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity');
      return;
    }
    case 'str':
      out.push(pythonJsonDumps(v));
      return;
  }
  const obj = v as object;
  // Python's json checks only for cycles (ValueError); a shared container is written twice.
  if (ancestors.has(obj)) throw new TypeError(`value at "${path}" is a circular reference`);
  if (depth > MAX_JSON_DEPTH) throw new TypeError(`value at "${path}" is nested deeper than ${MAX_JSON_DEPTH} levels`);
  ancestors.add(obj);
  if (Array.isArray(obj)) {
    out.push('[');
    for (let i = 0; i < obj.length; i++) {
      if (i > 0) out.push(', ');
      writeJson(obj[i], childPath(path, i), depth + 1, ancestors, out);
    }
    out.push(']');
  } else {
    out.push('{');
    let first = true;
    for (const [key, value] of pythonDictEntries(obj, path)) {
      if (!first) out.push(', ');
      first = false;
      out.push(pythonJsonDumps(key), ': ');
      writeJson(value, childPath(path, key), depth + 1, ancestors, out);
    }
    out.push('}');
  }
  ancestors.delete(obj);
}

// Python's bytes.decode(): strict UTF-8, and a BOM stays a character (which json.loads refuses).
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });


// The most a character of django-redis's JSON can grow once written as `session_data`: a
// non-ASCII character becomes \uXXXX (6), '1e20' (4) becomes 21 digits.
const MAX_REWRITE_GROWTH = 6;

function jsonLoads(data: Buffer, options: CacheSerializerOptions = {}): Map<string, unknown> {
  if (!Buffer.isBuffer(data)) throw new TypeError('cache value must be a Buffer');
  const limit = byteLimit(options);
  if (data.length > limit) throw new TypeError(`the value is larger than maxDecodedBytes (${limit} bytes)`);
  let text: string;
  try {
    text = utf8Strict.decode(data);
  } catch {
    // Rethrown from here so that the error belongs to this realm (TextDecoder's is Node's own).
    throw new TypeError('the JSON cache value is not UTF-8 (Python: UnicodeDecodeError)');
  }
  // The project's one JSON depth rule (see MAX_JSON_DEPTH): what Python's json reliably reads.
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) throw new TypeError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  // Python's json.loads also takes NaN, Infinity, -Infinity and ints past the double range, which
  // JSON.parse refuses or rounds to Infinity: parsePythonJson reads them as Python does.
  // "__proto__" is an own data property, as JSON.parse makes it.
  const parsed: unknown = parsePythonJson(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TypeError('the JSON cache value is not an object');
  }
  if (text.length * MAX_REWRITE_GROWTH > limit && jsonEncodedLength(parsed, limit) > limit) {
    throw new TypeError(`the session would be more than maxDecodedBytes (${limit} bytes) of JSON once written out`);
  }
  const record = parsed as Record<string, unknown>;
  const ordered = writtenKeyOrder(text, record) ?? Object.keys(record);
  return new Map(ordered.map((k) => [k, record[k]]));
}

function assertSession(session: unknown): ReadonlyMap<string, unknown> {
  if (!(session instanceof Map)) throw new TypeError('a session must be passed as a Map<string, unknown>');
  return session as ReadonlyMap<string, unknown>;
}

function byteLimit(options: CacheSerializerOptions | undefined): number {
  const limit = options?.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES;
  assertByteLimit(limit);
  return limit;
}

/** The session key Django 3.2 may pickle a datetime under: set_expiry(datetime | timedelta). */
const DATETIME_KEYS: readonly string[] = Object.freeze(['_session_expiry']);

const pickleSerializer: CacheSerializer = Object.freeze({
  name: 'pickle' as const,
  dumps: (session: ReadonlyMap<string, unknown>, options?: CacheSerializerOptions): Buffer =>
    pickleDumps(assertSession(session), {
      maxDepth: MAX_JSON_DEPTH,
      datetimeKeys: options?.keepStrings === undefined ? DATETIME_KEYS : DATETIME_KEYS.filter((k) => !options.keepStrings!.has(k)),
      pythonNumbers: true,
      maxDecodedBytes: byteLimit(options),
      protocol: options?.protocol ?? 4,
    }),
  loads: (data: Buffer, options?: CacheSerializerOptions): Map<string, unknown> => {
    const limit = byteLimit(options);
    if (data.length > limit) throw new PickleError(`the value is larger than maxDecodedBytes (${limit} bytes)`);
    // maxDecodedBytes bounds the work and the memory too: a value is refused as soon as what it
    // made would write more JSON than that (see PickleLoadsOptions.maxDecodedBytes).
    return pickleLoadsDict(data, { maxDepth: MAX_JSON_DEPTH, datetimeKeys: DATETIME_KEYS, maxDecodedBytes: limit, pythonNumbers: true, datetimesRead: options?.datetimesRead });
  },
});

const jsonSerializer: CacheSerializer = Object.freeze({
  name: 'json' as const,
  // django-redis's own value: its length is the caller's to check against maxDecodedBytes.
  dumps: (session: ReadonlyMap<string, unknown>): Buffer => {
    const out: string[] = [];
    writeJson(assertSession(session), 'session', 1, new Set(), out);
    // ensure_ascii output is pure ASCII: .encode() and latin-1 agree.
    return Buffer.from(out.join(''), 'latin1');
  },
  loads: jsonLoads,
});

/**
 * django-redis's serializers by name: `pickle` (PickleSerializer, the default) and `json`
 * (JSONSerializer).
 *
 * @example
 * CACHE_SERIALIZERS.json.dumps(new Map([['b', 1], ['10', 'Zoë']])).toString(); // '{"b": 1, "10": "Zo\\u00eb"}'
 */
export const CACHE_SERIALIZERS: Readonly<Record<CacheSerializerName, CacheSerializer>> = Object.freeze({
  pickle: pickleSerializer,
  json: jsonSerializer,
});
