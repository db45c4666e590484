/** Dates as Django writes them: `expire_date` text on sqlite/MySQL, and `_session_expiry` ISO strings. */

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Python's `datetime.MINYEAR` / `MAXYEAR`. */
const MIN_YEAR = 1;
const MAX_YEAR = 9999;

/**
 * A UTC date as Django writes `expire_date` on sqlite and MySQL with `USE_TZ = True`:
 * `str(datetime)` = `YYYY-MM-DD HH:MM:SS[.ffffff]`, the fraction left out when it is zero.
 * On sqlite Django compares these as text, so our rows and parameters must use the same form:
 * an ISO `T` or a 3-digit fraction would sort differently and be expired early or late.
 * The year is always 4 digits (`0999`), as Python writes it; that fixed width is what makes the
 * text sort like the dates.
 *
 * Throws a `RangeError` for an invalid Date or a UTC year outside 1..9999 (Python's datetime
 * range): such a value has no Django form, and e.g. `11533-...` would sort before `2026-...`.
 */
export function toDjangoUtcString(date: Date): string {
  const time = date.getTime();
  if (Number.isNaN(time)) {
    throw new RangeError('toDjangoUtcString: invalid Date (its time is NaN)');
  }
  const year = date.getUTCFullYear();
  if (year < MIN_YEAR || year > MAX_YEAR) {
    throw new RangeError(
      `toDjangoUtcString: ${date.toISOString()} is outside Python's datetime range (UTC years ${MIN_YEAR}..${MAX_YEAR})`,
    );
  }
  const base =
    `${pad(year, 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  const ms = date.getUTCMilliseconds();
  return ms === 0 ? base : `${base}.${pad(ms, 3)}000`;
}

const DATE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))?$/;

const isLeapYear = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;
const daysInMonth = (y: number, month: number): number =>
  month === 2 && isLeapYear(y) ? 29 : (DAYS_IN_MONTH[month - 1] as number);

/**
 * Parses what Django writes: `YYYY-MM-DD HH:MM:SS[.ffffff]` (the `T` form too) and Python's
 * `isoformat()` with an offset (`2030-01-02T03:04:05.123456+00:00`, `Z`, `+HHMM`). Without a zone
 * it is UTC. Microseconds are truncated to milliseconds.
 * Returns null for anything else, including dates Python's `datetime` refuses rather than rolls
 * over: Feb 31, month 13, day 0, hour 24, minute or second 60, year 0, an offset of 24h or more.
 */
export function parseDjangoDate(value: string): Date | null {
  const m = DATE.exec(value);
  if (m === null) return null;
  const [, ys, mos, ds, hs, mis, ss = '0', frac = '', z, sign, zh = '0', zm = '0'] = m;
  const [y, mo, d, h, mi, s] = [ys, mos, ds, hs, mis, ss].map(Number) as [number, number, number, number, number, number];
  if (y < MIN_YEAR || y > MAX_YEAR || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return null;
  if (h > 23 || mi > 59 || s > 59) return null;
  // Python: the offset must be strictly between -24h and +24h.
  const offsetHours = Number(zh);
  const offsetMinutes = Number(zm);
  if (offsetHours > 23 || offsetMinutes > 59) return null;
  // Microseconds → milliseconds, truncated, in integers: '5' → 500, '123456' → 123.
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0..99 to 1900..1999.
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, ms);
  if (z === undefined && sign !== undefined) {
    const direction = sign === '-' ? -1 : 1;
    date.setTime(date.getTime() - direction * (offsetHours * 60 + offsetMinutes) * 60_000);
  }
  return date;
}

/** The session key Django's `set_expiry()` writes. */
export const EXPIRY_KEY = '_session_expiry';

/**
 * What a session's `_session_expiry` says, as Django's `get_expiry_age()` / `get_expiry_date()`
 * read it: an ISO date string (Django 4.1+'s `set_expiry(datetime)`) is that instant (`date`, ms);
 * a non-zero number is that many seconds (`seconds`); anything else, or a date string that does
 * not parse (reported through `unreadable`), is `cookieAge` seconds. Seconds count from the
 * caller's moment: now for a session being saved, the last write for a file on disk.
 */
export function sessionExpiry(expiry: unknown, cookieAge: number, unreadable?: (text: string) => void): { date: number | null; seconds: number } {
  if (typeof expiry === 'string') {
    const date = parseDjangoDate(expiry);
    if (date !== null) return { date: date.getTime(), seconds: cookieAge };
    unreadable?.(expiry);
  }
  return { date: null, seconds: typeof expiry === 'number' && expiry !== 0 ? expiry : cookieAge };
}
