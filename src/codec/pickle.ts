/*
 * A safe subset of Python's pickle, enough for what Django's cache stores for a session:
 * django-redis's PickleSerializer writes `pickle.dumps(session_dict, pickle.DEFAULT_PROTOCOL)`
 * (its PICKLE_VERSION default: protocol 4 on Python 3.8 to 3.13, 5 on Python 3.14), Django 4.0+'s
 * own RedisCache `pickle.dumps(session_dict, pickle.HIGHEST_PROTOCOL)` (protocol 5 on Python 3.8+).
 *
 * This module is the entry point; the code is in ./pickle/:
 *
 *   reader.ts    `pickleLoads`, `pickleLoadsDict`, PickleError: which pickles are read, and how
 *   writer.ts    `pickleDumps`: CPython 3.11's pickler byte for byte
 *   opcodes.ts   the opcodes both know
 *   options.ts   PICKLE_MAX_DEPTH and the option checks both make
 *   datetime.ts  a datetime.datetime's pickled state and its isoformat()
 *   values.ts    the Python type of a JS value (also for the JSON cache serializer)
 */

export { PickleError, pickleLoads, pickleLoadsDict, type PickleLoadsOptions } from './pickle/reader.js';
export { pickleDumps, type PickleDumpsOptions } from './pickle/writer.js';
export { PICKLE_MAX_DEPTH } from './pickle/options.js';
export { childPath, pythonDictEntries, pythonKindOf, type PyKind } from './pickle/values.js';
