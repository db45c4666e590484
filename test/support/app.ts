/**
 * A real, listening Nest application for the e2e suites — on Express or on Fastify — backed by a
 * fresh temporary SQLite *file*, plus the tools the suites observe it with:
 *
 * - `Client`: a tiny cookie-jar HTTP client on Node's global `fetch`;
 * - `SqlCounter`: a TypeORM `Logger` that records every statement the app's DataSource runs;
 * - `SqliteFile`: a second, independent connection to the same file, so assertions read what is
 *   really stored (and tests can tamper with rows) without going through the code under test;
 * - `logs`: a Nest `LoggerService` that captures what the app logs (and keeps test output quiet).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  Module,
  type DynamicModule,
  type INestApplication,
  type LoggerService,
  type ModuleMetadata,
  type Provider,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import sqlite3 from 'sqlite3';
import { DataSource, type Logger as TypeOrmLogger } from 'typeorm';
import {
  CreateDjangoSession1700000000000,
  SessionCodec,
  SessionEntity,
  SessionModule,
  type SessionModuleOptions,
} from '../../src/index.js';

export type Platform = 'express' | 'fastify';
export const PLATFORMS: Platform[] = ['express', 'fastify'];

/** The SECRET_KEY every suite signs with unless it says otherwise. */
export const TEST_SECRET = 'django-insecure-e2e-test-secret-key-0123456789';

// ---- SQL statement counter ---------------------------------------------------------------------

/**
 * Counts the SQL statements a DataSource runs: TypeORM calls `logQuery` once per statement, before
 * running it, for every query runner (a custom logger object is used as is, whatever `logging`).
 */
export class SqlCounter implements TypeOrmLogger {
  readonly statements: string[] = [];

  logQuery(query: string): void {
    this.statements.push(query);
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}

  get count(): number {
    return this.statements.length;
  }

  /** The statements' first words (`SELECT`, `UPDATE`...), in order. */
  get verbs(): string[] {
    return this.statements.map((s) => s.trimStart().split(/\s+/, 1)[0]!.toUpperCase());
  }

  reset(): void {
    this.statements.length = 0;
  }
}

// ---- captured Nest logs ------------------------------------------------------------------------

export interface LogEntry {
  level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  message: string;
  context: string | undefined;
}

/**
 * Captures what the app logs. Nest routes every `new Logger(context)` to the logger given to
 * `NestFactory.create`, so warnings of the library land here. Set E2E_LOGS=1 to also print them.
 */
export class CapturingLogger implements LoggerService {
  readonly entries: LogEntry[] = [];

  private push(level: LogEntry['level'], message: unknown, params: unknown[]): void {
    // Nest passes the context as the last string parameter (an error's stack may come before it).
    const last = params.at(-1);
    const context = typeof last === 'string' ? last : undefined;
    const text = message instanceof Error ? `${message.name}: ${message.message}` : String(message);
    this.entries.push({ level, message: text, context });
    if (process.env.E2E_LOGS) process.stderr.write(`[${level}] ${context ?? ''} ${text} ${params.slice(0, -1).join(' ')}\n`);
  }
  log(message: unknown, ...params: unknown[]): void {
    this.push('log', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.push('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.push('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.push('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.push('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.push('fatal', message, params);
  }

  /** The entries at `level` (optionally of one context). */
  at(level: LogEntry['level'], context?: string): LogEntry[] {
    return this.entries.filter((e) => e.level === level && (context === undefined || e.context === context));
  }

  clear(): void {
    this.entries.length = 0;
  }
}

/** One logger per test file (Nest's static Logger points at the last app created). */
export const logs = new CapturingLogger();

// ---- a second connection to the SQLite file ---------------------------------------------------

/** One raw `django_session` row, as stored. */
export interface RawRow {
  session_key: string;
  session_data: string;
  expire_date: string;
}

/**
 * An independent sqlite3 connection to the app's database file: what a test reads here is what
 * the file holds, not what the code under test says it holds.
 */
export class SqliteFile {
  private constructor(private readonly db: sqlite3.Database) {}

  static open(file: string): Promise<SqliteFile> {
    return new Promise((resolve, reject) => {
      const db = new sqlite3.Database(file, sqlite3.OPEN_READWRITE, (error) => (error ? reject(error) : resolve(new SqliteFile(db))));
      db.configure('busyTimeout', 5000);
    });
  }

  all<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => this.db.all(sql, params, (error, rows) => (error ? reject(error) : resolve(rows as T[]))));
  }

  run(sql: string, params: unknown[] = []): Promise<number> {
    return new Promise((resolve, reject) =>
      this.db.run(sql, params, function (this: sqlite3.RunResult, error: Error | null) {
        if (error) reject(error);
        else resolve(this.changes);
      }),
    );
  }

  /** The row of `key`, or undefined. */
  async row(key: string): Promise<RawRow | undefined> {
    const rows = await this.all<RawRow>('SELECT session_key, session_data, expire_date FROM django_session WHERE session_key = ?', [key]);
    return rows[0];
  }

  async count(): Promise<number> {
    const [row] = await this.all<{ n: number }>('SELECT COUNT(*) AS n FROM django_session');
    return row!.n;
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.db.close((error) => (error ? reject(error) : resolve())));
  }
}

/** `expire_date` as Django writes it on SQLite: `YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC. */
export const DJANGO_DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{6})?$/;

/** Parses a stored `expire_date` (Django's text form) as the UTC instant it is, in ms. */
export function parseStoredDate(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{6}))?$/.exec(text);
  if (m === null) throw new Error(`expire_date ${JSON.stringify(text)} is not in Django's form YYYY-MM-DD HH:MM:SS[.ffffff]`);
  const [, y, mo, d, h, mi, s, us = '0'] = m;
  return Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!) + Number(us) / 1000;
}

/** What the file holds for `key`: the decoded data (with `TEST_SECRET` unless given) and the expiry. */
export interface StoredSession {
  raw: RawRow;
  data: Record<string, unknown>;
  /** `expire_date` as epoch ms. */
  expireMs: number;
}

export async function stored(db: SqliteFile, key: string, secretKey = TEST_SECRET): Promise<StoredSession | undefined> {
  const raw = await db.row(key);
  if (raw === undefined) return undefined;
  const { data, status } = new SessionCodec({ secretKey }).decode(raw.session_data);
  if (status !== 'ok') throw new Error(`row ${key} does not decode with the test secret (${status})`);
  return { raw, data, expireMs: parseStoredDate(raw.expire_date) };
}

// ---- the application ---------------------------------------------------------------------------

export interface StartOptions {
  platform: Platform;
  /** `SessionModule.forRoot(options)`; or a ready module (e.g. `SessionModule.forRootAsync(...)`). Default `{ secretKey: TEST_SECRET }`. */
  session?: SessionModuleOptions | DynamicModule;
  controllers?: Type[];
  providers?: Provider[];
  imports?: NonNullable<ModuleMetadata['imports']>;
  /** Name of the TypeORM DataSource (TypeOrmModule.forRoot({ name })). Default: the default one. */
  dataSourceName?: string;
  /** Runs between `NestFactory.create()` and `listen()`, e.g. `app.useGlobalGuards(...)`. */
  beforeListen?: (app: INestApplication) => void;
}

export interface TestApp {
  app: INestApplication;
  platform: Platform;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The app's own DataSource. */
  dataSource: DataSource;
  /** The SQLite file. */
  file: string;
  /** Every statement the app's DataSource runs (reset it before the request you count). */
  sql: SqlCounter;
  /** A separate connection to the file. */
  db: SqliteFile;
  /** A new cookie-jar client for this app. */
  client(cookieName?: string): Client;
  /** Closes the app and the second connection, and deletes the file. */
  close(): Promise<void>;
}

function isDynamicModule(value: unknown): value is DynamicModule {
  return typeof value === 'object' && value !== null && 'module' in value;
}

/** A temporary SQLite file name, unique per call (suites run in parallel). */
export function tempSqliteFile(label = 'e2e'): string {
  return join(tmpdir(), `nestjs-django-session-${label}-${process.pid}-${randomBytes(6).toString('hex')}.sqlite3`);
}

async function removeSqliteFile(file: string): Promise<void> {
  await Promise.all(['', '-journal', '-wal', '-shm'].map((suffix) => rm(file + suffix, { force: true })));
}

/**
 * Starts a listening app on 127.0.0.1, port 0. Fails (rejects) when the app fails to boot — it
 * never aborts the process — and then deletes its file.
 */
export async function startApp(options: StartOptions): Promise<TestApp> {
  const file = tempSqliteFile(options.platform);
  const sql = new SqlCounter();
  const session = options.session ?? { secretKey: TEST_SECRET };

  // The DataSource is built here so that a failed boot can still close it (and then delete the
  // file): Nest does not close what it had started when create() rejects.
  let initializing: Promise<DataSource> | undefined;

  @Module({
    imports: [
      TypeOrmModule.forRootAsync({
        name: options.dataSourceName,
        useFactory: () => ({
          type: 'sqlite' as const,
          database: file,
          entities: [SessionEntity],
          migrations: [CreateDjangoSession1700000000000],
          migrationsRun: true,
          logging: true,
          logger: sql,
          busyTimeout: 5000,
        }),
        dataSourceFactory: async (dataSourceOptions) => {
          initializing = new DataSource(dataSourceOptions!).initialize();
          return initializing;
        },
      }),
      isDynamicModule(session) ? session : SessionModule.forRoot(session),
      ...(options.imports ?? []),
    ],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  })
  class TestAppModule {}

  let app: INestApplication | undefined;
  try {
    const nestOptions = { logger: logs, abortOnError: false };
    app =
      options.platform === 'fastify'
        ? await NestFactory.create(TestAppModule, new FastifyAdapter(), nestOptions)
        : await NestFactory.create(TestAppModule, nestOptions);
    options.beforeListen?.(app);
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app?.close().catch(() => undefined);
    const dataSource = await initializing?.catch(() => undefined);
    if (dataSource?.isInitialized) await dataSource.destroy().catch(() => undefined);
    await removeSqliteFile(file);
    throw error;
  }
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const dataSource = app.get<DataSource>(getDataSourceToken(options.dataSourceName) as string);
  const db = await SqliteFile.open(file);
  sql.reset(); // the migration's statements are not the requests'
  const started = app;
  return {
    app: started,
    platform: options.platform,
    url,
    dataSource,
    file,
    sql,
    db,
    client: (cookieName = 'sessionid') => new Client(url, cookieName),
    async close() {
      await db.close().catch(() => undefined);
      await started.close();
      await removeSqliteFile(file);
    },
  };
}

// ---- the cookie-jar client ---------------------------------------------------------------------

/** One parsed `Set-Cookie` header. Attribute names are lower-cased; flags map to `true`. */
export interface SetCookie {
  raw: string;
  name: string;
  value: string;
  attributes: Record<string, string | true>;
}

export function parseSetCookie(raw: string): SetCookie {
  const [pair = '', ...parts] = raw.split(';');
  const eq = pair.indexOf('=');
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  const attributes: Record<string, string | true> = {};
  for (const part of parts) {
    const at = part.indexOf('=');
    if (at < 0) attributes[part.trim().toLowerCase()] = true;
    else attributes[part.slice(0, at).trim().toLowerCase()] = part.slice(at + 1).trim();
  }
  return { raw, name, value, attributes };
}

export interface Reply {
  status: number;
  headers: Headers;
  /** Every Set-Cookie header, parsed. */
  setCookies: SetCookie[];
  /** The `Vary` header, or null. */
  vary: string | null;
  text: string;
  /** The body parsed as JSON. */
  json<T = any>(): T;
}

export interface RequestOptions {
  body?: unknown;
  /**
   * The Cookie header to send: the jar's (default), exactly this string, or none (`null`).
   * A string is sent as is, e.g. `'sessionid=ABC'`.
   */
  cookie?: string | null;
  headers?: Record<string, string>;
}

/** An operation run by the test controller on the session: `[method, ...args]`. */
export type Op = [string, ...unknown[]];

/**
 * A browser-like client: sends the cookies it holds, keeps what `Set-Cookie` sets, forgets what it
 * deletes (empty value, `Max-Age<=0` or an `Expires` in the past). Ignores Domain/Path/Secure.
 */
export class Client {
  readonly jar = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    readonly cookieName = 'sessionid',
  ) {}

  /** The session cookie this client holds (undefined when none). */
  get sessionKey(): string | undefined {
    return this.jar.get(this.cookieName);
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    const cookie = options.cookie === undefined ? this.cookieHeader() : options.cookie;
    if (cookie !== null && cookie !== '') headers.cookie = cookie;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(this.baseUrl + path, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    const setCookies = res.headers.getSetCookie().map(parseSetCookie);
    for (const c of setCookies) this.store(c);
    return {
      status: res.status,
      headers: res.headers,
      setCookies,
      vary: res.headers.get('vary'),
      text,
      json: () => JSON.parse(text),
    };
  }

  get(path: string, options?: RequestOptions): Promise<Reply> {
    return this.request('GET', path, options);
  }

  post(path: string, body?: unknown, options?: RequestOptions): Promise<Reply> {
    return this.request('POST', path, { ...options, body });
  }

  /** Runs `ops` on the session through `POST /ops` (see test/support/controllers.ts). */
  ops(ops: Op[], options?: RequestOptions & { path?: string }): Promise<Reply> {
    return this.request('POST', options?.path ?? '/ops', { ...options, body: { ops } });
  }

  private cookieHeader(): string | null {
    if (this.jar.size === 0) return null;
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  private store(cookie: SetCookie): void {
    const maxAge = cookie.attributes['max-age'];
    const expires = cookie.attributes.expires;
    const gone =
      cookie.value === '' ||
      cookie.value === '""' ||
      (typeof maxAge === 'string' && Number(maxAge) <= 0) ||
      (maxAge === undefined && typeof expires === 'string' && Date.parse(expires) <= Date.now());
    if (gone) this.jar.delete(cookie.name);
    else this.jar.set(cookie.name, cookie.value);
  }
}

/** The session cookie among `reply`'s Set-Cookie headers (undefined when there is none). */
export function sessionCookieOf(reply: Reply, name = 'sessionid'): SetCookie | undefined {
  const matching = reply.setCookies.filter((c) => c.name === name);
  if (matching.length > 1) throw new Error(`${matching.length} Set-Cookie headers for ${name}: ${matching.map((c) => c.raw).join(' | ')}`);
  return matching[0];
}

/** A valid-looking 32-character key that no row has. */
export function unknownKey(): string {
  return randomBytes(16).toString('hex');
}
