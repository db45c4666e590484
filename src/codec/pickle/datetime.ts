/*
 * The pickled state of a `datetime.datetime` and its `isoformat()`, both ways: the reader
 * (./reader.ts) turns a state into the string, the writer (./writer.ts) a UTC isoformat() string
 * into the state. See the headers of those files for the pickles this is part of.
 */

const pad2 = (n: number): string => String(n).padStart(2, '0');
const isLeapYear = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;
export const DATETIME_STATE_SIZE = 10;

/**
 * Python's `isoformat()` of the datetime whose pickled state is `state` (`_getstate()`: year as 2
 * bytes big-endian, month, day, hour, minute, second, microsecond as 3 bytes big-endian), aware
 * UTC ('+00:00') or naive. `undefined` unless it is 10 bytes of a valid date and time with fold 0
 * (CPython itself checks only the month; fold=1 sets the month's high bit at protocol 4+).
 */
export function isoformatOfDatetimeState(state: Uint8Array, utc: boolean): string | undefined {
  if (state.length !== DATETIME_STATE_SIZE) return undefined;
  const [yhi, ylo, month, day, hour, minute, second, u0, u1, u2] = state as unknown as number[] as [number, number, number, number, number, number, number, number, number, number];
  const year = yhi * 256 + ylo;
  const microsecond = (u0 << 16) | (u1 << 8) | u2;
  if (year < 1 || year > 9999 || month < 1 || month > 12) return undefined;
  const monthDays = month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day < 1 || day > monthDays || hour > 23 || minute > 59 || second > 59 || microsecond > 999_999) return undefined;
  return (
    `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:${pad2(minute)}:${pad2(second)}` +
    (microsecond === 0 ? '' : `.${String(microsecond).padStart(6, '0')}`) +
    (utc ? '+00:00' : '')
  );
}

const UTC_ISOFORMAT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{6}))?\+00:00$/;

/**
 * The pickled state of the aware UTC datetime whose `isoformat()` is exactly `iso`, or undefined
 * for any other string (checked by reading the state back to the same string).
 */
export function datetimeStateOfUtcIsoformat(iso: string): Buffer | undefined {
  const m = UTC_ISOFORMAT.exec(iso);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const microsecond = Number(m[7] ?? 0);
  const state = Buffer.of(year >> 8, year & 0xff, month, day, hour, minute, second, microsecond >> 16, (microsecond >> 8) & 0xff, microsecond & 0xff);
  // Rejects impossible dates (Feb 30, hour 24...), and '.000000', which isoformat() never writes.
  return isoformatOfDatetimeState(state, true) === iso ? state : undefined;
}
