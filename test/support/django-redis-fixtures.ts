/**
 * Known answers written by django-redis's own PickleSerializer and JSONSerializer on CPython
 * (test/fixtures/django-redis/serializers.json, made by test/interop/make-cache-serializer-fixtures.py,
 * whose docstring describes the format), and the decoder of its tagged values. Shared by
 * test/unit/pickle.spec.ts (the pickle codec in depth) and test/unit/cache-serializers.spec.ts
 * (the two serializers).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** A value as the fixture file spells it: JSON scalars, or a one-key object naming a Python value. */
export type Tag =
  | null
  | boolean
  | string
  | number
  | { int: string }
  | { float: string }
  | { list: Tag[] }
  | { tuple: Tag[] }
  | { dict: Array<[string, Tag]> }
  | { repeat: [string, number] }
  | { range: number }
  | { format: [string, number] }
  | { keyed: [string, number] }
  | { rows: number }
  | { nest: number };

/** A session both serializers wrote; big ones by length and hash instead of inline. */
export interface DumpsEntry {
  id: string;
  value: Tag;
  pickle?: string;
  pickle_sha256?: string;
  pickle_length?: number;
  /** [offset, length] of each FRAME opcode Python wrote. */
  pickle_frames?: Array<[number, number]>;
  /** The same session at other pickle protocols. */
  protocols?: Record<string, string>;
  json?: string;
  json_sha256?: string;
  json_length?: number;
}

/** Bytes (pickles by protocol, or JSON) that read as `expected`. */
export interface LoadsEntry {
  id: string;
  expected: Tag;
  protocols?: Record<string, string>;
  json?: string;
}

/** A pickle django-redis would hand to `pickle.loads`, which the reader must refuse. */
export interface RefusedPickle {
  id: string;
  pickle: string;
  why: string;
  python: string;
  pickle_loads_ok: boolean;
  /** A datetime case: refused even when reading datetimes under '_session_expiry'. */
  datetime_keys_too?: boolean;
}

/** JSON django-redis's JSONSerializer would not read back as a session. */
export interface RefusedJson {
  id: string;
  json_b64: string;
  why: string;
  python: string;
}

/** A session holding a datetime under '_session_expiry', as Django 3.2's set_expiry(datetime) pickles it. */
export interface DatetimeEntry {
  id: string;
  python_repr: string;
  /** The session as read: '_session_expiry' as Python's isoformat(). */
  expected: Tag;
  /** By protocol ('0'..'5', and crafted spellings such as '4-binbytes'). */
  protocols: Record<string, string>;
  /** PickleSerializer's bytes for the session the writer must produce from `expected`. */
  rewritten: string;
  /** Whether `rewritten` holds '_session_expiry' as a datetime (tzinfo datetime.timezone.utc), not a str. */
  rewritten_is_datetime: boolean;
}

export interface SerializerFixtures {
  python: string;
  django_redis: string;
  pickle_default_protocol: number;
  rce_marker: string;
  dumps: DumpsEntry[];
  shared: { id: string; value: Tag; pickle: string; json: string };
  loads: LoadsEntry[];
  refused_json: RefusedJson[];
  datetimes: DatetimeEntry[];
  datetime_frames: { iso: string; pads: Array<[number, number, string, Array<[number, number]>]> };
  refused_pickles: RefusedPickle[];
}

export const serializerFixtures = JSON.parse(
  readFileSync(new URL('../fixtures/django-redis/serializers.json', import.meta.url), 'utf8'),
) as SerializerFixtures;

export const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A float as Python's repr spells it ('inf', '-inf', 'nan' included). */
export function pyFloat(repr: string): number {
  if (repr === 'inf') return Infinity;
  if (repr === '-inf') return -Infinity;
  if (repr === 'nan') return NaN;
  return Number(repr);
}

/** Sets `obj[key]` as an own data property, even for `__proto__`. */
export function setEntry(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/** A dict of `entries`, in their order: a Map, or a plain object (what the readers return below the top level). */
export function makeDict(entries: Array<[string, unknown]>, dicts: 'map' | 'object'): unknown {
  if (dicts === 'map') return new Map(entries);
  const obj: Record<string, unknown> = {};
  for (const [k, v] of entries) setEntry(obj, k, v);
  return obj;
}

/**
 * The JS value of a fixture tag. Dicts become Maps (`dicts: 'map'`, the default: Python's order
 * even for "10") or plain objects (`'object'`, what the readers return below the top level).
 */
export function toData(t: Tag, dicts: 'map' | 'object' = 'map'): unknown {
  if (t === null || typeof t !== 'object') return t;
  // An int past the double range (2**1100) is read exactly, as a bigint.
  if ('int' in t) return Number.isFinite(Number(t.int)) ? Number(t.int) : BigInt(t.int);
  if ('float' in t) return pyFloat(t.float);
  if ('list' in t) return t.list.map((x) => toData(x, dicts));
  if ('tuple' in t) return t.tuple.map((x) => toData(x, dicts));
  if ('dict' in t) return makeDict(t.dict.map(([k, v]) => [k, toData(v, dicts)]), dicts);
  if ('repeat' in t) return t.repeat[0].repeat(t.repeat[1]);
  if ('range' in t) return Array.from({ length: t.range }, (_, i) => i);
  if ('format' in t) return Array.from({ length: t.format[1] }, (_, i) => t.format[0] + String(i));
  if ('keyed' in t) return makeDict(Array.from({ length: t.keyed[1] }, (_, i) => [t.keyed[0] + String(i), i]), dicts);
  if ('rows' in t) {
    return Array.from({ length: t.rows }, (_, i) =>
      makeDict([['id', i], ['name', `row ${i}`], ['tags', ['a', 'bc', `t${i}`]], ['score', i + 0.5]], dicts),
    );
  }
  let v: unknown[] = [];
  for (let i = 1; i < t.nest; i++) v = [v];
  return v;
}

/** Nested Maps as plain objects (in their order), as the readers return them below the top level. */
export function toObjects(v: unknown): unknown {
  if (v instanceof Map) return makeDict([...v].map(([k, x]) => [k as string, toObjects(x)]), 'object');
  if (Array.isArray(v)) return v.map(toObjects);
  return v;
}
