/*
 * The Python type each JS value is written as, for the pickle writer (./writer.ts) and the JSON
 * cache serializer (../cache-serializers.ts) alike, with the paths their messages name.
 */

import { isPythonOnlyNumber } from '../python-json.js';

function describeJs(v: unknown): string {
  if (typeof v !== 'object' || v === null) return typeof v === 'number' ? String(v) : typeof v === 'bigint' ? 'a bigint' : typeof v;
  let name: unknown;
  try {
    name = (v as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    name = undefined;
  }
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object that is not a plain object';
}

/**
 * The Python type a JS value is written as, by {@link pickleDumps} and the JSON cache serializer.
 *
 * @example
 * const kind: PyKind = pythonKindOf(1.5, 'price'); // 'float'
 */
export type PyKind = 'none' | 'bool' | 'int' | 'float' | 'str' | 'list' | 'dict';

function pyKind(v: unknown, pythonNumbers: boolean): PyKind | undefined {
  switch (typeof v) {
    case 'string':
      return 'str';
    case 'boolean':
      return 'bool';
    case 'number':
      if (!Number.isFinite(v)) return pythonNumbers ? 'float' : undefined;
      return Number.isInteger(v) ? 'int' : 'float';
    case 'bigint':
      return pythonNumbers && isPythonOnlyNumber(v) ? 'int' : undefined;
    case 'object': {
      if (v === null) return 'none';
      const proto: unknown = Object.getPrototypeOf(v);
      if (Array.isArray(v)) return proto === Array.prototype ? 'list' : undefined;
      if (v instanceof Map) return proto === Map.prototype ? 'dict' : undefined;
      return proto === Object.prototype || proto === null ? 'dict' : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The entries of a dict-like value in Python's order: a Map's insertion order (keys must be
 * strings), or a plain object's own enumerable string keys. Throws a `TypeError` naming `path`.
 *
 * @example
 * pythonDictEntries(new Map([['b', 1], ['10', 2]]), 'session'); // [['b', 1], ['10', 2]]
 */
export function pythonDictEntries(v: object, path: string): Array<[string, unknown]> {
  if (v instanceof Map) {
    const entries: Array<[string, unknown]> = [];
    for (const [key, value] of v as Map<unknown, unknown>) {
      if (typeof key !== 'string') throw new TypeError(`dict at "${path}" has a key that is ${describeJs(key)}; keys must be strings`);
      entries.push([key, value]);
    }
    return entries;
  }
  // Like session-codec's checks: JSON.stringify would silently drop symbol keys; refuse instead.
  if (Object.getOwnPropertySymbols(v).length > 0) throw new TypeError(`dict at "${path}" has symbol keys`);
  return Object.keys(v).map((key) => [key, (v as Record<string, unknown>)[key]]);
}

/**
 * Classifies `v` as one of Python's JSON-like types or throws a `TypeError` naming `path`: the
 * same refusals for pickle and JSON (undefined, functions, symbols, bigint, NaN/±Infinity, class
 * instances). Integral numbers are ints (JS cannot tell 1.0 from 1), others floats. With
 * `pythonNumbers`, NaN and ±Infinity are floats and a bigint past the double range an int (the
 * numbers a session read from Django's data may hold: see isPythonOnlyNumber in ../python-json.ts).
 *
 * @example
 * pythonKindOf(2 ** 64, 'n'); // 'int'
 * pythonKindOf(Infinity, 'max', true); // 'float'
 * pythonKindOf(new Date(), 'cart.when'); // TypeError: value at "cart.when" is a Date; ...
 */
export function pythonKindOf(v: unknown, path: string, pythonNumbers = false): PyKind {
  const kind = pyKind(v, pythonNumbers);
  if (kind === undefined) {
    throw new TypeError(`value at "${path}" is ${describeJs(v)}; only None, bool, finite numbers, str, arrays, plain objects and Maps can be stored`);
  }
  return kind;
}

/**
 * `path` extended by a dict key or list index, for error messages.
 *
 * @example
 * childPath(childPath('cart', 'items'), 1); // 'cart.items[1]'
 */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
