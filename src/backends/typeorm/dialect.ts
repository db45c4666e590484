import type { DataSource } from 'typeorm';
import { parseDjangoDate, toDjangoUtcString } from '../../django-dates.js';

/** How `expire_date` is written and compared on each kind of database. */
export type Dialect = 'sqlite' | 'mysql' | 'postgres' | 'other';

const SQLITE_TYPES = new Set(['sqlite', 'better-sqlite3', 'sqljs', 'capacitor', 'cordova', 'react-native', 'nativescript', 'expo']);
const MYSQL_TYPES = new Set(['mysql', 'mariadb', 'aurora-mysql']);

export function dialectOf(dataSource: DataSource): Dialect {
  const type = dataSource.options.type;
  if (SQLITE_TYPES.has(type)) return 'sqlite';
  if (MYSQL_TYPES.has(type)) return 'mysql';
  if (type === 'postgres' || type === 'aurora-postgres' || type === 'cockroachdb') return 'postgres';
  return 'other';
}

/** A date as a bound parameter for `expire_date`: Django's UTC text where Django stores text (sqlite) or naive UTC (MySQL). */
export function expireDateParam(dialect: Dialect, date: Date): Date | string {
  return dialect === 'sqlite' || dialect === 'mysql' ? toDjangoUtcString(date) : date;
}

/**
 * The instant in an `expire_date` value as the driver returns it. sqlite gives Django's UTC text;
 * PostgreSQL a `Date` of the `timestamptz`; MySQL's `DATETIME` holds naive UTC (Django's
 * `USE_TZ`), which mysql2 turns into a `Date` read in the connection's `timezone` option (local
 * time by default), so the wall-clock fields are read back as that zone gave them.
 */
export function readExpireDate(dataSource: DataSource, value: unknown): Date | null {
  if (typeof value === 'string') return parseDjangoDate(value);
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) return null;
  if (dialectOf(dataSource) !== 'mysql') return value;
  const timezone = (dataSource.options as { timezone?: string }).timezone ?? 'local';
  if (timezone === 'local') {
    return new Date(Date.UTC(value.getFullYear(), value.getMonth(), value.getDate(), value.getHours(), value.getMinutes(), value.getSeconds(), value.getMilliseconds()));
  }
  if (timezone === 'Z') return value;
  const offset = /^([+-])(\d{2}):?(\d{2})$/.exec(timezone);
  if (offset === null) return value;
  // mysql2 read the naive text as being in that offset; the text was UTC.
  const minutes = (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3]));
  return new Date(value.getTime() + minutes * 60_000);
}
