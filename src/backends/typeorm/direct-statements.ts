import type { DataSource } from 'typeorm';

/** What a statement of the db engine gives back: the rows of a read, the rows a write changed. */
export interface StatementResult {
  records: unknown[];
  affected: number | undefined;
}

interface Sqlite3Statement {
  all(params: unknown[], callback: (error: Error | null, rows: unknown[]) => void): unknown;
  run(params: unknown[], callback: (this: { changes: number }, error: Error | null) => void): unknown;
  finalize(callback?: () => void): unknown;
}
interface Sqlite3Database {
  prepare(sql: string, callback: (error: Error | null) => void): Sqlite3Statement;
  close(callback?: (error: Error | null) => void): unknown;
}
interface PgPool {
  query(sql: string, params: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
}
interface BetterSqlite3Statement {
  readonly reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
}
interface BetterSqlite3Database {
  prepare(sql: string): BetterSqlite3Statement;
}

/** A connection's prepared statements, by SQL (the engine has six). */
const sqlite3Statements = new WeakMap<Sqlite3Database, Map<string, Sqlite3Statement>>();
const betterStatements = new WeakMap<BetterSqlite3Database, Map<string, BetterSqlite3Statement>>();

/**
 * Runs one of the db engine's statements on the driver itself — on sqlite with the statement
 * prepared once per connection, on PostgreSQL through the pool — or returns undefined, and
 * TypeORM's query runner runs it (MySQL/MariaDB, or when something watches TypeORM's queries).
 *
 * TypeORM's node-sqlite3 runner prepares, runs and finalizes every statement anew (three trips
 * through node-sqlite3's queue, on libuv's thread pool) and both sqlite runners do work per query
 * that nothing reads in a session route (query events, two clocks, result objects). What TypeORM
 * promises the app is kept: its logger sees each statement as before (`logQuery`, and
 * `logQueryError`); the direct path is taken only when nothing else watches queries: no
 * subscribers (their `beforeQuery`/`afterQuery`) and no `maxQueryExecutionTime`.
 *
 * On node-sqlite3 a kept statement would stop the connection from closing (SQLITE_BUSY,
 * "unfinalized statements"), so the connection's `close` finalizes them first. Reads run to
 * their end (SQLITE_DONE), so no read transaction stays open in WAL mode.
 */
export function runDirect(
  dataSource: DataSource,
  sql: string,
  params: unknown[],
  read: boolean,
  limit: StatementLimit,
): Promise<StatementResult> | StatementResult | undefined {
  if (dataSource.subscribers.length > 0 || dataSource.options.maxQueryExecutionTime) return undefined;
  const { type } = dataSource.options;
  if (type === 'postgres') {
    const pool = (dataSource.driver as { master?: PgPool }).master;
    return typeof pool?.query === 'function' ? runPostgres(dataSource, pool, sql, params, limit) : undefined;
  }
  const connection = (dataSource.driver as { databaseConnection?: unknown }).databaseConnection;
  if (connection === undefined || connection === null) return undefined;
  if (type === 'better-sqlite3') return runBetter(dataSource, connection as BetterSqlite3Database, sql, params, read);
  if (type === 'sqlite') return runSqlite3(dataSource, connection as Sqlite3Database, sql, params, read, limit);
  return undefined;
}

/** How long a statement may take (`backendTimeout`), and the error the caller gets when it takes longer (it goes on meanwhile). */
export interface StatementLimit {
  ms: number;
  error(): Error;
}

/**
 * One promise for a statement that answers through `start(done)`: settled by the statement, or by
 * the limit, whichever comes first (one timer, no `Promise.race`: this runs for every request).
 */
function limited(dataSource: DataSource, sql: string, params: unknown[], limit: StatementLimit, start: (done: (error: unknown, result?: StatementResult) => void) => void): Promise<StatementResult> {
  return new Promise<StatementResult>((resolve, reject) => {
    const timer = setTimeout(() => reject(limit.error()), limit.ms);
    start((error, result) => {
      clearTimeout(timer);
      if (error) {
        dataSource.logger.logQueryError(error as Error, sql, params);
        reject(error);
      } else resolve(result!);
    });
  });
}

/**
 * PostgreSQL: the statement through the pool's own `query` (a client for one statement, given
 * back when it ends), without TypeORM's query runner around it. Unnamed statements, as TypeORM
 * sends them: named ones would break behind PgBouncer in transaction mode.
 */
function runPostgres(dataSource: DataSource, pool: PgPool, sql: string, params: unknown[], limit: StatementLimit): Promise<StatementResult> {
  dataSource.logger.logQuery(sql, params);
  return limited(dataSource, sql, params, limit, (done) => {
    pool.query(sql, params).then(
      (result) => done(null, { records: result.rows, affected: result.rowCount ?? undefined }),
      (error: unknown) => done(error ?? new Error('query failed')),
    );
  });
}

function runBetter(dataSource: DataSource, db: BetterSqlite3Database, sql: string, params: unknown[], read: boolean): StatementResult {
  let statements = betterStatements.get(db);
  if (statements === undefined) betterStatements.set(db, (statements = new Map()));
  dataSource.logger.logQuery(sql, params);
  try {
    let statement = statements.get(sql);
    if (statement === undefined) statements.set(sql, (statement = db.prepare(sql)));
    return read ? { records: statement.all(...params), affected: undefined } : { records: [], affected: statement.run(...params).changes };
  } catch (error) {
    dataSource.logger.logQueryError(error as Error, sql, params);
    throw error;
  }
}

/** node-sqlite3: a statement prepared once (kept, once it prepared, for every later call), run on the connection's queue. */
function runSqlite3(dataSource: DataSource, db: Sqlite3Database, sql: string, params: unknown[], read: boolean, limit: StatementLimit): Promise<StatementResult> {
  let statements = sqlite3Statements.get(db);
  if (statements === undefined) {
    sqlite3Statements.set(db, (statements = new Map()));
    finalizeBeforeClose(db, statements);
  }
  dataSource.logger.logQuery(sql, params);
  const kept = statements;
  return limited(dataSource, sql, params, limit, (done) => {
    const execute = (statement: Sqlite3Statement) => {
      if (read) statement.all(params, (error, rows) => done(error, { records: rows, affected: undefined }));
      else {
        statement.run(params, function (error) {
          done(error, { records: [], affected: error ? undefined : this.changes });
        });
      }
    };
    const prepared = kept.get(sql);
    if (prepared !== undefined) return execute(prepared);
    const statement = db.prepare(sql, (error) => {
      if (error) return done(error); // not kept: tried again next time (the table may not be there yet)
      if (!kept.has(sql)) kept.set(sql, statement);
      execute(kept.get(sql)!);
      if (kept.get(sql) !== statement) statement.finalize();
    });
  });
}

/** Makes `db.close()` finalize this module's statements first (sqlite refuses to close a connection with live statements). */
function finalizeBeforeClose(db: Sqlite3Database, statements: Map<string, Sqlite3Statement>): void {
  const close = db.close;
  db.close = function (this: Sqlite3Database, callback?: (error: Error | null) => void) {
    const kept = [...statements.values()];
    statements.clear();
    void Promise.all(kept.map((statement) => new Promise<void>((resolve) => statement.finalize(() => resolve())))).then(() => close.call(db, callback));
    return db;
  };
}
