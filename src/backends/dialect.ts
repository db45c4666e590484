import type { DataSource } from 'typeorm';

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
