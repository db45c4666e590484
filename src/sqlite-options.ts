import { createRequire } from 'node:module';

/** PRAGMA synchronous levels sqlite accepts. */
export type SqliteSynchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';

export interface SqliteSessionDataSourceSettings {
  /** The sqlite file (the one Django's `DATABASES['default']['NAME']` names, when Django shares it). */
  database: string;
  /**
   * `'sqlite3'` (node-sqlite3, TypeORM's `type: 'sqlite'`, the default) or `'better-sqlite3'`
   * (TypeORM's `type: 'better-sqlite3'`: synchronous, about 1.5× the session routes' throughput).
   */
  driver?: 'sqlite3' | 'better-sqlite3';
  /**
   * Journal in WAL mode (default true): readers never wait for the writer, so Django, the CLI and
   * the module's own read connection go on while a write holds the lock. Stored in the file.
   */
  wal?: boolean;
  /**
   * PRAGMA synchronous, per connection (default `'NORMAL'`: in WAL mode an app crash loses nothing,
   * a power loss may roll back the last commits; `'FULL'` fsyncs every commit, ~0.6× /write).
   */
  synchronous?: SqliteSynchronous;
  /** Milliseconds a statement waits for another process's lock before SQLITE_BUSY (default 5000, as Python's sqlite3). */
  busyTimeout?: number;
}

/** The TypeORM options `sqliteDataSourceOptions` returns; spread them into `TypeOrmModule.forRoot({...})`. */
export type SqliteSessionDataSourceOptions =
  | { type: 'sqlite'; database: string; driver: unknown; enableWAL: boolean; busyTimeout: number }
  | { type: 'better-sqlite3'; database: string; enableWAL: boolean; timeout: number; prepareDatabase: (db: unknown) => void };

const SYNCHRONOUS = new Set<string>(['OFF', 'NORMAL', 'FULL', 'EXTRA']);
const requireFromHere = createRequire(import.meta.url);

/**
 * TypeORM connection options for a sqlite file holding `django_session`, safe and fast: WAL, a
 * busy timeout, `PRAGMA synchronous` on every connection (TypeORM has no option for it), and on
 * node-sqlite3 the driver without the `verbose()` tracing TypeORM switches on (a stack trace and a
 * `util.inspect` of the parameters on every statement: ~1.2× on the session routes).
 *
 * ```ts
 * TypeOrmModule.forRoot({
 *   ...sqliteDataSourceOptions({ database: 'app.sqlite3' }),
 *   entities: [SessionEntity],
 *   migrations: [CreateDjangoSession1700000000000],
 *   migrationsRun: true,
 * })
 * ```
 */
export function sqliteDataSourceOptions(settings: SqliteSessionDataSourceSettings): SqliteSessionDataSourceOptions {
  const { database, driver = 'sqlite3', wal = true, synchronous = 'NORMAL', busyTimeout = 5000 } = settings ?? ({} as SqliteSessionDataSourceSettings);
  if (typeof database !== 'string' || database === '') throw new TypeError('sqliteDataSourceOptions: "database" must be the path of the sqlite file');
  if (driver !== 'sqlite3' && driver !== 'better-sqlite3') throw new TypeError(`sqliteDataSourceOptions: "driver" is 'sqlite3' or 'better-sqlite3', got ${String(driver)}`);
  const level = String(synchronous).toUpperCase();
  if (!SYNCHRONOUS.has(level)) throw new TypeError(`sqliteDataSourceOptions: "synchronous" is OFF, NORMAL, FULL or EXTRA, got ${String(synchronous)}`);
  if (!Number.isInteger(busyTimeout) || busyTimeout < 0) throw new TypeError(`sqliteDataSourceOptions: "busyTimeout" is a whole number of milliseconds, got ${String(busyTimeout)}`);
  if (driver === 'better-sqlite3') {
    return {
      type: 'better-sqlite3',
      database,
      enableWAL: wal,
      timeout: busyTimeout,
      prepareDatabase: (db) => {
        (db as { pragma(source: string): unknown }).pragma(`synchronous = ${level}`);
      },
    };
  }
  return { type: 'sqlite', database, driver: untracedSqlite3(level), enableWAL: wal, busyTimeout };
}

interface Sqlite3Module {
  Database: new (...args: unknown[]) => { run(sql: string, callback?: (error: Error | null) => void): unknown };
  verbose(): Sqlite3Module;
}

const untracedByLevel = new Map<string, Sqlite3Module>();

/**
 * node-sqlite3 as TypeORM should drive it: `verbose()` returns the module itself (TypeORM calls it
 * on load), and each `Database` runs `PRAGMA synchronous` first (queued by node-sqlite3 before any
 * statement of TypeORM's, which waits for the open callback).
 */
function untracedSqlite3(level: string): Sqlite3Module {
  const cached = untracedByLevel.get(level);
  if (cached) return cached;
  let sqlite3: Sqlite3Module;
  try {
    sqlite3 = requireFromHere('sqlite3') as Sqlite3Module;
  } catch {
    throw new Error("sqliteDataSourceOptions: the 'sqlite3' package is not installed (npm install sqlite3), or pass driver: 'better-sqlite3'");
  }
  class Database extends sqlite3.Database {
    constructor(...args: unknown[]) {
      super(...args);
      this.run(`PRAGMA synchronous = ${level}`, () => undefined);
    }
  }
  const module: Sqlite3Module = Object.assign(Object.create(sqlite3) as Sqlite3Module, { Database, verbose: () => module });
  untracedByLevel.set(level, module);
  return module;
}
