/*
 * Python-style JSON, as Django reads and writes `session_data` and django-redis its JSON values,
 * and the limits put on it.
 *
 * JSON as Python's json has it: `NaN`, `Infinity`, `-Infinity` and ints of any size (up to 4,300
 * digits) are read and written as Python does (see {@link isPythonOnlyNumber}); JSON.parse alone
 * would refuse the first three and turn 10**400 into Infinity.
 */

import { randomBytes } from 'node:crypto';
import { constants as bufferConstants } from 'node:buffer';

/**
 * The default cap on what one signed payload may decode to: 4 MiB of JSON. Django sessions are
 * usually well under a kilobyte; anything near this size is misuse, and a compressed payload that
 * inflates past it is a zlib bomb (a 408 KB row inflates to 300 MiB).
 *
 * @example
 * decodeObjectPayload(payload, DEFAULT_MAX_DECODED_BYTES * 2);
 */
export const DEFAULT_MAX_DECODED_BYTES = 4 * 1024 * 1024;

/**
 * How deeply JSON may nest, the outermost array or object counting as level 1 (for a session, the
 * session dict). Python's json recurses once per level and gives up with RecursionError at the
 * recursion limit (1,000 frames, minus the caller's stack): Django 3.2 on Python 3.11 read and
 * wrote 992 levels from the top of a script, 961 inside a test-client request and 968 under
 * runserver (measured once by hand, and by test/interop/make-vectors.py). 500 leaves the other
 * half of Python's stack to whatever calls the session (template rendering, DRF, signals), and
 * keeps JavaScript's own recursion (JSON.stringify) far from its limit.
 *
 * @example
 * jsonDepthExceeds('[[1]]', MAX_JSON_DEPTH); // false
 */
export const MAX_JSON_DEPTH = 500;

/**
 * Throws a `TypeError` unless `limit` is a byte count zlib's `maxOutputLength` accepts: an integer
 * from 1 to `buffer.constants.MAX_LENGTH`.
 *
 * @example
 * assertByteLimit(DEFAULT_MAX_DECODED_BYTES);
 */
export function assertByteLimit(limit: number, name = 'maxDecodedBytes'): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > bufferConstants.MAX_LENGTH) {
    throw new TypeError(`${name} must be an integer from 1 to ${bufferConstants.MAX_LENGTH}, got ${String(limit)}`);
  }
}

/**
 * True when valid JSON `text` nests arrays/objects deeper than `maxDepth` levels (the outermost
 * counting as 1). One linear pass that skips over strings, with no recursion, so it is safe on any
 * input; it stops at the first level too deep. Meant to run before `JSON.parse`: on invalid JSON
 * its answer is meaningless, and the parser will reject the text anyway.
 *
 * @example
 * jsonDepthExceeds('{"a":[{"b":"[[["}]}', 2); // true: 3 levels, the brackets in the string ignored
 */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  // Going deeper takes more than maxDepth opening brackets: most sessions are shorter than that.
  if (text.length <= maxDepth) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Jump to the closing quote: the next '"' preceded by an even number of backslashes.
      const end = closingQuote(text, i);
      if (end < 0) return false; // unterminated string: not JSON
      i = end;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/**
 * Throws a `TypeError` if `value` nests arrays/objects deeper than `maxDepth` levels (the value
 * itself counting as 1), or refers to itself. Walks with an explicit stack, never recursion, so it
 * cannot overflow the call stack whatever the input. Sees what `JSON.stringify` would visit: array
 * elements and own enumerable string-keyed properties (`toJSON` is not called).
 *
 * @example
 * assertJsonDepth([[[1]]], 2); // TypeError: JSON value nested deeper than 2 levels
 */
export function assertJsonDepth(value: unknown, maxDepth: number = MAX_JSON_DEPTH): void {
  walkJson(value, maxDepth);
}

/** {@link assertJsonDepth}; true when the value holds a number JSON lacks ({@link isPythonOnlyNumber}). */
function walkJson(value: unknown, maxDepth: number): boolean {
  if (typeof value !== 'object' || value === null) return isPythonOnlyNumber(value);
  let pythonOnly = false;
  // One frame per open container: the container and the children still to visit.
  const onPath = new Set<object>([value]);
  const containers: object[] = [value];
  const pending: unknown[][] = [childrenOf(value)];
  while (pending.length > 0) {
    const children = pending[pending.length - 1] as unknown[];
    if (children.length === 0) {
      pending.pop();
      onPath.delete(containers.pop() as object);
      continue;
    }
    const child = children.pop();
    if (typeof child !== 'object' || child === null) {
      if (!pythonOnly && isPythonOnlyNumber(child)) pythonOnly = true;
      continue;
    }
    if (onPath.has(child)) {
      throw new TypeError('JSON value refers to itself (circular structure)');
    }
    if (containers.length + 1 > maxDepth) throw tooDeep(maxDepth);
    onPath.add(child);
    containers.push(child);
    pending.push(childrenOf(child));
  }
  return pythonOnly;
}

function tooDeep(maxDepth: number): TypeError {
  const which = maxDepth === MAX_JSON_DEPTH ? ' (MAX_JSON_DEPTH)' : '';
  return new TypeError(`JSON value nested deeper than ${maxDepth} levels${which}; Python's json could not reliably read it back`);
}

function childrenOf(container: object): unknown[] {
  if (Array.isArray(container)) return container.slice();
  return Object.keys(container).map((k) => (container as Record<string, unknown>)[k]);
}

/**
 * Byte-identical to Python's `json.dumps(obj, separators=(",", ":"))` (ensure_ascii) for values
 * that are JSON in both languages: every character outside 0x20..0x7E becomes `\uxxxx` (lowercase;
 * DEL included; astral characters as the surrogate pair JS strings already hold); non-integral
 * floats in Python's `repr` form (`1e-05`). Python's numbers that JSON lacks are written as
 * Python writes them (see {@link isPythonOnlyNumber}): NaN, Infinity and -Infinity as `NaN`,
 * `Infinity`, `-Infinity`, a bigint as its digits. Differences that remain: integral floats
 * (`1.0` in Python, `1` here: JS has one number type), ints above 2^53 held in a number (the
 * double's digits), and integer-like keys, which JS objects list first. Callers must pass JSON
 * values only: like `JSON.stringify`, this drops `undefined`/functions.
 *
 * Throws a `TypeError` for values nested deeper than `maxDepth` (default {@link MAX_JSON_DEPTH})
 * or circular, checked first without recursion: Python could not read such JSON back, and
 * `JSON.stringify` would overflow the call stack on it (a `RangeError` out of every later save).
 *
 * @example
 * pythonJsonDumps({ name: 'Zoë', e: '😀' }); // '{"name":"Zo\\u00eb","e":"\\ud83d\\ude00"}'
 * pythonJsonDumps([Infinity, NaN]); // '[Infinity,NaN]'
 */
export function pythonJsonDumps(obj: unknown, maxDepth: number = MAX_JSON_DEPTH): string {
  const pythonOnly = walkJson(obj, maxDepth);
  // Only when there is one: a replacer costs a call per value. The sentinel carries a random
  // nonce, so no string the caller stored can be mistaken for one.
  const sentinel = pythonOnly ? `${randomBytes(12).toString('hex')}:` : '';
  let json: string | undefined;
  try {
    json = pythonOnly
      ? JSON.stringify(obj, (_key, v: unknown) => (isPythonOnlyNumber(v) ? sentinel + pythonNumberToken(v) : v))
      : JSON.stringify(obj);
  } catch (e) {
    // Only a toJSON() that returns something deeper than it is can still get here.
    if (e instanceof RangeError && /call stack/i.test(e.message)) throw tooDeep(maxDepth);
    throw e;
  }
  if (json === undefined) {
    throw new TypeError(`Object of type ${typeof obj} is not JSON serializable`);
  }
  if (pythonOnly) json = json.replaceAll(new RegExp(`"${sentinel}([^"]*)"`, 'g'), '$1');
  // JSON.stringify already escapes controls (as Python does, lowercase) and lone surrogates;
  // everything left above 0x7E is escaped here, per UTF-16 code unit.
  const ascii = json.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  // Non-integral floats as Python's repr writes them ('1e-05', not '0.00001'); strings are skipped,
  // and so are integers (a bigint's digits would be Infinity as a number).
  if (!/\d[.eE]/.test(ascii)) return ascii;
  return ascii.replace(JSON_TOKEN, (token) => {
    if (token.startsWith('"') || !/[.eE]/.test(token)) return token;
    const value = Number(token);
    return Number.isInteger(value) ? token : pythonFloatRepr(value);
  });
}

/** A JSON string (skipped) or number token. */
const JSON_TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * `repr(x)` of a finite, non-integral float: the same shortest round-trip digits as JS (both pick
 * the closest shortest), but Python switches to exponent form below 1e-4 (JS: below 1e-6) and
 * writes at least two exponent digits ('1e-05', JS '1e-5').
 */
export function pythonFloatRepr(x: number): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x));
  if (m === null) throw new TypeError(`cannot format ${String(x)} as a Python float`);
  const sign = m[1] as string;
  let digits = (m[2] as string) + (m[3] ?? '');
  // The value is 0.<digits> × 10^decpt, Python's convention in format_float_short.
  let decpt = (m[2] as string).length + Number(m[4] ?? 0);
  const leadingZeros = /^0*/.exec(digits)![0].length;
  digits = digits.slice(leadingZeros).replace(/0+$/, '');
  decpt -= leadingZeros;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const exponent = decpt - 1;
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
}


/**
 * Python's `sys.int_info.default_max_str_digits` (3.11, and 3.7+ security releases): converting an
 * int of more decimal digits to or from text raises ValueError, so Python's json can neither write
 * nor read one, nor pickle's text opcodes. The readers here refuse such ints the same way.
 */
export const MAX_INT_DIGITS = 4300;

const INT_DIGITS_BOUND = 10n ** BigInt(MAX_INT_DIGITS);

/**
 * True for the numbers Python has and JSON lacks, in the form this package holds them: a float
 * NaN, Infinity or -Infinity (a JS number), or an int past the double range (a bigint: as a number
 * it would be ±Infinity, a float; at most {@link MAX_INT_DIGITS} digits). Python's json writes them
 * (`NaN`, `Infinity`, `-Infinity`, the int's digits) and so may Django in `session_data` and in
 * django-redis values, and pickle holds them too. The readers return them in this form, the engines'
 * writers write them back as Python does; `SessionStore.set()` still refuses them from the app
 * (`JSON.stringify`, hence `res.json()`, would turn NaN into null and throw on a bigint).
 *
 * @example
 * isPythonOnlyNumber(Infinity); // true
 * isPythonOnlyNumber(10n ** 400n); // true
 * isPythonOnlyNumber(10n); // false: a number holds it
 */
export function isPythonOnlyNumber(v: unknown): v is number | bigint {
  if (typeof v === 'number') return !Number.isFinite(v);
  if (typeof v !== 'bigint') return false;
  const magnitude = v < 0n ? -v : v;
  return magnitude < INT_DIGITS_BOUND && !Number.isFinite(Number(v));
}

/** How Python's json writes a number {@link isPythonOnlyNumber} accepts. */
function pythonNumberToken(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

function pythonNumberOf(token: string): number | bigint {
  if (token === 'NaN') return NaN;
  if (token === 'Infinity') return Infinity;
  if (token === '-Infinity') return -Infinity;
  return BigInt(token);
}

// A run of 309 digits: the shortest int a double cannot hold (10**308 < 2**1024 < 10**309).
// The lookbehind starts a match only at the first digit of a run, which keeps the search linear.
const LONG_DIGIT_RUN = /(?<![0-9])[0-9]{309}/;
const NUMBER_TOKEN = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/**
 * `json.loads` for JSON as Python writes it: `JSON.parse`, plus Python's `NaN`, `Infinity` and
 * `-Infinity` (read as those numbers) and ints past the double range (read as bigints, where
 * `JSON.parse` would make them Infinity). An int of more than {@link MAX_INT_DIGITS} digits is a
 * SyntaxError, as Python's `json.loads` raises ValueError for it. Invalid JSON is a SyntaxError
 * from `JSON.parse`; a "__proto__" key is an own data property, as `JSON.parse` makes it.
 *
 * JSON without those tokens (nearly all of it) goes straight to `JSON.parse`; otherwise one linear
 * pass that skips strings replaces each token by a string carrying a random nonce, and a reviver
 * puts the number back.
 *
 * @example
 * parsePythonJson('{"max":Infinity,"n":NaN}'); // { max: Infinity, n: NaN }
 */
export function parsePythonJson(text: string): unknown {
  if (!text.includes('NaN') && !text.includes('Infinity') && !LONG_DIGIT_RUN.test(text)) return JSON.parse(text);
  const nonce = `${randomBytes(12).toString('hex')}:`;
  const parts: string[] = [];
  let copied = 0;
  const replace = (start: number, end: number): void => {
    parts.push(text.slice(copied, start), `"${nonce}${text.slice(start, end)}"`);
    copied = end;
  };
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = closingQuote(text, i);
      if (end < 0) break; // unterminated: JSON.parse says where
      i = end + 1;
    } else if (c === 0x4e /* N */ && text.startsWith('NaN', i)) {
      replace(i, (i += 3));
    } else if (c === 0x49 /* I */ && text.startsWith('Infinity', i)) {
      replace(i, (i += 8));
    } else if (c === 0x2d /* - */ && text.startsWith('-Infinity', i)) {
      replace(i, (i += 9));
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER_TOKEN.lastIndex = i;
      const m = NUMBER_TOKEN.exec(text);
      if (m === null) {
        i++;
        continue;
      }
      const end = i + m[0].length;
      if (m[1] === undefined && m[2] === undefined) {
        const digits = m[0].length - (c === 0x2d ? 1 : 0);
        if (digits > MAX_INT_DIGITS) throw new SyntaxError(`an int of ${digits} digits; Python's json refuses more than ${MAX_INT_DIGITS}`);
        if (digits >= 309 && !Number.isFinite(Number(m[0]))) replace(i, end);
      }
      i = end;
    } else {
      i++;
    }
  }
  if (parts.length === 0) return JSON.parse(text);
  parts.push(text.slice(copied));
  return JSON.parse(parts.join(''), (_key, v: unknown) =>
    typeof v === 'string' && v.startsWith(nonce) ? pythonNumberOf(v.slice(nonce.length)) : v,
  );
}

/** The index of the '"' closing the JSON string opened at `open`, or -1 when there is none. */
function closingQuote(text: string, open: number): number {
  let end = open;
  for (;;) {
    end = text.indexOf('"', end + 1);
    if (end < 0) return -1;
    let slashes = 0;
    while (text.charCodeAt(end - 1 - slashes) === 0x5c /* \ */) slashes++;
    if (slashes % 2 === 0) return end;
  }
}

// Characters pythonJsonDumps writes as more than themselves: controls, '"', '\', and everything
// from DEL up (one \uxxxx per UTF-16 code unit).
const ESCAPED = /[\u0000-\u001f"\\\u007f-\uffff]/;

/** The length of `s` once {@link pythonJsonDumps} writes it, quotes included. */
function jsonStringLength(s: string): number {
  let n = s.length + 2;
  if (!ESCAPED.test(s)) return n;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      if (c === 0x22 || c === 0x5c) n += 1;
    } else if (c >= 0x7f || (c !== 0x08 && c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d)) {
      n += 5; // \u00XX, \uXXXX
    } else {
      n += 1; // \b \t \n \f \r
    }
  }
  return n;
}

/**
 * The length of a scalar as {@link pythonJsonDumps} writes it. Anything that is not a scalar
 * Python's json writes counts as `null`: callers check values before writing them.
 */
function jsonScalarLength(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return jsonStringLength(v);
    case 'boolean':
      return v ? 4 : 5;
    case 'bigint':
      return v.toString().length;
    case 'number': {
      if (!Number.isFinite(v)) return pythonNumberToken(v).length;
      // Where JS and Python both write plain digits, they write the same ones (see pythonFloatRepr).
      if (Number.isInteger(v) || Math.abs(v) >= 1e-4) return String(v).length;
      return pythonFloatRepr(v).length;
    }
    default:
      return 4;
  }
}

/**
 * How many bytes of JSON {@link pythonJsonDumps} writes for `value` (a Map as a dict, as
 * `SessionCodec.encodeEntries` writes the session), a container referred to n times counted n
 * times, as the JSON repeats it; as soon as the count passes `limit`, some number above `limit`.
 * This is the size a session read from a pickle (whose memo shares containers) or from foreign
 * JSON would have once saved as `session_data`, checked against `maxDecodedBytes` when reading so
 * that no session is accepted that no save could write. Without recursion, and linear in the
 * value's size in memory whatever the sharing: each container and each long string is measured once.
 *
 * @example
 * const row = [1, 2, 3];
 * jsonEncodedLength(new Map([['a', row], ['b', row]]), 1024); // 23: {"a":[1,2,3],"b":[1,2,3]}
 */
export function jsonEncodedLength(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) return jsonScalarLength(value);
  interface Frame {
    readonly container: object;
    readonly keys: readonly string[] | undefined;
    readonly values: readonly unknown[];
    next: number;
    length: number;
  }
  const frameOf = (container: object): Frame => {
    if (Array.isArray(container)) return { container, keys: undefined, values: container, next: 0, length: 2 };
    if (container instanceof Map) return { container, keys: [...container.keys()] as string[], values: [...container.values()], next: 0, length: 2 };
    const keys = Object.keys(container);
    return { container, keys, values: keys.map((k) => (container as Record<string, unknown>)[k]), next: 0, length: 2 };
  };
  const measured = new Map<object, number>();
  // Keyed by the string itself: a string shared through a pickle's memo is one JS string, whose
  // hash V8 keeps, so a 1 MB string referred to 1,000 times is scanned once.
  const longStrings = new Map<string, number>();
  const scalarLength = (v: unknown): number => {
    if (typeof v !== 'string' || v.length < 256) return jsonScalarLength(v);
    let n = longStrings.get(v);
    if (n === undefined) longStrings.set(v, (n = jsonStringLength(v)));
    return n;
  };
  const open = new Set<object>([value]);
  const stack: Frame[] = [frameOf(value)];
  for (;;) {
    const top = stack[stack.length - 1] as Frame;
    if (top.next < top.values.length) {
      const i = top.next++;
      if (i > 0) top.length += 1; // ','
      if (top.keys !== undefined) top.length += scalarLength(top.keys[i]) + 1; // "key":
      const child = top.values[i];
      if (typeof child === 'object' && child !== null) {
        const known = measured.get(child);
        if (known === undefined) {
          if (open.has(child)) throw new TypeError('JSON value refers to itself (circular structure)');
          open.add(child);
          stack.push(frameOf(child));
          continue;
        }
        top.length += known;
      } else {
        top.length += scalarLength(child);
      }
      if (top.length > limit) return top.length;
      continue;
    }
    stack.pop();
    open.delete(top.container);
    measured.set(top.container, top.length);
    const parent = stack[stack.length - 1];
    if (parent === undefined) return top.length;
    parent.length += top.length;
    if (parent.length > limit) return parent.length;
  }
}
