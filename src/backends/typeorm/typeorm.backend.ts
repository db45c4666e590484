import { Logger } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import type { SessionCodec } from '../../codec/session-codec.js';
import { decodedMap, decodeLogged } from '../../codec/suspicious-session.js';
import { CreateError, SessionConfigError, SessionBackendUnavailable, UpdateError } from '../../session.errors.js';
import type { EngineContext } from '../engine-context.js';
import { SessionBackend, type SessionExpiry, type SessionMap } from '../session-backend.js';
import { backendTimeoutError, withinBackendTimeout } from '../backend-timeout.js';
import { useDjangoDateText } from './django-date-text.js';
import { SessionEntity } from './session.entity.js';
import { dialectOf, expireDateParam, readExpireDate, type Dialect } from './dialect.js';
import { runDirect, type StatementLimit } from './direct-statements.js';
import { buildStatements, SWEEP_BATCH_ROWS, type Statement, type StatementName } from './statements.js';

const bootLogger = new Logger('SessionModule');

/** What the timeouts call this engine's store. */
const DATABASE = 'session database';

/** A `django_session` row as the db engine reads it. */
export interface SessionRow {
  sessionData: string;
  /** `expire_date`; null if the driver gave something unreadable. */
  expireDate: Date | null;
}

/**
 * The `db` engine (Django's `django.contrib.sessions.backends.db`): sessions in Django's
 * `django_session` table through a TypeORM DataSource, with the same SQL Django runs, so either
 * side reads and writes what the other does. A request costs one SELECT to read, one write to save.
 *
 * @example
 * ```ts
 * // Outside Nest (the module builds it from the app's DataSource):
 * const backend = new TypeOrmSessionBackend(dataSource, new SessionCodec({ secretKey }));
 * await backend.clearExpired();
 * ```
 */
export class TypeOrmSessionBackend extends SessionBackend {
  override readonly engineName: string = 'db';
  #dataSource: DataSource | (() => DataSource);
  readonly #codec: SessionCodec | undefined;
  readonly #timeoutMs: number;
  /** sqlite in WAL mode: a connection of its own for `load`, so reads never queue behind a write waiting on a lock. */
  #reader: DataSource | undefined;
  #dialect?: Dialect;
  #statements?: Record<StatementName, Statement>;
  /** Each statement's `backendTimeout` limit for the direct driver path, made once. */
  readonly #limits: Partial<Record<StatementName, StatementLimit>> = {};

  /**
   * @param dataSource the DataSource (or, in a Nest app, how to find it once every provider exists)
   * @param codec signs and reads `session_data` (not needed for `clearExpired()`, `exists()`, `delete()`)
   * @param timeoutSeconds how long one statement may take (`backendTimeout`); default 3
   */
  constructor(
    dataSource: DataSource | (() => DataSource),
    codec?: SessionCodec,
    timeoutSeconds = 3,
  ) {
    super();
    this.#dataSource = dataSource;
    this.#codec = codec;
    this.#timeoutMs = Math.round(timeoutSeconds * 1000);
  }

  protected get codec(): SessionCodec {
    if (this.#codec === undefined) throw new Error('TypeOrmSessionBackend needs a SessionCodec to read or write session data');
    return this.#codec;
  }

  /** The module's engine: the app's DataSource (the default one, or the one named by `dataSource`). */
  static fromContext(context: EngineContext): TypeOrmSessionBackend {
    const backend = new this(resolveDataSource(context), context.codec, context.options.backendTimeout);
    backend.tracksStoredExpiry = context.options.touchAfter !== null;
    return backend;
  }

  /**
   * Finds the DataSource and builds the statements at start-up, so a missing one fails the boot;
   * on a sqlite file in WAL mode, opens the read connection (see `openSqliteReader`).
   */
  async onModuleInit(): Promise<void> {
    const dataSource = this.dataSource;
    useDjangoDateText(dataSource);
    this.#statements ??= buildStatements(dataSource, this.#timeoutMs);
    this.#reader ??= await openSqliteReader(dataSource);
  }

  /**
   * Checks at start-up that `django_session` can be read (one `SELECT ... WHERE 1 = 0`, no row
   * read), so that a missing table fails the boot with what to do, not every visitor's request
   * with a 500. Runs once every module is initialised, after TypeORM's DataSource ran its
   * migrations (`migrationsRun`) and after any `onModuleInit` of the app's that migrates. A
   * DataSource the app initialises itself later (`manualInitialization`) is not checked. A table
   * that is merely locked or slow to answer does not fail the boot (logged as a warning).
   */
  async onApplicationBootstrap(): Promise<void> {
    const dataSource = this.dataSource;
    if (!dataSource.isInitialized) return;
    const repo = dataSource.getRepository(SessionEntity);
    const [sql, params] = repo.createQueryBuilder('s').select('1', 'found').where('1 = 0').getQueryAndParameters();
    try {
      await withinBackendTimeout(dataSource.query(sql, params), this.#timeoutMs, DATABASE, 'the start-up check');
    } catch (error) {
      if (isStoreUnavailable(error)) {
        bootLogger.warn(`Could not check the session table ${repo.metadata.tablePath} at start-up (${errorClass(error)}): the database is busy or slow; requests will retry`);
        return;
      }
      throw new SessionConfigError(
        `The "${this.engineName}" engine cannot read its table ${repo.metadata.tablePath} (${errorClass(error)}${isMissingTable(error) ? ': it does not exist' : ''}). ` +
          'Create it with the migration: add CreateDjangoSession1700000000000 (exported by nestjs-django-session) to the DataSource\'s ' +
          '`migrations` with `migrationsRun: true`, or run `npx typeorm migration:run -d <your data source>`; or, next to a Django ' +
          'project on the same database, `python manage.py migrate sessions`. SessionEntity must also be in `entities`.',
        { cause: error },
      );
    }
  }

  /** Closes the read connection this engine opened (never the app's DataSource). */
  async onModuleDestroy(): Promise<void> {
    const reader = this.#reader;
    this.#reader = undefined;
    if (reader?.isInitialized) await reader.destroy();
  }

  protected get dataSource(): DataSource {
    if (typeof this.#dataSource === 'function') this.#dataSource = this.#dataSource();
    return this.#dataSource;
  }

  async load(key: string): Promise<SessionMap | null> {
    const row = await this.loadRow(key);
    if (row === null) return null;
    const data = decodedMap(decodeLogged(this.codec, row.sessionData));
    return this.tracksStoredExpiry && row.expireDate !== null ? SessionBackend.noteStoredExpiry(data, { expiresAt: row.expireDate.getTime() }) : data;
  }

  /** The live row of `key` (not expired), as stored; null when there is none. */
  async loadRow(key: string): Promise<SessionRow | null> {
    const rows = (await this.run('load', [key, this.dateParam(new Date())])).records;
    const row = rows[0] as { data?: unknown; expire?: unknown } | undefined;
    if (row === undefined) return null;
    return { sessionData: String(row.data), expireDate: readExpireDate(this.dataSource, row.expire) };
  }

  async exists(key: string): Promise<boolean> {
    return this.rowExists(key);
  }

  /** Whether the row exists, expired or not (what `exists()` answers on this engine; cached_db asks its cache too). */
  protected async rowExists(key: string): Promise<boolean> {
    return (await this.run('exists', [key])).records.length > 0;
  }

  async save(key: string, data: ReadonlyMap<string, unknown>, expiry: SessionExpiry, mustCreate: boolean): Promise<string> {
    await this.saveRow(key, this.codec.encodeEntries(data), expiry.date, mustCreate);
    return key;
  }

  /** Writes `session_data` as is: INSERT (`CreateError` on a taken key) or UPDATE (`UpdateError` when the row is gone). */
  async saveRow(key: string, sessionData: string, expireDate: Date, mustCreate: boolean): Promise<void> {
    if (mustCreate) {
      try {
        await this.run('insert', [key, sessionData, this.dateParam(expireDate)]);
      } catch (error) {
        if (isUniqueViolation(error)) throw new CreateError(`session key ${key} is taken`);
        throw error;
      }
      return;
    }
    const { affected } = await this.run('update', [sessionData, this.dateParam(expireDate), key]);
    // MySQL reports rows *changed*, not matched (Django sets CLIENT.FOUND_ROWS for this): an UPDATE
    // that wrote identical values says 0, so confirm before calling the session gone.
    if (!affected && !(await this.rowExists(key))) {
      throw new UpdateError(`session ${key} no longer exists`);
    }
  }

  /** `touchAfter`: `UPDATE django_session SET expire_date = ... WHERE session_key = ...`, the data untouched. */
  override async touch(key: string, _data: ReadonlyMap<string, unknown>, expiry: SessionExpiry): Promise<string> {
    await this.touchRow(key, expiry.date);
    return key;
  }

  /** Moves the row's `expire_date` alone (`UpdateError` when the row is gone). */
  protected async touchRow(key: string, expireDate: Date): Promise<void> {
    const { affected } = await this.run('touch', [this.dateParam(expireDate), key]);
    // MySQL counts rows changed, not matched (see saveRow).
    if (!affected && !(await this.rowExists(key))) throw new UpdateError(`session ${key} no longer exists`);
  }

  async delete(key: string): Promise<void> {
    await this.run('delete', [key]);
  }

  /**
   * Deletes the expired rows in batches of `SWEEP_BATCH_ROWS`, yielding to the event loop between
   * them, so requests keep being served during a long sweep; resolves to the exact count.
   *
   * On sqlite (one write lock per file) it also pauses 3× as long as each batch took: a writer in
   * another process (the app, while `clearsessions` sweeps) sits in SQLite's busy handler, which
   * retries only after sleeping 1, 2, 5 … 100 ms, and would otherwise almost never find the lock
   * free between back-to-back batches (measured: writes waited up to 1.2 s; with the pause, within
   * the machine's own noise; bench/results/sweep.md). The sweep takes about 4× longer.
   */
  async clearExpired(): Promise<number> {
    const now = this.dateParam(new Date());
    const sqlite = (this.#dialect ??= dialectOf(this.dataSource)) === 'sqlite';
    let total = 0;
    for (;;) {
      const started = performance.now();
      const deleted = (await this.run('clearExpired', [now])).affected ?? 0;
      total += deleted;
      if (deleted < SWEEP_BATCH_ROWS) return total;
      if (sqlite) await new Promise((resolve) => setTimeout(resolve, Math.max(1, 3 * (performance.now() - started))));
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private dateParam(date: Date): Date | string {
    return expireDateParam((this.#dialect ??= dialectOf(this.dataSource)), date);
  }

  private async run(name: StatementName, args: unknown[]) {
    const statement = (this.#statements ??= buildStatements(this.dataSource, this.#timeoutMs))[name];
    const params = statement.order.map((i) => args[i]);
    const dataSource = name === 'load' && this.#reader !== undefined ? this.#reader : this.dataSource;
    try {
      // better-sqlite3 answers at once (nothing to time out); the others within backendTimeout, as below.
      const limit = (this.#limits[name] ??= { ms: this.#timeoutMs, error: () => backendTimeoutError(DATABASE, name, this.#timeoutMs) });
      const direct = runDirect(dataSource, statement.sql, params, statement.read, limit);
      if (direct !== undefined) return 'then' in direct ? await direct : direct;
    } catch (error) {
      throw isStoreUnavailable(error) ? new SessionBackendUnavailable(`The session database did not answer (${name}: ${errorClass(error)})`, { cause: error }) : error;
    }
    const runner = dataSource.createQueryRunner();
    const query = runner.query(statement.sql, params, true);
    // The connection goes back to the pool when the statement ends, not when the request stops
    // waiting for it: a statement stuck on a lock would otherwise hold up the next one given it.
    const ignore = () => undefined;
    void query.then(ignore, ignore).then(() => runner.release()).catch(ignore);
    try {
      const result = await withinBackendTimeout(query, this.#timeoutMs, DATABASE, name);
      return { records: (result.records ?? []) as unknown[], affected: result.affected as number | undefined };
    } catch (error) {
      throw isStoreUnavailable(error) ? new SessionBackendUnavailable(`The session database did not answer (${name}: ${errorClass(error)})`, { cause: error }) : error;
    }
  }
}

/** A table that does not exist, in the words of each driver. */
function isMissingTable(error: unknown): boolean {
  const driverError = ((error as { driverError?: unknown })?.driverError ?? error) as Record<string, unknown> | undefined;
  const code = String(driverError?.code ?? '');
  return (
    code === '42P01' || // PostgreSQL undefined_table
    code === 'ER_NO_SUCH_TABLE' || // MySQL / MariaDB
    /no such table/i.test(String(driverError?.message ?? '')) // sqlite3 and better-sqlite3 (SQLITE_ERROR)
  );
}

/** A duplicate primary key, in the words of each driver. */
function isUniqueViolation(error: unknown): boolean {
  const driverError = (error as { driverError?: Record<string, unknown> })?.driverError ?? (error as Record<string, unknown>);
  const code = String(driverError?.code ?? '');
  return (
    code === '23505' || // PostgreSQL unique_violation
    code === 'ER_DUP_ENTRY' || // MySQL / MariaDB
    code.startsWith('SQLITE_CONSTRAINT') || // sqlite3 and better-sqlite3
    /UNIQUE constraint failed|duplicate key/i.test(String((driverError as { message?: unknown })?.message ?? ''))
  );
}

/** How the module's engine finds the app's DataSource, once every provider exists (`onModuleInit`). */
export function resolveDataSource({ options, moduleRef }: EngineContext): () => DataSource {
  return () => {
    try {
      return moduleRef.get<DataSource>(getDataSourceToken(options.dataSource) as string, { strict: false });
    } catch {
      throw new Error(
        `nestjs-django-session: the "${String(options.engine)}" engine found no TypeORM DataSource ` +
          `${options.dataSource ? `named "${options.dataSource}"` : '(default)'} (option "dataSource"). ` +
          'Import TypeOrmModule.forRoot({ ..., entities: [SessionEntity] }) in the same application.',
      );
    }
  };
}

/** `promise`, or a `SessionBackendUnavailable` once `ms` have passed (the statement itself goes on until the database ends it). */
/**
 * Errors that mean "the database cannot serve now" rather than "this statement is wrong": a lock
 * or busy timeout, a statement timeout, a lost or refused connection. Answered 503, not 500.
 */
function isStoreUnavailable(error: unknown): boolean {
  if (error instanceof SessionBackendUnavailable) return true;
  const driverError = ((error as { driverError?: unknown })?.driverError ?? error) as Record<string, unknown> | undefined;
  const code = String(driverError?.code ?? (error as Record<string, unknown>)?.code ?? '');
  const errno = Number(driverError?.errno ?? NaN);
  return (
    /^SQLITE_(BUSY|LOCKED)/.test(code) ||
    ['55P03', '57014', '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006'].includes(code) || // PostgreSQL: lock_not_available, query_canceled, shutdown, too many connections, connection failures
    ['ER_LOCK_WAIT_TIMEOUT', 'ER_STATEMENT_TIMEOUT', 'ER_QUERY_INTERRUPTED', 'ER_CON_COUNT_ERROR', 'PROTOCOL_CONNECTION_LOST'].includes(code) ||
    errno === 1969 || // MariaDB: max_statement_time exceeded
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code) ||
    /Connection terminated|connection is closed|Pool is closed/i.test(String((driverError as { message?: unknown })?.message ?? ''))
  );
}

/** The error's class name, for a message that must not carry the driver's words. */
function errorClass(error: unknown): string {
  const driverError = (error as { driverError?: unknown })?.driverError ?? error;
  const code = (driverError as { code?: unknown })?.code;
  return typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? code : ((driverError as Error)?.constructor?.name ?? 'Error');
}

/**
 * A second connection to the same sqlite file, for reads. TypeORM's sqlite drivers run every
 * statement of a DataSource on one connection, in turn: a write waiting on another process's
 * lock (up to `busyTimeout`) holds up every session read of the app behind it. In WAL mode readers
 * never wait for writers, so reads on a connection of their own go on. Only for a file in WAL mode
 * (in rollback-journal mode a writer's lock blocks readers anyway); the app's own options are
 * reused as they are, without migrations or schema sync, and its query subscribers are shared.
 */
async function openSqliteReader(dataSource: DataSource): Promise<DataSource | undefined> {
  const options = dataSource.options as { type: string; database?: string; enableWAL?: boolean; name?: string };
  if ((options.type !== 'sqlite' && options.type !== 'better-sqlite3') || options.enableWAL !== true) return undefined;
  if (!options.database || options.database === ':memory:' || options.database.startsWith('file::memory')) return undefined;
  const reader = new DataSource({
    ...(dataSource.options as DataSourceOptions),
    name: `${options.name ?? 'default'}-session-reader`,
    entities: [SessionEntity],
    migrations: [],
    subscribers: [],
    migrationsRun: false,
    synchronize: false,
    dropSchema: false,
  } as DataSourceOptions);
  await reader.initialize();
  // The app's query subscribers (tracing, metrics) see the reads too: the reader's list is the app's.
  Object.defineProperty(reader, 'subscribers', { get: () => dataSource.subscribers, configurable: true });
  return reader;
}
