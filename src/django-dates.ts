/** Dates as Django writes them: `expire_date` text on sqlite/MySQL, and `_session_expiry` ISO strings. */

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * A UTC date as Django writes `expire_date` on sqlite and MySQL with `USE_TZ = True`:
 * `str(datetime)` = `YYYY-MM-DD HH:MM:SS[.ffffff]`, the fraction left out when it is zero.
 * On sqlite Django compares these as text, so our rows and parameters must use the same form:
 * an ISO `T` or a 3-digit fraction would sort differently and be expired early or late.
 */
export function toDjangoUtcString(date: Date): string {
  const base =
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  const ms = date.getUTCMilliseconds();
  return ms === 0 ? base : `${base}.${pad(ms, 3)}000`;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses what Django writes: `YYYY-MM-DD HH:MM:SS[.ffffff]` (the `T` form too) and Python's
 * `isoformat()` with an offset (`2030-01-02T03:04:05.123456+00:00`). Without a zone it is UTC.
 * Returns null for anything else.
 */
export function parseDjangoDate(value: string): Date | null {
  const m = DATE.exec(value);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s = '0', frac = '0', zone] = m;
  let ms = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s, Math.floor(Number(`0.${frac}`) * 1000));
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return new Date(ms);
}
