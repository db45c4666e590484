/*
 * A generated corpus checked by the real Django and django-redis (test/interop/check_corpus.py, one
 * Python process for the whole suite). The values come from the arbitraries of the unit property
 * tests (test/unit/property-support.ts), sampled with a fixed seed, so the corpus is the same on
 * every run. For each value:
 *
 *   session_data   Django's SessionStore().decode() returns it (values and key order), and
 *                  SessionStore().encode() of what it decoded, with its clock frozen at our
 *                  timestamp, writes the same JSON, the same timestamp and the same signature:
 *                  byte for byte whenever neither side compresses. When one does, only the zlib
 *                  stream can differ: Node bundles Chromium's zlib, which compresses differently
 *                  from (usually better than) CPython's, so the two may even disagree on whether
 *                  compressing pays (both apply Django's rule, len(compressed) < len(json) - 1, to
 *                  their own zlib: checked). The JSON is the same byte for byte, floats included.
 *   signed cookie  the same through the signed_cookies engine (another salt, signing.dumps).
 *   pickle / json  django-redis's serializers load our bytes to the value, and dump both what they
 *                  loaded and the value built afresh to exactly our bytes; a top-level
 *                  `_session_expiry` isoformat string goes through pickle as an aware datetime
 *                  (tzinfo datetime.timezone.utc, which Django 3.2 and pytz-less 4+ read).
 *   datetime pickle  pickles spelling a datetime every way (harmless globals only): what Python
 *                  reads as a datetime under the top-level `_session_expiry`, we read as its
 *                  isoformat(); what we refuse, Python fails on too or holds something refused on
 *                  purpose (see refusedByDesign).
 *   Cookie header  django.http.cookie.parse_cookie picks the value readSessionCookie picks.
 *
 * It also checks, against Python itself, the json.dumps model the unit properties compare with.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deflateSync, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { SIGNED_COOKIES_SALT } from '../../src/backends/signed-cookies/signed-cookies.backend.js';
import { CACHE_SERIALIZERS } from '../../src/codec/cache-serializers.js';
import { SessionCodec } from '../../src/codec/session-codec.js';
import { decodedMap } from '../../src/codec/suspicious-session.js';
import { readSessionCookie } from '../../src/session.http.js';
import { describeWithEachDjango } from './support/djangos.js';
import { PickleError } from '../../src/codec/pickle.js';
import {
  anyKey,
  canon,
  datetimePickle,
  floatsJsWritesOtherwise,
  leaf,
  pyJsonDumps,
  sessionMap,
  sessionMapWithExpiry,
  type Canon,
} from '../unit/property-support.js';

const SEED = 0xc0ffee;
const SIZE = 300;
const SECRET = 'property-corpus-secret-0123456789';
const SCRIPT = fileURLToPath(new URL('./check_corpus.py', import.meta.url));

/** What Python reports: a canonical value (see check_corpus.py), or a failure. */
type PyCanon =
  | null
  | boolean
  | number
  | string
  | { int: string }
  | { l: PyCanon[] }
  | { tuple: PyCanon[] }
  | { d: Array<[string, PyCanon]> }
  | { datetime: string; tz: 'naive' | 'utc' | 'offset'; tzinfo: string; fold: number }
  | { error: string };

interface PyResults {
  python: string;
  django: string;
  sessions: Array<{
    db_decoded: PyCanon;
    db_reencoded: string | { error: string };
    db_json: string;
    db_zlib_len: number;
    cookie_loaded: PyCanon;
    cookie_reencoded?: string | { error: string };
  }>;
  pickles: Array<{ loaded: PyCanon; redumped?: string | { error: string }; dumped?: string | { error: string } }>;
  jsons: Array<{ loaded: PyCanon; redumped?: string | { error: string }; dumped?: string | { error: string } }>;
  datetime_pickles: PyCanon[];
  cookie_headers: Array<string | null>;
}

/**
 * Python's canonical form back to what our readers make of it, for canon() to compare: numbers as
 * JS reads them, tuples as arrays, a datetime as its isoformat() string.
 */
function fromPy(c: PyCanon): unknown {
  if (c === null || typeof c !== 'object') return c;
  if ('error' in c) throw new Error(`Python: ${c.error}`);
  if ('int' in c) return Number(c.int);
  if ('l' in c) return c.l.map(fromPy);
  if ('tuple' in c) return c.tuple.map(fromPy);
  if ('datetime' in c) return c.datetime;
  return new Map(c.d.map(([k, v]) => [k, fromPy(v)]));
}

const UTC_ISOFORMAT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?\+00:00$/;

/** canon(), with a top-level `_session_expiry` isoformat string as the datetime our pickle writes for it. */
function pickleCanon(map: Map<string, unknown>): unknown {
  const c = canon(map) as { d: Array<[string, unknown]> };
  return { d: c.d.map(([k, v]) => [k, k === '_session_expiry' && typeof v === 'string' && UTC_ISOFORMAT.test(v) ? { datetime: v } : v]) };
}

/** Whether an isoformat() names a real date and time (Python unpickles a datetime state unchecked: minute 60, Feb 31). */
function realDateTime(iso: string): boolean {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{6})?(?:[+-]\d\d:\d\d)?$/.exec(iso);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second);
  return year >= 1 && d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day && d.getUTCHours() === hour && d.getUTCMinutes() === minute && d.getUTCSeconds() === second;
}

/**
 * Where Python read something our pickle reader refuses on purpose (src/codec/pickle.ts): a
 * datetime other than the value of the top-level `_session_expiry`, one with a non-UTC offset,
 * fold=1 or fields out of range, or an object of another class (bytes, date, timedelta, a
 * tzinfo...). Undefined if none.
 */
function refusedByDesign(c: PyCanon, topLevelExpiry = false): string | undefined {
  if (c === null || typeof c !== 'object') return undefined;
  if ('error' in c) return c.error;
  if ('datetime' in c) {
    if (!topLevelExpiry) return 'a datetime elsewhere than the top-level _session_expiry';
    if (c.tz === 'offset' || c.fold !== 0) return `a datetime with tz ${c.tz}, fold ${c.fold}`;
    if (!realDateTime(c.datetime)) return `a datetime out of range: ${c.datetime}`;
    return undefined;
  }
  if ('l' in c) return c.l.map((x) => refusedByDesign(x)).find((r) => r !== undefined);
  if ('tuple' in c) return c.tuple.map((x) => refusedByDesign(x)).find((r) => r !== undefined);
  if ('d' in c) return c.d.map(([k, x]) => refusedByDesign(x, k === '_session_expiry' && topLevelExpiry)).find((r) => r !== undefined);
  return undefined;
}

function text(v: string | { error: string } | undefined): string {
  if (typeof v !== 'string') throw new Error(`Python: ${v === undefined ? 'no answer' : v.error}`);
  return v;
}

function unpack(signed: string): { compressed: boolean; json: string; stored: Buffer; timestamp: string } {
  const [payload, timestamp] = signed.split(':') as [string, string];
  const compressed = payload.startsWith('.');
  const stored = Buffer.from(compressed ? payload.slice(1) : payload, 'base64url');
  return { compressed, stored, json: (compressed ? inflateSync(stored) : stored).toString('latin1'), timestamp };
}

/** Runs `check` on every item: the first failures (index, message) and how many there were, so one bad value does not hide the rest. */
function failures<T>(items: readonly T[], check: (item: T, i: number) => void): string[] {
  const out: string[] = [];
  items.forEach((item, i) => {
    try {
      check(item, i);
    } catch (e) {
      out.push(`#${i}: ${(e as Error).message.split('\n').slice(0, 12).join('\n')}`);
    }
  });
  return out.length > 5 ? [...out.slice(0, 5), `... ${out.length} of ${items.length} failed`] : out;
}

/** JSON with everything outside ASCII escaped, so that a \x85 shows. */
const show = (v: unknown): string => JSON.stringify(v).replace(/[\x7f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));

// Small sessions: most are too short to compress, so the whole session_data can match byte for byte.
const smallMap = fc.uniqueArray(fc.tuple(anyKey, leaf), { selector: (e) => e[0], maxLength: 4 }).map((e) => new Map(e));
const corpusItem = fc.record({
  map: fc.oneof({ weight: 2, arbitrary: smallMap }, { weight: 2, arbitrary: sessionMap }, { weight: 1, arbitrary: sessionMapWithExpiry }),
  ts: fc.integer({ min: 0, max: 2 ** 33 }),
});

// Cookie headers made of what a Node HTTP server delivers (latin-1, no control characters but
// HTAB), leaving out what readSessionCookie does not claim to handle: backslash escapes inside
// quotes (http.cookies._unquote decodes them). Mostly `name=value` pairs, some noise.
const cookieHeaderWith = (spaces: readonly string[]): fc.Arbitrary<string> => {
  const space = fc.string({ unit: fc.constantFrom(...spaces), maxLength: 2 });
  const pair = fc
    .record({
      before: space,
      name: fc.constantFrom('sessionid', 'sessionid', 'csrftoken', 'sessionid2', 'Sessionid', ''),
      between: fc.tuple(space, space),
      value: fc.string({ unit: fc.constantFrom('a', 'Z', '0', ':', '.', '-', '_', '=', '"', ' ', 'é', '\xff', ','), maxLength: 10 }),
      quoted: fc.boolean(),
      after: space,
    })
    .map(({ before, name, between, value, quoted, after }) => `${before}${name}${between[0]}=${between[1]}${quoted ? `"${value}"` : value}${after}`);
  const noise = fc.string({ unit: fc.constantFrom('sessionid', '=', ';', '"', 'a', ...spaces), maxLength: 8 });
  return fc.array(fc.oneof({ weight: 4, arbitrary: pair }, { weight: 1, arbitrary: noise }), { maxLength: 5 }).map((parts) => parts.join(';'));
};
const cookieHeader = cookieHeaderWith([' ', '\t', '\xa0']);
// \x85 (NEL) as well: Node delivers it (obs-text), Python's str.strip() removes it, JS's trim() does not.
const nelHeader = cookieHeaderWith([' ', '\x85']);

describeWithEachDjango(['django'], (django) => `property corpus: the real ${django} and django-redis read and write what we do`, ({ django: python }, version) => {
  const codec = new SessionCodec({ secretKey: SECRET });
  const cookieCodec = new SessionCodec({ secretKey: SECRET, salt: SIGNED_COOKIES_SALT, legacyDecode: false });
  let corpus: Array<{ map: Map<string, unknown>; ts: number; db: string; cookie: string; pickle: Buffer; json: Buffer }>;
  let datetimePickles: Buffer[];
  let headers: string[];
  let nelHeaders: string[];
  let py: PyResults;

  beforeAll(() => {
    corpus = fc.sample(corpusItem, { seed: SEED, numRuns: SIZE }).map(({ map, ts }) => ({
      map,
      ts,
      db: codec.encodeEntries(map, ts),
      cookie: cookieCodec.encodeEntries(map, ts),
      pickle: CACHE_SERIALIZERS.pickle.dumps(map),
      json: CACHE_SERIALIZERS.json.dumps(map),
    }));
    datetimePickles = fc.sample(datetimePickle({ forPython: true }), { seed: SEED + 3, numRuns: SIZE });
    // Belt and braces: Python's unpickler calls what a pickle names (only forPython: false names these).
    for (const b of datetimePickles) expect(b.toString('latin1')).not.toMatch(/cos\nsystem\n|cbuiltins\n/);
    headers = fc.sample(cookieHeader, { seed: SEED + 1, numRuns: SIZE });
    nelHeaders = fc.sample(nelHeader, { seed: SEED + 2, numRuns: SIZE });
    const request = {
      secret: SECRET,
      sessions: corpus.map(({ ts, db, cookie }) => ({ ts, db, cookie })),
      pickles: corpus.map(({ map, pickle }) => ({ b64: pickle.toString('base64'), value: pickleCanon(map) })),
      jsons: corpus.map(({ map, json }) => ({ b64: json.toString('base64'), value: canon(map) })),
      datetime_pickles: datetimePickles.map((b) => b.toString('base64')),
      cookie_headers: [...headers, ...nelHeaders],
    };
    const run = spawnSync(python, [SCRIPT], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: 120_000 });
    if (run.status !== 0) throw new Error(`check_corpus.py failed (${run.status ?? run.signal}): ${run.stderr || run.error}`);
    py = JSON.parse(run.stdout) as PyResults;
    expect(py.sessions).toHaveLength(SIZE);
  }, 150_000);

  it(`${version.name} decodes every session_data to the value encoded, key order included`, () => {
    expect(py.django.startsWith(`${version.release}.`)).toBe(true);
    expect(failures(corpus, ({ map }, i) => expect(canon(fromPy(py.sessions[i]!.db_decoded))).toEqual(canon(map)))).toEqual([]);
  });

  it("Django's json.dumps(separators=(',', ':')) of each value is the model the unit properties use", () => {
    expect(failures(corpus, ({ map }, i) => expect(py.sessions[i]!.db_json).toBe(pyJsonDumps(map, [',', ':'], 'session')))).toEqual([]);
  });

  it('Django re-encodes each to the same JSON, timestamp and signature: byte for byte unless zlib is involved', () => {
    let identical = 0;
    let pythonOnlyFloats = 0;
    let zlibDisagrees = 0;
    const failed = failures(corpus, ({ map, db }, i) => {
      const r = py.sessions[i]!;
      const django = text(r.db_reencoded);
      const ours = unpack(db);
      const theirs = unpack(django);
      // Each side applies Django's rule to its own zlib.
      expect(theirs.compressed).toBe(r.db_zlib_len < r.db_json.length - 1);
      expect(ours.compressed).toBe(deflateSync(Buffer.from(ours.json, 'latin1')).length < ours.json.length - 1);
      if (ours.compressed !== theirs.compressed) zlibDisagrees++;
      expect(theirs.json).toBe(r.db_json);
      expect(theirs.timestamp).toBe(ours.timestamp);
      if (floatsJsWritesOtherwise(map).length > 0) pythonOnlyFloats++;
      expect(ours.json).toBe(theirs.json);
      if (ours.compressed === theirs.compressed && ours.stored.equals(theirs.stored)) {
        // Same payload: then the whole string, signature included, must be the same.
        expect(db).toBe(django);
        identical++;
      }
    });
    expect(failed).toEqual([]);
    // Enough of the corpus is compared byte for byte, floats that JS would write otherwise included.
    expect(identical).toBeGreaterThan(SIZE / 3);
    expect(pythonOnlyFloats).toBeGreaterThan(0);
    expect(zlibDisagrees).toBeLessThan(SIZE / 5);
  });

  it('our codec reads back what Django re-encoded', () => {
    expect(
      failures(corpus, ({ map }, i) => {
        const result = codec.decode(text(py.sessions[i]!.db_reencoded));
        expect(result.status).toBe('ok');
        expect(canon(decodedMap(result))).toEqual(canon(map));
      }),
    ).toEqual([]);
  });

  it("signed_cookies: Django's engine loads each cookie, and signs its session to the same value (unless zlib differs)", () => {
    let identical = 0;
    const failed = failures(corpus, ({ map, cookie }, i) => {
      const r = py.sessions[i]!;
      expect(canon(fromPy(r.cookie_loaded))).toEqual(canon(map));
      const django = text(r.cookie_reencoded);
      const ours = unpack(cookie);
      const theirs = unpack(django);
      expect(theirs.timestamp).toBe(ours.timestamp);
      expect(ours.json).toBe(theirs.json);
      if (ours.compressed === theirs.compressed && ours.stored.equals(theirs.stored)) {
        expect(cookie).toBe(django);
        identical++;
      }
      const back = cookieCodec.decode(django);
      expect(back.status).toBe('ok');
      expect(canon(decodedMap(back))).toEqual(canon(map));
    });
    expect(failed).toEqual([]);
    expect(identical).toBeGreaterThan(SIZE / 3);
  });

  it.each([['pickle'], ['json']] as const)(
    "django-redis's %s serializer loads our bytes to the value, and dumps it (as loaded, and built afresh) to our bytes",
    (name) => {
      const results = name === 'pickle' ? py.pickles : py.jsons;
      expect(
        failures(corpus, (item, i) => {
          const r = results[i]!;
          const ours = item[name].toString('base64');
          expect(canon(fromPy(r.loaded))).toEqual(canon(item.map));
          expect(text(r.redumped)).toBe(ours);
          expect(text(r.dumped)).toBe(ours);
        }),
      ).toEqual([]);
    },
  );

  it('datetime-shaped pickles: we read what django-redis reads (the datetime as its isoformat()), and refuse only what we refuse on purpose', () => {
    let read = 0;
    let pytzOnly = 0;
    expect(
      failures(datetimePickles, (bytes, i) => {
        const theirs = py.datetime_pickles[i]!;
        let ours: Map<string, unknown> | undefined;
        try {
          ours = CACHE_SERIALIZERS.pickle.loads(bytes);
        } catch (e) {
          if (!(e instanceof PickleError)) throw e;
          // Python may fail too; if it reads the pickle, what it holds must be refused on purpose.
          if (typeof theirs === 'object' && theirs !== null && 'error' in theirs) return;
          expect({ refused: (e as Error).message, python: theirs, why: refusedByDesign(theirs, true) ?? 'NOT REFUSED ON PURPOSE' }).not.toMatchObject({ why: 'NOT REFUSED ON PURPOSE' });
          return;
        }
        read++;
        // Django 4.0+ has no pytz (as pip installs it): it cannot load the pytz.utc datetime Django
        // 3.2 pickled, and drops the session. We read it on purpose, so a session a 3.2 app cached
        // outlives the upgrade: Nest writes it back with datetime.timezone.utc, which every Django reads.
        if (version.since >= 400 && typeof theirs === 'object' && theirs !== null && 'error' in theirs && /No module named 'pytz'/.test(String(theirs.error))) {
          expect(bytes.includes(Buffer.from('pytz'))).toBe(true);
          pytzOnly++;
          return;
        }
        expect(canon(ours)).toEqual(canon(fromPy(theirs)));
      }),
    ).toEqual([]);
    expect(read).toBeGreaterThan(SIZE / 20);
    if (version.since >= 400) expect(pytzOnly).toBeGreaterThan(0);
  });

  it("parse_cookie picks the session cookie readSessionCookie picks (headers without \\x85 or backslashes)", () => {
    const found = headers.filter((_, i) => py.cookie_headers[i] !== null).length;
    expect(found).toBeGreaterThan(SIZE / 5);
    expect(failures(headers, (h, i) => expect(readSessionCookie({ headers: { cookie: h } }, 'sessionid')).toBe(py.cookie_headers[i] ?? undefined))).toEqual([]);
  });

  it("parse_cookie picks the session cookie readSessionCookie picks, with \\x85 (NEL) around names and values", () => {
    const offset = headers.length;
    expect(
      failures(nelHeaders, (h, i) =>
        expect(show({ header: h, value: readSessionCookie({ headers: { cookie: h } }, 'sessionid') ?? null })).toBe(
          show({ header: h, value: py.cookie_headers[offset + i] }),
        ),
      ),
    ).toEqual([]);
  });
});
