/*
 * The value serializers of django-redis 5.2, for sessions kept by Django's cache backend
 * (SESSION_ENGINE = 'django.contrib.sessions.backends.cache' with django_redis.cache.RedisCache).
 * Each session is one Redis value holding the session dict; django-redis's default compressor is
 * the identity, so the value is exactly the serializer's output (plain ints would be stored
 * unserialized, but a session is always a dict):
 *
 *   pickle  django_redis.serializers.pickle.PickleSerializer (the default):
 *             pickle.dumps(dict, pickle.DEFAULT_PROTOCOL)  -> protocol 4 (see ./pickle.ts)
 *             pickle.loads(value)
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
 * becomes that datetime again, byte for byte as Django 3.2 pickles it (tzinfo pytz.utc), so that
 * Django 3.2 can still read a session Nest re-saves; any other string stays a str. A datetime
 * anywhere else, or with another tzinfo, is refused as before (see ./pickle.ts). The JSON
 * serializer has no datetimes: Django could not have written one there.
 *
 * Known answer for {"a": 1}:  pickle 80 04 95 0a 00.. 00 7d 94 8c 01 61 94 4b 01 73 2e,
 *                              json   {"a": 1}
 *
 * Both read the top-level dict into a Map in stored order: Python dicts keep insertion order, and
 * a JS object would move integer-like keys ("10") first. Nested dicts are plain objects.
 * JS numbers cannot tell 1.0 from 1: integral numbers are written as ints, others as floats.
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
import { DEFAULT_MAX_DECODED_BYTES, pythonFloatRepr, MAX_JSON_DEPTH, jsonDepthExceeds, pythonJsonDumps } from './signing.js';

/** The django-redis serializer names: `PickleSerializer` and `JSONSerializer`. */
export type CacheSerializerName = 'pickle' | 'json';

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
   * bigint, NaN/±Infinity, class instances, non-string keys, cycles) and for nesting deeper than
   * `MAX_JSON_DEPTH` (500) levels, the session dict counting as level 1.
   */
  dumps(session: ReadonlyMap<string, unknown>): Buffer;
  /**
   * The stored dict, as a Map in stored key order. Throws (PickleError, SyntaxError or TypeError)
   * when `data` is not a dict of None, bool, int, float, str, list, tuple and dict (pickle: plus
   * a datetime as the top-level `_session_expiry`, read as its isoformat() string), or nests
   * deeper than `MAX_JSON_DEPTH` (500) levels.
   */
  loads(data: Buffer): Map<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// JSON, as Python's json module writes and reads it
// ---------------------------------------------------------------------------------------------


/** Appends Python's `json.dumps(v)` (default separators, ensure_ascii) to `out`. */
function writeJson(v: unknown, path: string, depth: number, ancestors: Set<object>, out: string[]): void {
  switch (pythonKindOf(v, path)) {
    case 'none':
      out.push('null');
      return;
    case 'bool':
      out.push(v ? 'true' : 'false');
      return;
    case 'int':
      // Exact digits: Python prints 2**64 in full where JS would print 18446744073709552000.
      out.push(Number.isSafeInteger(v) ? String(v) : BigInt(v as number).toString());
      return;
    case 'float':
      out.push(pythonFloatRepr(v as number));
      return;
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


function jsonLoads(data: Buffer): Map<string, unknown> {
  if (!Buffer.isBuffer(data)) throw new TypeError('cache value must be a Buffer');
  if (data.length > DEFAULT_MAX_DECODED_BYTES) throw new TypeError(`the value is larger than ${DEFAULT_MAX_DECODED_BYTES} bytes`);
  let text: string;
  try {
    text = utf8Strict.decode(data);
  } catch {
    // Rethrown from here so that the error belongs to this realm (TextDecoder's is Node's own).
    throw new TypeError('the JSON cache value is not UTF-8 (Python: UnicodeDecodeError)');
  }
  // The project's one JSON depth rule (see MAX_JSON_DEPTH): what Python's json reliably reads.
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) throw new TypeError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  // Python's json.loads also takes NaN/Infinity, which JSON.parse refuses (SyntaxError); nothing
  // this package writes contains them. JSON.parse makes "__proto__" an own data property.
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TypeError('the JSON cache value is not an object');
  }
  const record = parsed as Record<string, unknown>;
  const ordered = writtenKeyOrder(text, record) ?? Object.keys(record);
  return new Map(ordered.map((k) => [k, record[k]]));
}

function assertSession(session: unknown): ReadonlyMap<string, unknown> {
  if (!(session instanceof Map)) throw new TypeError('a session must be passed as a Map<string, unknown>');
  return session as ReadonlyMap<string, unknown>;
}

/**
 * Refuses a loaded session that would grow past `limit` once written out again. A pickle may
 * refer to one list many times (memo GETs), so a few hundred bytes can stand for 2^40 items: the
 * next save (or a JSON response of the session) would expand them. Counts each value once per
 * reference, one unit per scalar and one per string character, and stops at the limit, so the
 * walk itself is bounded too.
 */
function assertExpandedSize(session: ReadonlyMap<string, unknown>, limit: number): void {
  let budget = limit;
  const stack: unknown[] = [...session.keys(), ...session.values()];
  while (stack.length > 0) {
    const value = stack.pop();
    budget -= typeof value === 'string' ? value.length + 1 : 1;
    if (budget < 0) throw new PickleError(`the session expands past ${limit} bytes once written out (shared references)`);
    if (Array.isArray(value)) stack.push(...value);
    else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) stack.push(k, v);
  }
}

/** The session key Django 3.2 may pickle a datetime under: set_expiry(datetime | timedelta). */
const DATETIME_KEYS: readonly string[] = Object.freeze(['_session_expiry']);

const pickleSerializer: CacheSerializer = Object.freeze({
  name: 'pickle' as const,
  dumps: (session: ReadonlyMap<string, unknown>): Buffer =>
    pickleDumps(assertSession(session), { maxDepth: MAX_JSON_DEPTH, datetimeKeys: DATETIME_KEYS }),
  loads: (data: Buffer): Map<string, unknown> => {
    if (data.length > DEFAULT_MAX_DECODED_BYTES) throw new PickleError(`the value is larger than ${DEFAULT_MAX_DECODED_BYTES} bytes`);
    const session = pickleLoadsDict(data, { maxDepth: MAX_JSON_DEPTH, datetimeKeys: DATETIME_KEYS });
    assertExpandedSize(session, DEFAULT_MAX_DECODED_BYTES);
    return session;
  },
});

const jsonSerializer: CacheSerializer = Object.freeze({
  name: 'json' as const,
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
