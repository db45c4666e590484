/*
 * Writing (`pickleDumps`) reproduces CPython 3.11's C pickler at protocol 4 or 5 byte for byte
 * (for this data the two differ in the PROTO byte alone):
 *
 *   \x80\x04 (or \x80\x05), then frames: `\x95 <u64 LE length>` opens a frame, written only when
 *   its payload is at least 4 bytes; a frame is closed at the start of saving any object once it
 *   holds ≥ 65,536 bytes, and a str whose UTF-8 is ≥ 65,536 bytes is written outside any frame
 *   (the frame so far is closed first). STOP is the last byte of the last frame.
 *   Every str, list and dict is followed by MEMOIZE; a container seen again is written as BINGET
 *   / LONG_BINGET. Lists: `]\x94` then nothing (empty), `<item> a` (one item), or batches
 *   `( <≤1000 items> e` until all are written. Dicts: `}\x94` then nothing, `<k> <v> s`, or batches
 *   `( <≤1000 pairs> u` repeated while a batch was full (so 1000 pairs end with an empty `(u`,
 *   as in CPython's batch_dict_exact).
 *
 * With `datetimeKeys`, the value of such a key of the top-level dict that is a string exactly as
 * `isoformat()` writes an aware UTC datetime ('YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00', microseconds
 * present only when not 0, so that reading the pickle gives the same string back) is written as
 * CPython writes `datetime.datetime(<10-byte state>, datetime.timezone.utc)`, i.e.
 * `\x8c\x08datetime\x94 \x8c\x08datetime\x94 \x93\x94 C\n<state>\x94 h<m> \x8c\x08timezone\x94
 * \x93\x94 h<m> \x8c\ttimedelta\x94 \x93\x94 K\x00K\x00K\x00 \x87\x94 R\x94 \x85\x94 R\x94 \x86\x94 R\x94`
 * (h<m>: BINGET of the memoized module str 'datetime', one interned object in CPython), framed
 * like the rest. Not `pytz.utc`, although Django 3.2 writes that: its pickle names `pytz._UTC`,
 * and a pip install of Django >= 4.0 has no pytz, so its cache engine would fail to load the
 * session and drop it; Django 3.2 reads timezone.utc as well. Any other string (a naive or
 * non-UTC isoformat, '.000000', 'Z', a space instead of 'T') stays a str.
 *
 * JS has no string identity, so a repeated str is written again; CPython writes BINGET when the
 * very same str object recurs. The output therefore equals CPython's whenever the Python value
 * shares no str objects other than the ones CPython always shares ('' and one-character strings
 * below U+0100, which are singletons in CPython and are written as BINGET here too); it is always
 * read back by Python to the same value.
 */

import { jsonEncodedLength } from '../python-json.js';
import { datetimeStateOfUtcIsoformat } from './datetime.js';
import {
  APPEND, APPENDS, BINFLOAT, BINGET, BININT, BININT1, BININT2, BINUNICODE, BINUNICODE8, EMPTY_DICT,
  EMPTY_LIST, FRAME, LONG1, LONG4, LONG_BINGET, MARK, MEMOIZE, NEWFALSE, NEWTRUE, NONE, PROTO, REDUCE,
  SETITEM, SETITEMS, SHORT_BINBYTES, SHORT_BINUNICODE, STACK_GLOBAL, STOP, TUPLE1, TUPLE2, TUPLE3,
} from './opcodes.js';
import { checkByteLimit, checkDatetimeKeys, checkMaxDepth } from './options.js';
import { childPath, pythonDictEntries, pythonKindOf } from './values.js';

/** Options for {@link pickleDumps}. */
export interface PickleDumpsOptions {
  /**
   * The PROTO byte: 4 (the default: `pickle.DEFAULT_PROTOCOL` on Python 3.8 to 3.13, what
   * django-redis writes there) or 5 (`pickle.HIGHEST_PROTOCOL`, what Django's own RedisCache writes;
   * Python 3.14's DEFAULT_PROTOCOL; django-redis `PICKLE_VERSION=5`); for JSON-like data nothing
   * else differs.
   */
  protocol?: 4 | 5;
  /** Refuse (TypeError) containers nested deeper than this; default {@link PICKLE_MAX_DEPTH}. */
  maxDepth?: number;
  /**
   * Write NaN, ±Infinity (as floats) and bigints past the double range (as ints), the numbers
   * Python has and JSON lacks, which a session read with `pythonNumbers` may hold. Default false:
   * they are refused (TypeError), as for any other value.
   */
  pythonNumbers?: boolean;
  /**
   * Refuse (RangeError) a value whose pickle is at most this many bytes but whose JSON, shared
   * containers expanded, would be more: {@link pickleLoads} with the same limit could not read it
   * back. Default none.
   */
  maxDecodedBytes?: number;
  /**
   * Keys of the top-level dict whose string value, when it is exactly what `isoformat()` writes
   * for an aware UTC datetime, is written as `datetime.datetime(..., tzinfo=datetime.timezone.utc)`
   * as CPython pickles it (not pytz.utc: Django >= 4.0 installed with pip has no pytz; Django 3.2
   * reads timezone.utc too). Default none.
   */
  datetimeKeys?: readonly string[];
}

const BATCHSIZE = 1000;
// CPython's framing constants (_pickle.c): FRAME_SIZE_TARGET, FRAME_SIZE_MIN, FRAME_HEADER_SIZE.
const FRAME_SIZE_TARGET = 64 * 1024;
const FRAME_SIZE_MIN = 4;
const FRAME_HEADER_SIZE = 9;

/** An output buffer that frames exactly as CPython's C pickler (_Pickler_Write & co). */
class FramedOutput {
  private buf = Buffer.allocUnsafe(1024);
  private len = 0;
  private framing = false;
  private frameStart = -1;

  startFraming(): void {
    this.framing = true;
  }

  /** Reserves `n` bytes (opening a frame first when one is due) and returns their offset. */
  reserve(n: number): number {
    const opening = this.framing && this.frameStart === -1;
    this.ensure(n + (opening ? FRAME_HEADER_SIZE : 0));
    if (opening) {
      this.frameStart = this.len;
      this.len += FRAME_HEADER_SIZE;
    }
    const at = this.len;
    this.len += n;
    return at;
  }

  byte(b: number): void {
    const at = this.reserve(1); // before reading this.buf: reserve() may replace it
    this.buf[at] = b;
  }

  /** An opcode followed by a 4-byte little-endian integer. */
  opcodeInt32LE(op: number, n: number, signed: boolean): void {
    const at = this.reserve(5);
    this.buf[at] = op;
    if (signed) this.buf.writeInt32LE(n, at + 1);
    else this.buf.writeUInt32LE(n, at + 1);
  }

  /** An opcode followed by a big-endian IEEE 754 double (BINFLOAT). */
  opcodeDoubleBE(op: number, x: number): void {
    const at = this.reserve(9);
    this.buf[at] = op;
    this.buf.writeDoubleBE(x, at + 1);
  }

  bytes(data: Uint8Array): void {
    const at = this.reserve(data.length);
    this.buf.set(data, at);
  }

  /** _Pickler_write_bytes: a payload of ≥ 64 KiB goes outside any frame, with its header. */
  headerAndPayload(header: Uint8Array, payload: Uint8Array): void {
    if (payload.length < FRAME_SIZE_TARGET) {
      this.bytes(header);
      this.bytes(payload);
      return;
    }
    this.commitFrame();
    const framing = this.framing;
    this.framing = false;
    this.bytes(header);
    this.bytes(payload);
    this.framing = framing;
  }

  /** The check CPython makes at the start of every save(): close a frame that reached 64 KiB. */
  opcodeBoundary(): void {
    if (this.framing && this.frameStart !== -1 && this.len - this.frameStart - FRAME_HEADER_SIZE >= FRAME_SIZE_TARGET) {
      this.commitFrame();
    }
  }

  commitFrame(): void {
    if (!this.framing || this.frameStart === -1) return;
    const start = this.frameStart;
    const frameLen = this.len - start - FRAME_HEADER_SIZE;
    if (frameLen >= FRAME_SIZE_MIN) {
      this.buf[start] = FRAME;
      this.buf.writeBigUInt64LE(BigInt(frameLen), start + 1);
    } else {
      // Too small to be worth a header: drop the reserved 9 bytes.
      this.buf.copyWithin(start, start + FRAME_HEADER_SIZE, this.len);
      this.len -= FRAME_HEADER_SIZE;
    }
    this.frameStart = -1;
  }

  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }
}

// Lone surrogates: Buffer's UTF-8 would turn them into U+FFFD; CPython writes them 'surrogatepass'.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** UTF-8 with Python's 'surrogatepass': a lone surrogate becomes its own 3-byte sequence. */
function encodeUtf8SurrogatePass(s: string): Buffer {
  if (!LONE_SURROGATE.test(s)) return Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(s.length * 3);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < s.length) {
      const low = s.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (cp < 0x80) {
      out[n++] = cp;
    } else if (cp < 0x800) {
      out[n++] = 0xc0 | (cp >> 6);
      out[n++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      out[n++] = 0xe0 | (cp >> 12);
      out[n++] = 0x80 | ((cp >> 6) & 0x3f);
      out[n++] = 0x80 | (cp & 0x3f);
    } else {
      out[n++] = 0xf0 | (cp >> 18);
      out[n++] = 0x80 | ((cp >> 12) & 0x3f);
      out[n++] = 0x80 | ((cp >> 6) & 0x3f);
      out[n++] = 0x80 | (cp & 0x3f);
    }
  }
  return out.subarray(0, n);
}

/** Python's pickle.encode_long: minimal little-endian two's complement. */
function encodeLong(x: bigint): Buffer {
  const magnitude = x < 0n ? -x : x;
  const nbytes = (magnitude.toString(2).length >> 3) + 1;
  let v = x < 0n ? (1n << BigInt(8 * nbytes)) + x : x;
  const out = Buffer.alloc(nbytes);
  for (let i = 0; i < nbytes; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (x < 0n && nbytes > 1 && out[nbytes - 1] === 0xff && ((out[nbytes - 2] as number) & 0x80) !== 0) {
    return out.subarray(0, nbytes - 1);
  }
  return out;
}

class Pickler {
  private readonly out = new FramedOutput();
  private memoSize = 0;
  // Containers already written: their memo index, and their height, so that a second reference
  // deeper down cannot make the value deeper than the reader accepts.
  private readonly memo = new Map<object, { index: number; height: number }>();
  // CPython's '' and one-character latin-1 strings are singletons, so they recur as BINGET.
  private readonly singletonMemo = new Map<string, number>();
  private readonly ancestors = new Set<object>();
  private root: unknown = undefined;
  // Memo indices of datetime.datetime and datetime.timezone.utc once a datetime was written.
  private datetimeMemo: { cls: number; utc: number } | undefined = undefined;
  /** A container was written twice (BINGET): its JSON may be far longer than the pickle. */
  sharesContainers = false;

  constructor(
    private readonly protocol: 4 | 5,
    private readonly maxDepth: number,
    private readonly datetimeKeys: ReadonlySet<string>,
    private readonly pythonNumbers: boolean,
  ) {}

  dump(value: unknown): Buffer {
    this.out.bytes(Uint8Array.of(PROTO, this.protocol));
    this.out.startFraming();
    this.root = value;
    this.save(value, 'value', 1);
    this.out.byte(STOP);
    this.out.commitFrame();
    return this.out.result();
  }

  /** Writes `v` at nesting level `depth`; returns its height (containers on its longest path down). */
  private save(v: unknown, path: string, depth: number): number {
    this.out.opcodeBoundary();
    switch (pythonKindOf(v, path, this.pythonNumbers)) {
      case 'none':
        this.out.byte(NONE);
        return 0;
      case 'bool':
        this.out.byte(v ? NEWTRUE : NEWFALSE);
        return 0;
      case 'int':
        this.saveInt(v as number | bigint);
        return 0;
      case 'float':
        this.out.opcodeDoubleBE(BINFLOAT, v as number);
        return 0;
      case 'str':
        this.saveStr(v as string);
        return 0;
      case 'list':
      case 'dict':
        return this.saveContainer(v as object, path, depth);
    }
  }

  private saveInt(n: number | bigint): void {
    if (typeof n === 'bigint') {
      this.saveLong(encodeLong(n));
    } else if (n >= 0 && n <= 0xff) {
      this.out.bytes(Uint8Array.of(BININT1, n));
    } else if (n >= 0 && n <= 0xffff) {
      this.out.bytes(Uint8Array.of(BININT2, n & 0xff, n >> 8));
    } else if (n >= -0x80000000 && n <= 0x7fffffff) {
      this.out.opcodeInt32LE(BININT, n, true);
    } else {
      this.saveLong(encodeLong(BigInt(n)));
    }
  }

  /** save_long: LONG1 up to 255 bytes (any finite double), LONG4 beyond (a bigint of 600+ digits). */
  private saveLong(bytes: Buffer): void {
    if (bytes.length < 256) {
      this.out.bytes(Uint8Array.of(LONG1, bytes.length));
    } else {
      this.out.opcodeInt32LE(LONG4, bytes.length, true);
    }
    this.out.bytes(bytes);
  }

  private saveStr(s: string): void {
    const singleton = s.length === 0 || (s.length === 1 && s.charCodeAt(0) <= 0xff);
    if (singleton) {
      const index = this.singletonMemo.get(s);
      if (index !== undefined) return this.saveGet(index);
    }
    const data = encodeUtf8SurrogatePass(s);
    let header: Buffer;
    if (data.length < 256) {
      header = Buffer.of(SHORT_BINUNICODE, data.length);
    } else if (data.length <= 0xffffffff) {
      header = Buffer.alloc(5);
      header[0] = BINUNICODE;
      header.writeUInt32LE(data.length, 1);
    } else {
      header = Buffer.alloc(9);
      header[0] = BINUNICODE8;
      header.writeBigUInt64LE(BigInt(data.length), 1);
    }
    this.out.headerAndPayload(header, data);
    if (singleton) this.singletonMemo.set(s, this.memoSize);
    this.memoize();
  }

  private memoize(): void {
    this.out.byte(MEMOIZE);
    this.memoSize++;
  }

  /**
   * A value of the top-level dict under one of the datetimeKeys: the state of the aware UTC
   * datetime it is the isoformat() of, or undefined to write it as it is.
   */
  private datetimeState(key: string, value: unknown, top: boolean): Buffer | undefined {
    if (!top || typeof value !== 'string' || !this.datetimeKeys.has(key)) return undefined;
    return datetimeStateOfUtcIsoformat(value);
  }

  /**
   * `datetime.datetime(state, datetime.timezone.utc)` as CPython's save_reduce writes it, with the
   * frame check (opcodeBoundary) wherever CPython calls save(): for the datetime, its class and
   * the class's module and name, the args tuple, the bytes, the tzinfo, its class (module, name),
   * its args tuple, the timedelta(0) in it, its class (module, name), its args tuple and each 0.
   * The module str 'datetime' is one interned object in CPython, memoized when first written and
   * written as BINGET after; the class and timezone.utc, being the same objects in every datetime,
   * are BINGET in a second datetime of the same pickle (only with several datetimeKeys).
   *
   * Not pytz.utc, which Django 3.2 itself writes: its pickle names `pytz._UTC`, and a pip install
   * of Django >= 4.0 has no pytz, so its cache engine would fail to load the session and drop it.
   * Django 3.2 reads timezone.utc as well (an aware UTC datetime compares equal either way).
   */
  private saveUtcDatetime(state: Buffer): void {
    this.out.opcodeBoundary(); // the datetime
    const known = this.datetimeMemo;
    // saveGlobal memoizes the module str, the name str, then the class.
    const moduleIndex = this.memoSize;
    if (known !== undefined) {
      this.out.opcodeBoundary(); // datetime.datetime, memoized
      this.saveGet(known.cls);
    } else {
      this.saveGlobal('datetime', 'datetime');
    }
    this.out.opcodeBoundary(); // (state, tzinfo)
    this.out.opcodeBoundary(); // state
    this.out.bytes(Uint8Array.of(SHORT_BINBYTES, state.length));
    this.out.bytes(state);
    this.memoize();
    this.out.opcodeBoundary(); // datetime.timezone.utc
    if (known !== undefined) {
      this.saveGet(known.utc);
    } else {
      this.saveGlobal('datetime', 'timezone', moduleIndex);
      this.out.opcodeBoundary(); // (timedelta(0),)
      this.out.opcodeBoundary(); // timedelta(0)
      this.saveGlobal('datetime', 'timedelta', moduleIndex);
      this.out.opcodeBoundary(); // (0, 0, 0)
      for (let i = 0; i < 3; i++) this.save(0, 'timedelta', 0);
      this.out.byte(TUPLE3);
      this.memoize();
      this.out.byte(REDUCE);
      this.memoize();
      this.out.byte(TUPLE1);
      this.memoize();
      this.out.byte(REDUCE);
      this.datetimeMemo = { cls: moduleIndex + 2, utc: this.memoSize };
      this.memoize();
    }
    this.out.byte(TUPLE2);
    this.memoize();
    this.out.byte(REDUCE);
    this.memoize();
  }

  /**
   * save_global at protocol 4: module and name as str (each its own save), STACK_GLOBAL. With
   * `moduleIndex`, the module str was written before and is written as BINGET.
   */
  private saveGlobal(module: string, name: string, moduleIndex?: number): void {
    this.out.opcodeBoundary();
    if (moduleIndex === undefined) {
      this.save(module, 'module', 0);
    } else {
      this.out.opcodeBoundary();
      this.saveGet(moduleIndex);
    }
    this.save(name, 'name', 0);
    this.out.byte(STACK_GLOBAL);
    this.memoize();
  }

  private saveGet(index: number): void {
    if (index < 256) {
      this.out.bytes(Uint8Array.of(BINGET, index));
    } else {
      this.out.opcodeInt32LE(LONG_BINGET, index, false);
    }
  }

  private saveContainer(obj: object, path: string, depth: number): number {
    if (this.ancestors.has(obj)) throw new TypeError(`value at "${path}" is a circular reference`);
    const known = this.memo.get(obj);
    if (known !== undefined) {
      this.sharesContainers = true;
      this.checkDepth(depth + known.height - 1, path);
      this.saveGet(known.index);
      return known.height;
    }
    this.checkDepth(depth, path);
    this.ancestors.add(obj);
    const memoEntry = { index: this.memoSize, height: 0 };
    let childHeight: number;
    if (Array.isArray(obj)) {
      this.out.byte(EMPTY_LIST);
      this.memo.set(obj, memoEntry);
      this.memoize();
      childHeight = this.saveListItems(obj, path, depth);
    } else {
      this.out.byte(EMPTY_DICT);
      this.memo.set(obj, memoEntry);
      this.memoize();
      childHeight = this.saveDictItems(pythonDictEntries(obj, path), path, depth, obj === this.root);
    }
    this.ancestors.delete(obj);
    memoEntry.height = childHeight + 1;
    return memoEntry.height;
  }

  private checkDepth(depth: number, path: string): void {
    if (depth > this.maxDepth) throw new TypeError(`value at "${path}" is nested deeper than ${this.maxDepth} levels`);
  }

  // _pickle.c batch_list_exact. Returns the tallest item's height.
  private saveListItems(items: readonly unknown[], path: string, depth: number): number {
    let height = 0;
    if (items.length === 0) return height;
    if (items.length === 1) {
      height = this.save(items[0], childPath(path, 0), depth + 1);
      this.out.byte(APPEND);
      return height;
    }
    let total = 0;
    do {
      this.out.byte(MARK);
      let inBatch = 0;
      while (total < items.length) {
        height = Math.max(height, this.save(items[total], childPath(path, total), depth + 1));
        total++;
        if (++inBatch === BATCHSIZE) break;
      }
      this.out.byte(APPENDS);
    } while (total < items.length);
    return height;
  }

  // _pickle.c batch_dict_exact: unlike lists, a full last batch is followed by an empty one.
  private saveDictItems(entries: ReadonlyArray<[string, unknown]>, path: string, depth: number, top: boolean): number {
    let height = 0;
    if (entries.length === 0) return height;
    if (entries.length === 1) {
      const [key, value] = entries[0] as [string, unknown];
      this.save(key, path, depth + 1);
      height = this.saveDictValue(key, value, path, depth, top);
      this.out.byte(SETITEM);
      return height;
    }
    let next = 0;
    let inBatch: number;
    do {
      inBatch = 0;
      this.out.byte(MARK);
      while (next < entries.length) {
        const [key, value] = entries[next++] as [string, unknown];
        this.save(key, path, depth + 1);
        height = Math.max(height, this.saveDictValue(key, value, path, depth, top));
        if (++inBatch === BATCHSIZE) break;
      }
      this.out.byte(SETITEMS);
    } while (inBatch === BATCHSIZE);
    return height;
  }

  private saveDictValue(key: string, value: unknown, path: string, depth: number, top: boolean): number {
    const state = this.datetimeState(key, value, top);
    if (state === undefined) return this.save(value, childPath(path, key), depth + 1);
    this.saveUtcDatetime(state);
    return 0;
  }
}

/**
 * `pickle.dumps(value, 4)` (or 5: `options.protocol`) byte for byte as CPython 3.11 writes it,
 * for JSON-like data: null → None, booleans, integral numbers → int, other finite numbers →
 * float, strings → str (lone surrogates kept, as 'surrogatepass'), arrays → list, plain objects and `Map<string, unknown>` →
 * dict in insertion order. A container referenced twice is written once and then as BINGET, as
 * CPython does for a shared object. Throws a `TypeError` for undefined, functions, symbols,
 * bigint, NaN/±Infinity (both accepted with `pythonNumbers`: see the file header), class
 * instances, non-string Map keys, cycles and nesting deeper than `maxDepth` (default
 * {@link PICKLE_MAX_DEPTH}), and a `RangeError` past `maxDecodedBytes` of expanded JSON. With `datetimeKeys`, an exact aware-UTC
 * isoformat() string under those keys of the top-level dict is written as a datetime.datetime
 * with tzinfo datetime.timezone.utc, which every Django reads (see the file header).
 *
 * @example
 * pickleDumps({ a: 1 }).toString('hex'); // '8004950a000000000000007d948c0161944b01732e'
 * pickleDumps({ _session_expiry: '2030-01-02T03:04:05+00:00' }, { datetimeKeys: ['_session_expiry'] });
 * // = pickle.dumps({'_session_expiry': datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)}, 4)
 */
export function pickleDumps(value: unknown, options: PickleDumpsOptions = {}): Buffer {
  const protocol = options.protocol ?? 4;
  if (protocol !== 4 && protocol !== 5) throw new RangeError(`unsupported pickle protocol ${String(protocol)}`);
  const maxDecodedBytes = checkByteLimit(options.maxDecodedBytes);
  const pickler = new Pickler(protocol, checkMaxDepth(options.maxDepth), checkDatetimeKeys(options.datetimeKeys), options.pythonNumbers === true);
  const bytes = pickler.dump(value);
  // Without shared containers the JSON is at most 6 bytes per pickle byte (False: 1 byte, 'false,'),
  // so only a pickle that shares, or a long one, needs measuring. A pickle longer than the limit
  // is the caller's to refuse (the cache engine checks the value's length).
  if (bytes.length <= maxDecodedBytes && (pickler.sharesContainers || bytes.length * 6 > maxDecodedBytes)) {
    const length = jsonEncodedLength(value, maxDecodedBytes);
    if (length > maxDecodedBytes) {
      throw new RangeError(`the value would be more than maxDecodedBytes (${maxDecodedBytes}) bytes of JSON once read back, shared references expanded: it could not be read back`);
    }
  }
  return bytes;
}
