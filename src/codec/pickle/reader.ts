/*
 * Reading (`pickleLoads`) accepts protocols 0–5 but only the opcodes that build JSON-like data:
 *
 *   None       N                      bool   \x88 \x89 (NEWTRUE/NEWFALSE), I01\n I00\n (protocol 0-1)
 *   int        K M J (BININT1/2/BININT), \x8a \x8b (LONG1/LONG4, little-endian two's complement),
 *              I<decimal>\n L<decimal>L\n (text, protocol 0-1)
 *   float      G (BINFLOAT, big-endian IEEE 754), F<repr>\n (text)
 *   str        \x8c X \x8d (SHORT_BINUNICODE/BINUNICODE/BINUNICODE8: UTF-8 with 'surrogatepass'),
 *              V<raw-unicode-escape>\n (UNICODE, protocol 0-1)
 *   list       ] l a e (EMPTY_LIST, LIST, APPEND, APPENDS)
 *   tuple      ) t \x85 \x86 \x87 (read as JS arrays)
 *   dict       } d s u (EMPTY_DICT, DICT, SETITEM, SETITEMS); str keys only
 *   plumbing   ( 0 1 2 (MARK, POP, POP_MARK, DUP), p q r \x94 (PUT/BINPUT/LONG_BINPUT/MEMOIZE),
 *              g h j (GET/BINGET/LONG_BINGET), \x80 (PROTO ≤ 5), \x95 (FRAME), . (STOP)
 *
 * Everything else (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ*, PERSID, EXT*, bytes,
 * bytearray, sets, Python 2 STRING opcodes, unknown bytes) is refused with a PickleError naming the
 * opcode and its offset. Nothing is ever looked up or called: the reader only builds plain data.
 * Work is linear in the input (memo in a Map, marks as stack offsets, each container converted
 * once however often the memo shares it); the result is at most `maxDepth` (default 1,000)
 * containers deep and has no cycles. Stricter than CPython, which ignores bytes after STOP,
 * tolerates leftover stack items and reads Python 2 STRING opcodes as str.
 *
 * A pickle is a program: a few bytes can make millions of containers (`}` is one byte) or, through
 * the memo, stand for gigabytes of data. With `maxDecodedBytes` (the cache serializers pass the
 * module's), what is made is bounded by the JSON it would write as `session_data`, not by the
 * input's size: every value pushed is charged the least JSON it can write (a container 2 bytes, a
 * str its length + 2, None 4, a separator 1, a memo reference what its value writes at least), and
 * the pickle is refused as soon as the charges pass the limit, before more is built; then the
 * result's exact JSON length, shared containers counted at each reference, must be within it too.
 * Empty dicts and lists are a shared token until something needs one of its own, and at most
 * 4 × maxDepth + 16 items may wait on the stack outside a MARK (CPython leaves a few per level of
 * nesting there), so a hostile pickle costs a stack slot per container at most, never an object.
 *
 * Numbers: an int is a JS number (rounded to the nearest double past 2^53, as JSON.parse rounds),
 * a float a number (NaN and ±Infinity included). With `pythonNumbers` (the cache serializers), an
 * int a double cannot hold at all (past ±2^1024, which would be ±Infinity, a float) is an exact
 * bigint, and one of more than 4,300 digits is refused as Python's own `int()` and json refuse it;
 * the writer then writes NaN and ±Infinity as BINFLOAT and such bigints as LONG1/LONG4, so
 * whatever was read is written back as Python wrote it.
 *
 * One exception, only when asked for with `datetimeKeys` (the cache serializer passes
 * ['_session_expiry']): a `datetime.datetime` that is the value of one of those keys of the
 * top-level dict. Django 3.2's `set_expiry(datetime | timedelta)` stores `_session_expiry` as an
 * aware UTC datetime (`timezone.now()` is `pytz.utc`) and the cache engine pickles the session
 * dict without any JSON step. Such a value is read as the string `isoformat()` gives
 * ('2030-01-02T03:04:05.123456+00:00'; naive: no offset; microseconds left out when 0), which
 * the session layer reads like Django 4+'s ISO `_session_expiry`. Nothing is constructed: the
 * reader recognises exactly the opcode shapes CPython 3.11 writes for it, at protocols 0-5:
 *
 *   datetime.datetime(state[, tzinfo])   GLOBAL 'datetime datetime' or STACK_GLOBAL, then REDUCE
 *                                        with a 1- or 2-tuple; state is 10 bytes (year hi, year
 *                                        lo, month, day, hour, minute, second, µs as 3 bytes BE)
 *                                        of a valid date and time (fold=1, month|0x80, refused)
 *     state as bytes                     SHORT_BINBYTES or BINBYTES (protocol 3+)
 *     state as _codecs.encode(s, 'latin1')  GLOBAL '_codecs encode', REDUCE with (10-character
 *                                        latin-1 str, 'latin1'): how protocols 0-2 spell bytes
 *   tzinfo pytz.utc                      'pytz _UTC' REDUCE () (Django 3.2's timezone.utc)
 *   tzinfo datetime.timezone.utc         'datetime timezone' REDUCE (d,) where d is
 *                                        'datetime timedelta' REDUCE (0, 0, 0)
 *
 * Those five globals are the only names accepted, and each only with exactly those arguments;
 * any other global (datetime.date, pytz._p for a zoned tzinfo, os.system...), any other argument
 * shape (a non-UTC offset, a named timezone, a state of another length, a str state), and any of
 * these parts anywhere else (a bare timedelta or tzinfo, the bytes or the class as a value, a
 * datetime as a dict key, below the top level or under another key) is refused as before.
 * Without `datetimeKeys` GLOBAL, STACK_GLOBAL, REDUCE and bytes are refused at the opcode.
 * Non-UTC offsets are refused on purpose: Django 3.2 never writes them, and the writer
 * writes UTC only, so a session Nest re-saved would give Django 3.2 a str it cannot use.
 */

import { isPythonOnlyNumber, jsonEncodedLength, MAX_INT_DIGITS } from '../python-json.js';
import { DATETIME_STATE_SIZE, isoformatOfDatetimeState } from './datetime.js';
import {
  APPEND, APPENDS, BINBYTES, BINFLOAT, BINGET, BININT, BININT1, BININT2, BINPUT, BINUNICODE,
  BINUNICODE8, describeOpcode, DICT, DUP, EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE, FLOAT, FRAME, GET,
  GLOBAL, HIGHEST_PROTOCOL, INT, LIST, LONG, LONG1, LONG4, LONG_BINGET, LONG_BINPUT, MARK, MEMOIZE,
  NEWFALSE, NEWTRUE, NONE, POP, POP_MARK, PROTO, PUT, REDUCE, SETITEM, SETITEMS, SHORT_BINBYTES,
  SHORT_BINUNICODE, STACK_GLOBAL, STOP, TUPLE, TUPLE1, TUPLE2, TUPLE3, UNICODE,
} from './opcodes.js';
import { checkByteLimit, checkDatetimeKeys, checkMaxDepth } from './options.js';

/**
 * Raised by {@link pickleLoads} for anything outside the supported subset, truncated or trailing
 * data, and structures that are too deep or cyclic. The message names the opcode and the offset.
 *
 * @example
 * try { pickleLoads(data); } catch (e) { if (e instanceof PickleError) treatAsCorrupt(); }
 */
export class PickleError extends Error {
  override name = 'PickleError';
}

/** Options for {@link pickleLoads} and {@link pickleLoadsDict}. */
export interface PickleLoadsOptions {
  /** Refuse (PickleError) containers nested deeper than this; default {@link PICKLE_MAX_DEPTH}. */
  maxDepth?: number;
  /**
   * Refuse (PickleError) a value that would be more than this many bytes of JSON once written out
   * as `session_data` (Python's compact `json.dumps`), every shared reference expanded. Bounds the
   * work as well as the result: while reading, each value made is charged the JSON it would at
   * least write (a container 2 bytes, a str its length + 2, a separator 1...), so a pickle of 4
   * million empty dicts is refused after at most `maxDecodedBytes / 2` of them, never built.
   * Default none (the cache serializers pass `maxDecodedBytes`).
   */
  maxDecodedBytes?: number;
  /**
   * Read an int past the double range (which a number would hold as ±Infinity, a float) as an
   * exact bigint, and refuse (PickleError) an int of more than MAX_INT_DIGITS (4,300) digits, which
   * Python's json could neither write nor read. Default false: such ints are ±Infinity.
   */
  pythonNumbers?: boolean;
  /**
   * Keys of the top-level dict whose value may be a `datetime.datetime` (naive, or aware UTC with
   * `pytz.utc` or `datetime.timezone.utc`), read as its `isoformat()` string. Default none: every
   * GLOBAL/REDUCE is refused. See the file header for the exact shapes.
   */
  datetimeKeys?: readonly string[];
  /**
   * Filled with the keys (of `datetimeKeys`) whose value was a pickled `datetime.datetime`, read as
   * its isoformat() string: what tells it from a str Django 4.1+ stored, so that a writer can keep
   * what Django wrote.
   */
  datetimesRead?: Set<string>;
}

// While reading, containers are kept in these wrappers: a dict must keep Python's key order
// (integer-like keys included) until the top level is handed out as a Map, and APPEND/SETITEM
// must be able to tell a list from a tuple or a dict.
class PyDict {
  // Made on the first item: a pickle may hold millions of empty dicts, and a Map is not small.
  private items: Map<string, unknown> | undefined;
  get size(): number {
    return this.items === undefined ? 0 : this.items.size;
  }
  set(key: string, value: unknown): void {
    (this.items ??= new Map()).set(key, value);
  }
  get map(): ReadonlyMap<string, unknown> {
    return this.items ?? NO_ITEMS;
  }
}
const NO_ITEMS: ReadonlyMap<string, unknown> = new Map();
class PyList {
  // Made on the first item, as PyDict's Map.
  constructor(private values?: unknown[]) {}
  get items(): readonly unknown[] {
    return this.values ?? NO_VALUES;
  }
  add(item: unknown): void {
    (this.values ??= []).push(item);
  }
}
const NO_VALUES: readonly unknown[] = Object.freeze([]);
class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}
type PyContainer = PyDict | PyList | PyTuple;

// An empty dict or list that nothing refers to twice is one shared token on the stack until
// something needs the container itself (an item added, a memo entry, DUP): a pickle of millions of
// EMPTY_DICTs then costs a stack slot each, not an object. Python's empty tuple is one object
// anyway. The Materializer makes a new {} or [] for each occurrence.
const AN_EMPTY_DICT = Object.freeze(new PyDict()) as PyDict;
const AN_EMPTY_LIST = Object.freeze(new PyList()) as PyList;
const THE_EMPTY_TUPLE: PyTuple = Object.freeze(new PyTuple(Object.freeze([])));
const isEmptyToken = (v: unknown): boolean => v === AN_EMPTY_DICT || v === AN_EMPTY_LIST || v === THE_EMPTY_TUPLE;

// The parts of a datetime, read only with `datetimeKeys` (see the file header). They exist on the
// stack and in the memo only: REDUCE consumes them, and the Materializer refuses any left in the
// data, except a PyDatetime under one of the datetimeKeys of the top-level dict. Each remembers
// the opcode that made it, for messages.
abstract class PyPart {
  constructor(
    readonly op: number,
    readonly at: number,
  ) {}
  abstract describe(): string;
  /** Where this part may be, for the message that refuses it anywhere else. */
  abstract readonlyAs(): string;
}

/** The only globals a pickle may name: module and name, as GLOBAL and STACK_GLOBAL give them. */
const ALLOWED_GLOBALS: ReadonlyMap<string, string> = new Map([
  ['datetime\ndatetime', 'datetime.datetime'],
  ['datetime\ntimezone', 'datetime.timezone'],
  ['datetime\ntimedelta', 'datetime.timedelta'],
  ['pytz\n_UTC', 'pytz._UTC'],
  ['_codecs\nencode', '_codecs.encode'],
]);
const ALLOWED_GLOBAL_NAMES = [...ALLOWED_GLOBALS.values()].join(', ');

class PyGlobal extends PyPart {
  constructor(op: number, at: number, readonly name: string) {
    super(op, at);
  }
  describe(): string {
    return `the global ${this.name}`;
  }
  readonlyAs(): string {
    return 'to make a datetime.datetime';
  }
}
class PyBytes extends PyPart {
  constructor(op: number, at: number, readonly data: Buffer) {
    super(op, at);
  }
  describe(): string {
    return 'bytes';
  }
  readonlyAs(): string {
    return 'as the state of a datetime.datetime';
  }
}
/** datetime.timedelta(0): only the offset of datetime.timezone.utc. */
class PyZeroTimedelta extends PyPart {
  describe(): string {
    return 'a datetime.timedelta';
  }
  readonlyAs(): string {
    return 'as the offset of datetime.timezone.utc';
  }
}
/** pytz.utc or datetime.timezone.utc. */
class PyUtc extends PyPart {
  describe(): string {
    return 'a tzinfo';
  }
  readonlyAs(): string {
    return 'as the tzinfo of a datetime.datetime';
  }
}
/** A datetime.datetime, already as Python's isoformat(). */
class PyDatetime extends PyPart {
  constructor(op: number, at: number, readonly isoformat: string) {
    super(op, at);
  }
  describe(): string {
    return 'a datetime.datetime';
  }
  readonlyAs(): string {
    return 'as the value of a top-level key given in datetimeKeys';
  }
}

/**
 * The fewest bytes of JSON `v` (a value on the stack) writes: what a reference to it (DUP, a
 * memo GET) is charged.
 */
function minimumJson(v: unknown): number {
  if (v === null || v === true) return 4;
  if (v === false) return 5;
  if (typeof v === 'string') return v.length + 2;
  return isContainer(v) ? 2 : 1;
}

function isContainer(v: unknown): v is PyContainer {
  return v instanceof PyDict || v instanceof PyList || v instanceof PyTuple;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Unpickler {
  private pos = 0;
  private at = 0; // offset of the opcode being executed, for messages
  private op = 0;
  private readonly items: unknown[] = [];
  // The same value pushed again and again (a run of `}`, DUP or GET, as in a pickle planted to
  // swell the process) is counted here rather than stored, until another operation reads the
  // stack: such a pickle is refused by its budget before the run takes any memory.
  private runValue: unknown = undefined;
  private runCount = 0;
  private readonly marks: number[] = [];
  // An array, not a Map: MEMOIZE numbers entries densely from 0, and a million of them cost a
  // slot each rather than a hash-table entry. `memoSize` is Python's len(memo).
  private readonly memo: unknown[] = [];
  private memoSize = 0;

  constructor(
    private readonly data: Buffer,
    private readonly datetimeKeys: ReadonlySet<string>,
    /**
     * What is left of maxDecodedBytes: each value made is charged at most the JSON it will write,
     * so a legitimate pickle never runs out before its JSON would, and a hostile one is stopped
     * after making maxDecodedBytes / 2 containers at most. A datetime's parts (its module and
     * class names as str among them) are charged a little more than the isoformat they become:
     * BUDGET_SLACK covers that.
     */
    private budget: number,
    private readonly pythonNumbers: boolean,
    /**
     * The most items the stack may hold outside any MARK. CPython's pickler leaves at most a few
     * per level of nesting there (a container, a key, up to three tuple items; batches of list
     * items and dict pairs go after a MARK), so more is no pickle of a value `maxDepth` deep.
     */
    private readonly maxLooseItems: number,
  ) {}

  /** The stack, with any run of one value written out. */
  private get stack(): unknown[] {
    this.endRun();
    return this.items;
  }

  private endRun(): void {
    if (this.runCount === 0) return;
    const value = this.runValue;
    for (let i = 0; i < this.runCount; i++) this.items.push(value);
    this.runCount = 0;
    this.runValue = undefined;
  }

  /** Charges `bytes` of JSON to the budget (a negative count refunds); refuses the pickle once it is spent. */
  private charge(bytes: number): void {
    this.budget -= bytes;
    if (this.budget < 0) this.fail('makes more than maxDecodedBytes of JSON: refused before building it');
  }

  /**
   * Pushes a value that writes at least `bytes` of JSON. After a MARK it is an item of the
   * container the MARK will make or fill, so its separator is charged now; settle() corrects
   * the count when the items land.
   */
  private push(value: unknown, bytes: number): void {
    if (this.marks.length > 0) {
      this.charge(bytes + 1);
    } else {
      this.charge(bytes);
      if (this.items.length + this.runCount >= this.maxLooseItems) this.fail(`leaves more than ${this.maxLooseItems} items outside a MARK, more than any pickle of a value this deep`);
    }
    if (this.runCount > 0 && value === this.runValue) {
      this.runCount++;
      return;
    }
    this.endRun();
    this.runValue = value;
    this.runCount = 1;
  }

  /**
   * `items` stack items (pushed `afterMark` or not) land in a container that held `before` items
   * (dict: pairs, each writing ':' and ',' between pairs): charges what their separators write
   * beyond what push() charged.
   */
  private settle(items: number, before: number, afterMark: boolean): void {
    if (items === 0) return;
    // Between n items of a list n - 1 commas; in a dict, n/2 colons and n/2 - 1 commas: also
    // n - 1. One more when the container already held some.
    this.charge(items - (before === 0 ? 1 : 0) - (afterMark ? items : 0));
  }

  /** The top of the stack as a container of its own (an empty token replaced by a new one). */
  private ownTop(): unknown {
    const top = this.top();
    if (!isEmptyToken(top) || top === THE_EMPTY_TUPLE) return top;
    const own = top === AN_EMPTY_DICT ? new PyDict() : new PyList();
    this.stack[this.stack.length - 1] = own;
    return own;
  }

  run(): unknown {
    const data = this.data;
    for (;;) {
      if (this.pos >= data.length) {
        throw new PickleError(`pickle data was truncated: no STOP opcode before the end (offset ${data.length})`);
      }
      this.at = this.pos;
      const op = data[this.pos++] as number;
      this.op = op;
      switch (op) {
        case PROTO: {
          const proto = this.u8();
          if (proto > HIGHEST_PROTOCOL) this.fail(`unsupported pickle protocol ${proto}`);
          break;
        }
        case FRAME: {
          // CPython only checks that the announced bytes are there; opcodes may cross frames.
          const size = this.u64();
          if (size > this.data.length - this.pos) this.fail(`announces ${size} bytes, only ${this.data.length - this.pos} left: pickle data was truncated`);
          break;
        }
        case STOP:
          return this.stop();

        case MARK:
          this.marks.push(this.stack.length);
          break;
        case POP:
          // Lib/pickle.py load_pop: the top item, or the whole mark when the stack above it is empty.
          if (this.stack.length > this.fence()) this.stack.pop();
          else this.popMark();
          break;
        case POP_MARK:
          this.popMark();
          break;
        case DUP: {
          // A second reference writes the value again.
          const top = this.ownTop();
          this.push(top, minimumJson(top));
          break;
        }

        case NONE:
          this.push(null, 4);
          break;
        case NEWTRUE:
          this.push(true, 4);
          break;
        case NEWFALSE:
          this.push(false, 5);
          break;

        case BININT1:
          this.push(this.u8(), 1);
          break;
        case BININT2:
          this.push(this.take(2).readUInt16LE(0), 1);
          break;
        case BININT:
          this.push(this.take(4).readInt32LE(0), 1);
          break;
        case LONG1:
          this.push(this.long(this.take(this.u8())), 1);
          break;
        case LONG4: {
          const n = this.take(4).readInt32LE(0);
          if (n < 0) this.fail('LONG4 has a negative byte count');
          this.push(this.long(this.take(n)), 1);
          break;
        }
        case INT:
          this.push(this.textInt(), 1);
          break;
        case LONG:
          this.push(this.textLong(), 1);
          break;

        case BINFLOAT:
          this.push(this.take(8).readDoubleBE(0), 1);
          break;
        case FLOAT:
          this.push(this.textFloat(), 1);
          break;

        case SHORT_BINUNICODE:
          this.pushStr(this.utf8(this.take(this.u8())));
          break;
        case BINUNICODE:
          this.pushStr(this.utf8(this.take(this.take(4).readUInt32LE(0))));
          break;
        case BINUNICODE8:
          this.pushStr(this.utf8(this.take(this.u64())));
          break;
        case UNICODE:
          this.pushStr(this.rawUnicodeEscape(this.line()));
          break;

        case EMPTY_LIST:
          this.push(AN_EMPTY_LIST, 2);
          break;
        case LIST: {
          const items = this.popMark();
          this.settle(items.length, 0, true);
          this.push(items.length === 0 ? AN_EMPTY_LIST : new PyList(items), 2);
          break;
        }
        case APPEND: {
          const afterMark = this.marks.length > 0;
          const item = this.pop();
          const target = this.list();
          this.settle(1, target.items.length, afterMark);
          target.add(item);
          break;
        }
        case APPENDS: {
          const items = this.popMark();
          const target = this.list();
          this.settle(items.length, target.items.length, true);
          // A loop, not push(...items): a spread of 100,000 arguments overflows the call stack.
          for (const item of items) target.add(item);
          break;
        }

        case EMPTY_TUPLE:
          this.push(THE_EMPTY_TUPLE, 2);
          break;
        case TUPLE: {
          const items = this.popMark();
          this.settle(items.length, 0, true);
          this.push(items.length === 0 ? THE_EMPTY_TUPLE : new PyTuple(items), 2);
          break;
        }
        case TUPLE1:
        case TUPLE2:
        case TUPLE3: {
          const n = op - TUPLE1 + 1;
          if (this.stack.length - n < this.fence()) this.fail('stack underflow');
          this.settle(n, 0, this.marks.length > 0);
          this.push(new PyTuple(this.stack.splice(this.stack.length - n, n)), 2);
          break;
        }

        case EMPTY_DICT:
          this.push(AN_EMPTY_DICT, 2);
          break;
        case DICT: {
          const items = this.popMark();
          if (items.length === 0) {
            this.push(AN_EMPTY_DICT, 2);
            break;
          }
          const dict = new PyDict();
          this.setItems(dict, items, true);
          this.push(dict, 2);
          break;
        }
        case SETITEM: {
          const afterMark = this.marks.length > 0;
          const value = this.pop();
          const key = this.pop();
          this.setItems(this.dict(), [key, value], afterMark);
          break;
        }
        case SETITEMS: {
          const items = this.popMark();
          this.setItems(this.dict(), items, true);
          break;
        }

        // The parts of a datetime: see the file header. Refused outright without datetimeKeys.
        case GLOBAL: {
          this.datetimesOnly();
          const module = this.line();
          const name = this.line();
          this.push(this.global(module, name), 1);
          break;
        }
        case STACK_GLOBAL: {
          this.datetimesOnly();
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail(`needs a module and a name that are str, got ${kindOf(module)} and ${kindOf(name)}`);
          this.push(this.global(module, name), 1);
          break;
        }
        case SHORT_BINBYTES:
          this.datetimesOnly();
          this.push(new PyBytes(op, this.at, this.take(this.u8())), 1);
          break;
        case BINBYTES:
          this.datetimesOnly();
          this.push(new PyBytes(op, this.at, this.take(this.take(4).readUInt32LE(0))), 1);
          break;
        case REDUCE: {
          this.datetimesOnly();
          const args = this.pop();
          const callable = this.pop();
          this.push(this.reduce(callable, args), 1);
          break;
        }

        // The memo refers to the container itself: an empty token becomes one of its own first.
        case PUT:
          this.memoPut(this.textIndex());
          break;
        case BINPUT:
          this.memoPut(this.u8());
          break;
        case LONG_BINPUT:
          this.memoPut(this.take(4).readUInt32LE(0));
          break;
        case MEMOIZE:
          // Lib/pickle.py: memo[len(memo)] = stack[-1]
          this.memoPut(this.memoSize);
          break;
        // A memo reference writes the value again.
        case GET:
          this.pushAgain(this.memoGet(this.textIndex()));
          break;
        case BINGET:
          this.pushAgain(this.memoGet(this.u8()));
          break;
        case LONG_BINGET:
          this.pushAgain(this.memoGet(this.take(4).readUInt32LE(0)));
          break;

        default:
          this.unsupported();
      }
    }
  }

  private unsupported(): never {
    this.fail('is not supported: only None, bool, int, float, str, list, tuple and dict can be read');
  }

  private datetimesOnly(): void {
    if (this.datetimeKeys.size === 0) this.unsupported();
  }

  private global(module: string, name: string): PyGlobal {
    const allowed = ALLOWED_GLOBALS.get(`${module}\n${name}`);
    if (allowed === undefined) {
      this.fail(`names ${JSON.stringify(module.slice(0, 60))} ${JSON.stringify(name.slice(0, 60))}, which is not supported: only ${ALLOWED_GLOBAL_NAMES} (the parts of a datetime) can be named`);
    }
    return new PyGlobal(this.op, this.at, allowed);
  }

  /** REDUCE, for exactly the calls CPython pickles a datetime with; nothing is called. */
  private reduce(callable: unknown, args: unknown): PyPart {
    if (!(callable instanceof PyGlobal)) this.fail(`calls ${kindOf(callable)}; only ${ALLOWED_GLOBAL_NAMES} can be called`);
    if (!(args instanceof PyTuple)) this.fail(`passes ${kindOf(args)} to ${callable.name}, not a tuple`);
    const a = args.items;
    let expected: string;
    switch (callable.name) {
      case 'datetime.datetime': {
        const [state, tzinfo] = a;
        if (state instanceof PyBytes && (a.length === 1 || (a.length === 2 && tzinfo instanceof PyUtc))) {
          const iso = isoformatOfDatetimeState(state.data, a.length === 2);
          if (iso !== undefined) return new PyDatetime(this.op, this.at, iso);
        }
        expected = `(state,) or (state, UTC tzinfo), state 10 bytes of a valid date and time with fold 0`;
        break;
      }
      case 'datetime.timedelta':
        // 0 here may also be a float 0.0 or -0.0, which Python reads as the same timedelta(0).
        if (a.length === 3 && a.every((x) => x === 0)) return new PyZeroTimedelta(this.op, this.at);
        expected = '(0, 0, 0): only the UTC offset is supported';
        break;
      case 'datetime.timezone':
        if (a.length === 1 && a[0] instanceof PyZeroTimedelta) return new PyUtc(this.op, this.at);
        expected = '(timedelta(0),): datetime.timezone.utc only';
        break;
      case 'pytz._UTC':
        if (a.length === 0) return new PyUtc(this.op, this.at);
        expected = '()';
        break;
      default: {
        // _codecs.encode(str, 'latin1'): how protocols 0-2 write bytes, here a datetime's state.
        const [text, encoding] = a;
        if (a.length === 2 && encoding === 'latin1' && typeof text === 'string' && text.length === DATETIME_STATE_SIZE && /^[\0-\xff]*$/.test(text)) {
          return new PyBytes(this.op, this.at, Buffer.from(text, 'latin1'));
        }
        expected = `(a ${DATETIME_STATE_SIZE}-character latin-1 str, 'latin1')`;
      }
    }
    this.fail(`calls ${callable.name} with (${a.map(kindOf).join(', ')}), which is not supported: only ${expected}`);
  }

  private stop(): unknown {
    if (this.marks.length > 0) this.fail('leaves a MARK open');
    if (this.stack.length !== 1) this.fail(`leaves ${this.stack.length} items on the stack instead of 1`);
    if (this.pos !== this.data.length) {
      throw new PickleError(`${this.data.length - this.pos} trailing bytes after STOP at offset ${this.at}`);
    }
    return this.stack[0];
  }

  private fail(why: string): never {
    throw new PickleError(`${describeOpcode(this.op)} at offset ${this.at} ${why}`);
  }

  private take(n: number): Buffer {
    if (n > this.data.length - this.pos) {
      this.fail(`needs ${n} bytes, only ${this.data.length - this.pos} left: pickle data was truncated`);
    }
    const bytes = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return bytes;
  }

  private u8(): number {
    return this.take(1)[0] as number;
  }

  private u64(): number {
    const n = this.take(8).readBigUInt64LE(0);
    // Past 2^53 it is past any input anyway: take() reports the truncation.
    return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
  }

  /** The argument of a text opcode: up to '\n' (consumed, not returned), as latin-1. */
  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('has no terminating newline: pickle data was truncated');
    const text = this.data.toString('latin1', this.pos, end);
    this.pos = end + 1;
    return text;
  }

  private fence(): number {
    return this.marks.length > 0 ? (this.marks[this.marks.length - 1] as number) : 0;
  }

  private pop(): unknown {
    if (this.stack.length <= this.fence()) this.fail('stack underflow');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length <= this.fence()) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): unknown[] {
    const mark = this.marks.pop();
    if (mark === undefined) this.fail('could not find MARK');
    return this.stack.splice(mark);
  }

  private list(): PyList {
    const target = this.ownTop();
    if (!(target instanceof PyList)) this.fail(`targets ${kindOf(target)}, not a list`);
    return target;
  }

  private dict(): PyDict {
    const target = this.ownTop();
    if (!(target instanceof PyDict)) this.fail(`targets ${kindOf(target)}, not a dict`);
    return target;
  }

  private pushAgain(value: unknown): void {
    this.push(value, minimumJson(value));
  }

  /** A str writes at least its length and two quotes. */
  private pushStr(s: string): void {
    this.push(s, s.length + 2);
  }

  private setItems(dict: PyDict, items: unknown[], afterMark: boolean): void {
    if (items.length % 2 !== 0) this.fail('has an odd number of items');
    this.settle(items.length, dict.size, afterMark);
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      if (typeof key !== 'string') this.fail(`has a dict key that is ${kindOf(key)}; only str keys are supported`);
      // Python semantics: a repeated key keeps its first position and takes the last value.
      dict.set(key, items[i + 1]);
    }
  }

  private memoGet(index: number): unknown {
    // Nothing stored is undefined: the stack holds None as null.
    const value = this.memo[index];
    if (value === undefined) this.fail(`refers to memo index ${index}, which was never stored`);
    return value;
  }

  private memoPut(index: number): void {
    if (this.memo[index] === undefined) this.memoSize++;
    this.memo[index] = this.ownTop();
  }

  private textIndex(): number {
    const text = this.line();
    if (!/^\d{1,15}$/.test(text)) this.fail(`has an invalid memo index ${JSON.stringify(text.slice(0, 20))}`);
    return Number(text);
  }

  // Protocol 0-1 INT: decimal, with "00"/"01" standing for False/True (Python 2.2 booleans).
  private textInt(): number | bigint | boolean {
    const text = this.line();
    if (text === '00') return false;
    if (text === '01') return true;
    return this.decimal(text);
  }

  private textLong(): number | bigint {
    const text = this.line();
    return this.decimal(text.endsWith('L') ? text.slice(0, -1) : text);
  }

  private decimal(text: string): number | bigint {
    // What Python writes (repr of an int). Python would also take 0x.., underscores and spaces.
    if (!/^[+-]?(?:0|[1-9]\d*)$/.test(text)) this.fail(`has an invalid integer ${JSON.stringify(text.slice(0, 40))}`);
    // Number() rounds to the nearest double, as JSON.parse does for big integers.
    const n = Number(text);
    if (this.pythonNumbers && !Number.isFinite(n)) {
      // Python's int(text) itself refuses more digits (ValueError), so pickle.loads would too.
      if (text.replace(/^[+-]/, '').length > MAX_INT_DIGITS) this.fail(`has an int of more than ${MAX_INT_DIGITS} digits, which Python refuses to read`);
      return BigInt(text);
    }
    return n === 0 ? 0 : n; // no -0 from "-0"
  }

  /** LONG1/LONG4: a number, or with pythonNumbers a bigint where a number would be ±Infinity. */
  private long(bytes: Buffer): number | bigint {
    if (!this.pythonNumbers) return decodeLong(bytes);
    const n = significantLongBytes(bytes);
    // 1,787 bytes hold more than 4,300 digits whatever they are; shorter ones are checked exactly.
    const value = n > 1787 ? undefined : decodeLongExact(bytes.subarray(0, n));
    if (value === undefined || !(isPythonOnlyNumber(value) || Number.isFinite(Number(value)))) {
      this.fail(`has an int of more than ${MAX_INT_DIGITS} digits, which Python's json could neither write nor read`);
    }
    const asNumber = Number(value);
    return Number.isFinite(asNumber) ? asNumber : value;
  }

  private textFloat(): number {
    const text = this.line().trim();
    // repr(float) as Python writes it, plus what float() spells inf/nan with. `\d+(?:\.\d*)?`, not
    // `\d+\.?\d*`: the latter splits a run of digits in n ways, quadratic on 1 MB of digits + junk.
    if (/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(text)) return Number(text);
    const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
    if (special) {
      if (special[2]!.toLowerCase() === 'nan') return NaN;
      return special[1] === '-' ? -Infinity : Infinity;
    }
    this.fail(`has an invalid float ${JSON.stringify(text.slice(0, 40))}`);
  }

  // CPython decodes every binary str opcode with UTF-8 'surrogatepass': lone surrogates written as
  // 3-byte sequences come back as lone UTF-16 code units.
  private utf8(bytes: Buffer): string {
    try {
      return utf8Strict.decode(bytes);
    } catch {
      const s = decodeUtf8SurrogatePass(bytes);
      if (s === undefined) this.fail('holds invalid UTF-8');
      return s;
    }
  }

  // Python's 'raw-unicode-escape' codec: latin-1, except \uXXXX and \UXXXXXXXX.
  private rawUnicodeEscape(text: string): string {
    if (!text.includes('\\')) return text;
    const out: string[] = [];
    let i = 0;
    let start = 0;
    while (i < text.length) {
      if (text.charCodeAt(i) !== 0x5c || i + 1 >= text.length) {
        i++;
        continue;
      }
      const kind = text[i + 1];
      const count = kind === 'u' ? 4 : kind === 'U' ? 8 : 0;
      if (count === 0) {
        i += 2; // a backslash and the character after it are both literal
        continue;
      }
      const hex = text.slice(i + 2, i + 2 + count);
      if (hex.length !== count || !/^[0-9A-Fa-f]+$/.test(hex)) this.fail(`has a truncated \\${kind} escape`);
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) this.fail('has a \\U escape out of range');
      out.push(text.slice(start, i), String.fromCodePoint(cp));
      i += 2 + count;
      start = i;
    }
    out.push(text.slice(start));
    return out.join('');
  }
}

function kindOf(v: unknown): string {
  if (v instanceof PyPart) return v.describe();
  if (v instanceof PyDict) return 'a dict';
  if (v instanceof PyList) return 'a list';
  if (v instanceof PyTuple) return 'a tuple';
  if (v === null) return 'None';
  if (typeof v === 'string') return 'a str';
  if (typeof v === 'boolean') return 'a bool';
  return typeof v === 'bigint' || Number.isInteger(v) ? 'an int' : 'a float';
}

// Doubles cannot exceed 2^1024: 129 significant bytes are already ±Infinity. Checked after
// stripping sign-extension bytes, so BigInt never sees more than that.
const MAX_LONG_BYTES = 129;

/** How many bytes of a LONG1/LONG4 payload count, redundant sign-extension bytes left out. */
function significantLongBytes(bytes: Buffer): number {
  let n = bytes.length;
  if (n === 0) return 0;
  const pad = ((bytes[n - 1] as number) & 0x80) !== 0 ? 0xff : 0x00;
  while (n > 1 && bytes[n - 1] === pad && ((bytes[n - 2] as number) & 0x80) === (pad & 0x80)) n--;
  return n;
}

/** LONG1/LONG4 payload (little-endian two's complement) as the exact bigint. */
function decodeLongExact(bytes: Buffer): bigint {
  const n = bytes.length;
  if (n === 0) return 0n;
  const hex = Buffer.from(bytes).reverse().toString('hex');
  const value = BigInt('0x' + hex);
  return ((bytes[n - 1] as number) & 0x80) !== 0 ? value - (1n << BigInt(8 * n)) : value;
}

/** LONG1/LONG4 payload: little-endian two's complement; the nearest double, as JSON.parse rounds. */
function decodeLong(bytes: Buffer): number {
  const n = significantLongBytes(bytes);
  if (n > MAX_LONG_BYTES) return ((bytes[bytes.length - 1] as number) & 0x80) !== 0 ? -Infinity : Infinity;
  return Number(decodeLongExact(bytes.subarray(0, n)));
}

/**
 * UTF-8 as Python's 'surrogatepass' error handler reads it: strict, except that the 3-byte forms of
 * U+D800..U+DFFF are accepted. `undefined` for anything else that is not UTF-8.
 */
function decodeUtf8SurrogatePass(bytes: Uint8Array): string | undefined {
  const units: number[] = [];
  const chunks: string[] = [];
  const flush = (): void => {
    chunks.push(String.fromCharCode(...units));
    units.length = 0;
  };
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i] as number;
    let cp: number;
    let size: number;
    if (b0 < 0x80) {
      cp = b0;
      size = 1;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      size = 2;
      cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      size = 3;
      cp = b0 & 0x0f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      size = 4;
      cp = b0 & 0x07;
    } else {
      return undefined;
    }
    if (i + size > bytes.length) return undefined;
    for (let k = 1; k < size; k++) {
      const b = bytes[i + k] as number;
      if ((b & 0xc0) !== 0x80) return undefined;
      cp = (cp << 6) | (b & 0x3f);
    }
    // Overlong forms and code points past U+10FFFF are errors even under surrogatepass.
    if ((size === 3 && cp < 0x800) || (size === 4 && (cp < 0x10000 || cp > 0x10ffff))) return undefined;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else {
      units.push(cp);
    }
    i += size;
    if (units.length >= 8192) flush();
  }
  flush();
  return chunks.join('');
}

interface Materialized {
  value: unknown;
  /** Containers on the longest path down from this one, itself included. */
  height: number;
}

/**
 * Turns the reader's wrappers into plain data: dicts become objects with Object.prototype (a
 * `__proto__` key as an own data property, as JSON.parse makes it), lists and tuples arrays. A
 * container met twice (memo GET) stays one shared object; each is converted once, so this is
 * linear even when sharing would make the expanded tree huge. Cycles and depth are checked here.
 */
class Materializer {
  private readonly done = new Map<PyContainer, Materialized>();
  private readonly active = new Set<PyContainer>();
  private root: unknown = undefined;

  constructor(
    private readonly maxDepth: number,
    private readonly datetimeKeys: ReadonlySet<string>,
    /** Where the keys whose value was a datetime are recorded, if anywhere. */
    private readonly datetimesRead?: Set<string>,
  ) {}

  /** The whole value: `v`, if a dict, is the one whose datetimeKeys may hold a datetime. */
  convertRoot(v: unknown): Materialized {
    this.root = v;
    return this.convert(v, 1, false);
  }

  private convert(v: unknown, depth: number, datetimeAllowed: boolean): Materialized {
    if (v instanceof PyPart) {
      if (v instanceof PyDatetime && datetimeAllowed) return { value: v.isoformat, height: 0 };
      const keys = [...this.datetimeKeys].map((k) => JSON.stringify(k)).join(', ') || 'none';
      throw new PickleError(
        `${describeOpcode(v.op)} at offset ${v.at} makes ${v.describe()}, which is read only ${v.readonlyAs()} (datetimeKeys: ${keys})`,
      );
    }
    if (!isContainer(v)) return { value: v, height: 0 };
    if (isEmptyToken(v)) {
      // One of many occurrences of an empty dict or list, or the empty tuple: a new one each time.
      this.checkDepth(depth);
      return { value: v === AN_EMPTY_DICT ? {} : [], height: 1 };
    }
    const known = this.done.get(v);
    if (known !== undefined) {
      this.checkDepth(depth + known.height - 1);
      return known;
    }
    if (this.active.has(v)) throw new PickleError(`${kindOf(v)} contains itself: recursive structures are not supported`);
    this.checkDepth(depth);
    this.active.add(v);
    let height = 0;
    let value: unknown;
    if (v instanceof PyDict) {
      const obj: Record<string, unknown> = {};
      for (const [key, item] of v.map) {
        const datetimeAllowed = v === this.root && this.datetimeKeys.has(key);
        const child = this.convert(item, depth + 1, datetimeAllowed);
        if (datetimeAllowed && item instanceof PyDatetime) this.datetimesRead?.add(key);
        height = Math.max(height, child.height);
        defineEntry(obj, key, child.value);
      }
      value = obj;
    } else {
      const arr: unknown[] = new Array(v.items.length);
      for (let i = 0; i < v.items.length; i++) {
        const child = this.convert(v.items[i], depth + 1, false);
        height = Math.max(height, child.height);
        arr[i] = child.value;
      }
      value = arr;
    }
    this.active.delete(v);
    const result = { value, height: height + 1 };
    this.done.set(v, result);
    return result;
  }

  private checkDepth(depth: number): void {
    if (depth > this.maxDepth) {
      throw new PickleError(`containers nested deeper than ${this.maxDepth} levels`);
    }
  }
}

/** `obj[key] = value`, except that "__proto__" becomes an own property instead of a prototype swap. */
function defineEntry(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

interface LoadSettings {
  maxDepth: number;
  datetimeKeys: ReadonlySet<string>;
  maxDecodedBytes: number;
  pythonNumbers: boolean;
}

function loadSettings(options: PickleLoadsOptions): LoadSettings {
  return {
    maxDepth: checkMaxDepth(options.maxDepth),
    datetimeKeys: checkDatetimeKeys(options.datetimeKeys),
    maxDecodedBytes: checkByteLimit(options.maxDecodedBytes),
    pythonNumbers: options.pythonNumbers === true,
  };
}

// A datetime's parts are charged a few bytes more than the isoformat string they become.
const BUDGET_SLACK = 64;

function load(data: Buffer, settings: LoadSettings): unknown {
  if (!Buffer.isBuffer(data)) throw new TypeError('pickle data must be a Buffer');
  return new Unpickler(data, settings.datetimeKeys, settings.maxDecodedBytes + BUDGET_SLACK, settings.pythonNumbers, 4 * settings.maxDepth + 16).run();
}

/**
 * Refuses a value that would write more than maxDecodedBytes of JSON: the memo shares containers,
 * so a few kilobytes of pickle can stand for gigabytes of JSON, which the next save (or a JSON
 * response) would have to write. Counted in bytes of `session_data` JSON, shared containers
 * measured once (linear work).
 */
function checkExpandedSize(value: unknown, settings: LoadSettings): void {
  if (settings.maxDecodedBytes === Infinity) return;
  if (jsonEncodedLength(value, settings.maxDecodedBytes) > settings.maxDecodedBytes) {
    throw new PickleError(`the value expands past maxDecodedBytes (${settings.maxDecodedBytes} bytes) of JSON once written out, shared references expanded`);
  }
}

/**
 * `pickle.loads` restricted to JSON-like data: None → null, bool, int and float → number (ints
 * beyond 2^53 round to the nearest double, as with JSON.parse; with `pythonNumbers`, one beyond
 * the double range is a bigint), str → string, list and tuple → array, dict (str keys only) →
 * plain object. Shared containers stay shared. With `datetimeKeys`, a datetime.datetime under
 * those keys of a top-level dict → its `isoformat()` string. Throws {@link PickleError} for
 * everything else, and past `maxDecodedBytes` of JSON (see the file header); never constructs or
 * calls anything.
 *
 * @example
 * pickleLoads(Buffer.from('80047d942e', 'hex')); // {}
 */
export function pickleLoads(data: Buffer, options: PickleLoadsOptions = {}): unknown {
  const settings = loadSettings(options);
  const value = new Materializer(settings.maxDepth, settings.datetimeKeys).convertRoot(load(data, settings)).value;
  checkExpandedSize(value, settings);
  return value;
}

/**
 * {@link pickleLoads} for a pickled dict, returned as a Map in Python's key order (integer-like
 * keys such as "10" included, which a JS object would move first). Nested dicts are plain objects.
 * Throws a {@link PickleError} when the pickle is not a dict.
 *
 * @example
 * pickleLoadsDict(pickleDumps(new Map([['b', 1], ['10', 2]]))); // Map { 'b' => 1, '10' => 2 }
 * // What Django 3.2 stores after set_expiry(datetime):
 * pickleLoadsDict(data, { datetimeKeys: ['_session_expiry'] }).get('_session_expiry'); // '2030-01-02T03:04:05+00:00'
 */
export function pickleLoadsDict(data: Buffer, options: PickleLoadsOptions = {}): Map<string, unknown> {
  const settings = loadSettings(options);
  const root = load(data, settings);
  if (!(root instanceof PyDict)) {
    throw new PickleError(`the pickle holds ${kindOf(root)}, not a dict`);
  }
  const materializer = new Materializer(settings.maxDepth, settings.datetimeKeys, options.datetimesRead);
  const out = new Map<string, unknown>();
  // Goes through the materializer as one container, so cycles through the root are caught.
  const obj = materializer.convertRoot(root).value as Record<string, unknown>;
  for (const key of root.map.keys()) out.set(key, obj[key]);
  checkExpandedSize(out, settings);
  return out;
}
