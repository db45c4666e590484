/*
 * What the reader (./reader.ts) and the writer (./writer.ts) share of their options: the default
 * depth and the checks of `maxDepth`, `maxDecodedBytes` and `datetimeKeys`.
 */

/**
 * The default for `maxDepth`: how many containers deep a value may be, read or written, the
 * outermost counting as level 1. Python's unpickler has no limit (it does not recurse); CPython
 * 3.11's pickler spends two units of the recursion limit (1,000) per level and raises
 * RecursionError past 499 levels, fewer under a deep call stack.
 *
 * @example
 * pickleLoads(data, { maxDepth: Math.min(PICKLE_MAX_DEPTH, 500) });
 */
export const PICKLE_MAX_DEPTH = 1000;

export function checkDatetimeKeys(keys: readonly string[] | undefined): ReadonlySet<string> {
  if (keys === undefined) return new Set();
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) throw new TypeError('datetimeKeys must be an array of strings');
  return new Set(keys);
}

export function checkByteLimit(limit: number | undefined): number {
  if (limit === undefined) return Infinity;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError(`maxDecodedBytes must be a positive integer, got ${String(limit)}`);
  return limit;
}

export function checkMaxDepth(maxDepth: number | undefined): number {
  const depth = maxDepth ?? PICKLE_MAX_DEPTH;
  if (!Number.isSafeInteger(depth) || depth < 1) throw new TypeError(`maxDepth must be a positive integer, got ${String(maxDepth)}`);
  return depth;
}
