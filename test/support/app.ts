/**
 * A real, listening Nest application for the e2e suites — on Express or on Fastify, on one of the
 * session engines (db by default: a fresh temporary SQLite *file*; cache: a node-redis client on
 * TEST_REDIS_URL under a key prefix of its own; signed_cookies; file: a temporary directory) —
 * plus the tools the suites observe it with:
 *
 * - `Client`: a tiny cookie-jar HTTP client on Node's global `fetch`;
 * - `StoreProbe` (`t.store`): the engine's real storage, looked at directly — the SQLite file, the
 *   Redis keys, the session files — so assertions read what is really stored (and tests can
 *   tamper with it) without going through the code under test;
 * - `SqlCounter` / `RedisCommandCounter` (`t.io`): every SQL statement the app's DataSource runs,
 *   every Redis command the app's client sends;
 * - `SqliteFile` (`t.db`, db only): a second, independent connection to the SQLite file;
 * - `logs`: a Nest `LoggerService` that captures what the app logs (and keeps test output quiet).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  Module,
  type DynamicModule,
  type INestApplication,
  type INestApplicationContext,
  type LoggerService,
  type ModuleMetadata,
  type Provider,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import sqlite3 from 'sqlite3';
import type { RedisClientType } from 'redis';
import { DataSource, type Logger as TypeOrmLogger } from 'typeorm';
import {
  CreateDjangoSession1700000000000,
  SessionCodec,
  SessionEntity,
  SessionModule,
  SessionService,
  type SessionModuleOptions,
} from '../../src/index.js';
import { SIGNED_COOKIES_SALT } from '../../src/exports/engines.js';
import { CACHE_SERIALIZERS } from '../../src/codec/cache-serializers.js';
import { b62Decode } from '../../src/codec/signing.js';
import { describeWith, type Service } from './env.js';

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

  /** The verbs, as an `IoCounter`'s operations. */
  get ops(): string[] {
    return this.verbs;
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

// ---- the engines under test --------------------------------------------------------------------

/**
 * The session engines (Django's `SESSION_ENGINE`) the e2e suites run on. `cache` needs the Redis
 * at TEST_REDIS_URL (see test/support/env.ts); the others need nothing but the machine.
 */
export type EngineUnderTest = 'db' | 'cache' | 'signed_cookies' | 'file';
export const ENGINES_UNDER_TEST: readonly EngineUnderTest[] = ['db', 'cache', 'signed_cookies', 'file'];

/** The services an engine's storage needs (for `describeWith`). */
export function servicesOf(engine: EngineUnderTest): Service[] {
  return engine === 'cache' ? ['redis'] : [];
}

/**
 * `describe` once per engine × platform: `"<title> on <platform>, engine <engine>"`. A suite on
 * an engine whose service is not configured is left out visibly (see `describeWith`).
 */
export function describeEngines(
  title: string,
  body: (engine: EngineUnderTest, platform: Platform) => void,
  engines: readonly EngineUnderTest[] = ENGINES_UNDER_TEST,
): void {
  for (const engine of engines) {
    for (const platform of PLATFORMS) {
      describeWith(servicesOf(engine), `${title} on ${platform}, engine ${engine}`, () => body(engine, platform));
    }
  }
}

/** What a key made by the engines that store sessions looks like. */
export const STORED_KEY = /^[a-z0-9]{32}$/;
/** A `signing.dumps()` value, the signed_cookies engine's key (and cookie value). */
export const SIGNED_KEY = /^\.?[A-Za-z0-9_-]+:[0-9A-Za-z]+:[A-Za-z0-9_-]+$/;

/** `expire_date` as Django writes it on SQLite (UTC; microseconds only when there are some). */
export function djangoDateText(ms: number): string {
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? iso.replace('T', ' ').replace('.000Z', '') : iso.replace('T', ' ').replace('Z', '000');
}

/**
 * The engine's real storage, looked at directly — never through the code under test: the SQLite
 * file through a second connection (db), the Redis keys under the app's private prefix (cache),
 * the session files (file). signed_cookies stores nothing: a key is a cookie value, and `data()`
 * verifies and decodes it as Django would (`signing.loads` with the engine's salt).
 */
export interface StoreProbe {
  readonly engine: EngineUnderTest;
  /** False for signed_cookies: nothing is stored on the server. */
  readonly stores: boolean;
  /** What a key this engine makes looks like. */
  readonly keyPattern: RegExp;
  /** Whether a session is stored under `key` (signed_cookies: false, as Django's `exists()`). */
  exists(key: string): Promise<boolean>;
  /** The stored data of `key`, decoded; undefined when nothing is stored. Throws when what is stored does not decode. */
  data(key: string): Promise<Record<string, unknown> | undefined>;
  /**
   * When the stored session expires, in epoch ms: `expire_date` (db); now + the entry's TTL
   * (cache); the file's last write + its expiry (file); the signing time + cookieAge, when the
   * server stops accepting the cookie (signed_cookies). Undefined when nothing is stored.
   */
  expiresAt(key: string): Promise<number | undefined>;
  /**
   * Makes the stored session expire at `ms` (in the past: expired, as time would have it) and
   * resolves to the cookie value that now names it: `key`, or a value re-signed with an older
   * timestamp (signed_cookies). Redis drops an entry whose expiry has passed.
   */
  setExpiresAt(key: string, ms: number): Promise<string>;
  /** Deletes the session directly, as a logout in another request would; resolves to how many were deleted (signed_cookies: 0, a cookie cannot be revoked). */
  delete(key: string): Promise<number>;
  /** How many sessions the app's storage holds (0 on signed_cookies). */
  count(): Promise<number>;
  /**
   * What is stored for `key`, in a form that changes whenever the session is written again, even
   * with the same data (db: the row; file: contents, mtime and inode; cache: the value, and
   * whether the TTL the first snapshot of the key stamped on it is still there — a save resets
   * it). Undefined on signed_cookies.
   */
  snapshot(key: string): Promise<unknown>;
  /** Stores `data` directly, as Django would write it, expiring at `expiresAtMs`; resolves to the cookie value naming it. */
  put(key: string, data: Record<string, unknown>, expiresAtMs: number): Promise<string>;
  /** The stored form of `key`, as is (db: `session_data`; cache: the value's bytes; file: the file's text). */
  raw(key: string): Promise<string | Buffer | undefined>;
  /** Replaces the stored form of `key` (keeping its expiry). */
  overwrite(key: string, raw: string | Buffer): Promise<void>;
  /** A well-formed key that names no session (signed_cookies: a value signed with another SECRET_KEY). */
  unknownKey(): string;
  /** @internal */
  close(): Promise<void>;
}

/** What the probes need to know of the app's session options. */
interface ProbeSettings {
  secretKey: string;
  salt: string | undefined;
  cookieName: string;
  cookieAge: number;
}

const noStorage = (engine: string) => new Error(`the ${engine} engine stores nothing on the server`);

class DbProbe implements StoreProbe {
  readonly engine = 'db';
  readonly stores = true;
  readonly keyPattern = STORED_KEY;
  private readonly codec: SessionCodec;
  constructor(
    readonly db: SqliteFile,
    settings: ProbeSettings,
  ) {
    this.codec = new SessionCodec({ secretKey: settings.secretKey, salt: settings.salt });
  }
  async exists(key: string) {
    return (await this.db.row(key)) !== undefined;
  }
  async data(key: string) {
    const row = await this.db.row(key);
    if (row === undefined) return undefined;
    const { data, status } = this.codec.decode(row.session_data);
    if (status !== 'ok') throw new Error(`row ${key} does not decode with the app's secret (${status})`);
    return data;
  }
  async expiresAt(key: string) {
    const row = await this.db.row(key);
    return row && parseStoredDate(row.expire_date);
  }
  async setExpiresAt(key: string, ms: number) {
    await this.db.run('UPDATE django_session SET expire_date = ? WHERE session_key = ?', [djangoDateText(ms), key]);
    return key;
  }
  delete(key: string) {
    return this.db.run('DELETE FROM django_session WHERE session_key = ?', [key]);
  }
  count() {
    return this.db.count();
  }
  snapshot(key: string) {
    return this.db.row(key);
  }
  async put(key: string, data: Record<string, unknown>, expiresAtMs: number) {
    await this.db.run('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)', [key, this.codec.encode(data), djangoDateText(expiresAtMs)]);
    return key;
  }
  async raw(key: string) {
    return (await this.db.row(key))?.session_data;
  }
  async overwrite(key: string, raw: string | Buffer) {
    await this.db.run('UPDATE django_session SET session_data = ? WHERE session_key = ?', [String(raw), key]);
  }
  unknownKey() {
    return unknownKey();
  }
  close() {
    return this.db.close();
  }
}

/** The node-redis v5 client the cache engine is given (a connected `createClient()`). */
type NodeRedisClient = RedisClientType;

/** Django's cache key prefix of the cache engine (`backends/cache.py`). */
const CACHE_ENGINE_PREFIX = 'django.contrib.sessions.cache';
/** The TTL `snapshot()` stamps on a cache entry: odd enough that no save writes it (~34.7 days). */
const TTL_STAMP_MS = 3_000_000_123;
/** RESP_TYPES.BLOB_STRING of node-redis: mapped to Buffer, a GET answers the value's exact bytes. */
const BLOB_STRING = 36;

class CacheProbe implements StoreProbe {
  readonly engine = 'cache';
  readonly stores = true;
  readonly keyPattern = STORED_KEY;
  private readonly stamped = new Set<string>();
  constructor(
    /** The same connection the app uses, but not through the counting proxy. */
    private readonly redis: NodeRedisClient,
    /** The app's private `cache.keyPrefix`. */
    readonly keyPrefix: string,
    private readonly serializer: 'pickle' | 'json',
  ) {}
  /** Django's `make_key()`: `KEY_PREFIX:VERSION:` + the engine's prefix + the session key. */
  redisKey(key: string): string {
    return `${this.keyPrefix}:1:${CACHE_ENGINE_PREFIX}${key}`;
  }
  /** A command on the real connection, not through the app's counting proxy. */
  private cmd(...args: Array<string | Buffer>): Promise<unknown> {
    return this.redis.sendCommand(args);
  }
  async exists(key: string) {
    return Number(await this.cmd('EXISTS', this.redisKey(key))) === 1;
  }
  async data(key: string) {
    const value = await this.raw(key);
    if (value === undefined) return undefined;
    try {
      // django-redis's serializer, as the engine uses it (pickle: a top-level `_session_expiry`
      // datetime, as Django 3.2 stores one, reads as its isoformat() string).
      return Object.fromEntries(CACHE_SERIALIZERS[this.serializer].loads(value));
    } catch (error) {
      throw new Error(`the cache entry of ${key} does not decode as ${this.serializer}: ${(error as Error).message}`);
    }
  }
  async expiresAt(key: string) {
    const ttl = Number(await this.cmd('PTTL', this.redisKey(key)));
    return ttl < 0 ? undefined : Date.now() + ttl;
  }
  async setExpiresAt(key: string, ms: number) {
    // In the past, Redis deletes the entry at once: what an expired entry is on Redis.
    await this.cmd('PEXPIREAT', this.redisKey(key), String(Math.round(ms)));
    return key;
  }
  async delete(key: string) {
    return Number(await this.cmd('DEL', this.redisKey(key)));
  }
  async count() {
    let n = 0;
    for await (const keys of this.redis.scanIterator({ MATCH: `${globEscape(this.keyPrefix)}:*`, COUNT: 1000 })) n += keys.length;
    return n;
  }
  async snapshot(key: string) {
    const value = await this.raw(key);
    if (value === undefined) return undefined;
    if (!this.stamped.has(key)) {
      this.stamped.add(key);
      await this.cmd('PEXPIRE', this.redisKey(key), String(TTL_STAMP_MS));
    }
    const ttl = Number(await this.cmd('PTTL', this.redisKey(key)));
    // A save (SET ... EX) replaces the stamp with the session's own TTL.
    const stillStamped = ttl <= TTL_STAMP_MS && ttl > TTL_STAMP_MS - 600_000;
    return { value: value.toString('base64'), ttl: stillStamped ? 'as stamped by the first snapshot' : `${Math.round(ttl / 1000)} s` };
  }
  async put(key: string, data: Record<string, unknown>, expiresAtMs: number) {
    const value = CACHE_SERIALIZERS[this.serializer].dumps(new Map(Object.entries(data)));
    await this.cmd('SET', this.redisKey(key), value, 'PXAT', String(Math.round(expiresAtMs)));
    return key;
  }
  async raw(key: string) {
    const value = (await this.redis.sendCommand(['GET', this.redisKey(key)], { typeMapping: { [BLOB_STRING]: Buffer } })) as Buffer | null;
    return value ?? undefined;
  }
  async overwrite(key: string, raw: string | Buffer) {
    await this.cmd('SET', this.redisKey(key), raw, 'KEEPTTL');
  }
  unknownKey() {
    return unknownKey();
  }
  async close() {
    // SCAN + DEL of this app's prefix only: the server is shared.
    for await (const keys of this.redis.scanIterator({ MATCH: `${globEscape(this.keyPrefix)}*`, COUNT: 1000 })) {
      if (keys.length > 0) await this.cmd('DEL', ...keys);
    }
  }
}

function globEscape(text: string): string {
  return text.replace(/[\\*?[\]]/g, '\\$&');
}

class SignedCookiesProbe implements StoreProbe {
  readonly engine = 'signed_cookies';
  readonly stores = false;
  readonly keyPattern = SIGNED_KEY;
  private readonly codec: SessionCodec;
  constructor(private readonly settings: ProbeSettings) {
    this.codec = new SessionCodec({ secretKey: settings.secretKey, salt: SIGNED_COOKIES_SALT, legacyDecode: false });
  }
  async exists() {
    return false;
  }
  /** The cookie value verified with the engine's salt and decoded (its age is not checked). */
  async data(key: string) {
    const { data, status } = this.codec.decode(key);
    if (status !== 'ok') throw new Error(`cookie value ${key} does not verify with the app's secret and the signed_cookies salt (${status})`);
    return data;
  }
  async expiresAt(key: string) {
    // Django: signing.loads(max_age=SESSION_COOKIE_AGE), whatever set_expiry() said (#19201).
    return b62Decode(key.split(':').at(-2)!) * 1000 + this.settings.cookieAge * 1000;
  }
  async setExpiresAt(key: string, ms: number) {
    const data = (await this.data(key))!;
    return this.codec.encode(data, Math.floor(ms / 1000) - this.settings.cookieAge);
  }
  async delete() {
    return 0;
  }
  async count() {
    return 0;
  }
  async snapshot() {
    return undefined;
  }
  async put(_key: string, data: Record<string, unknown>, expiresAtMs: number) {
    return this.codec.encode(data, Math.floor(expiresAtMs / 1000) - this.settings.cookieAge);
  }
  async raw(): Promise<undefined> {
    throw noStorage(this.engine);
  }
  async overwrite() {
    throw noStorage(this.engine);
  }
  unknownKey() {
    return new SessionCodec({ secretKey: 'not-the-app-secret', salt: SIGNED_COOKIES_SALT }).encode({ member_id: 1 });
  }
  async close() {}
}

class FileProbe implements StoreProbe {
  readonly engine = 'file';
  readonly stores = true;
  readonly keyPattern = STORED_KEY;
  private readonly codec: SessionCodec;
  constructor(
    readonly directory: string,
    private readonly settings: ProbeSettings,
  ) {
    this.codec = new SessionCodec({ secretKey: settings.secretKey, salt: settings.salt });
  }
  /** Django's file name: `<cookieName><key>` in `SESSION_FILE_PATH`. */
  fileOf(key: string): string {
    if (!/^[a-z0-9]{8,40}$/.test(key)) throw new Error(`not a session key: ${key}`);
    return join(this.directory, this.settings.cookieName + key);
  }
  async exists(key: string) {
    return (await this.stat(key)) !== undefined;
  }
  private async stat(key: string) {
    return stat(this.fileOf(key)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
  }
  async data(key: string) {
    const text = await this.raw(key);
    if (text === undefined) return undefined;
    if (text === '') return {};
    const { data, status } = this.codec.decode(text);
    if (status !== 'ok') throw new Error(`the file of ${key} does not decode with the app's secret (${status})`);
    return data;
  }
  /** How many seconds after its last write the file's session lasts (or its fixed date, in ms). */
  private async lifetime(key: string): Promise<{ seconds: number } | { at: number }> {
    const expiry = (await this.data(key))?._session_expiry;
    if (typeof expiry === 'string') return { at: Date.parse(expiry) };
    return { seconds: typeof expiry === 'number' && expiry !== 0 ? expiry : this.settings.cookieAge };
  }
  async expiresAt(key: string) {
    const stats = await this.stat(key);
    if (stats === undefined) return undefined;
    const life = await this.lifetime(key);
    return 'at' in life ? life.at : stats.mtimeMs + life.seconds * 1000;
  }
  async setExpiresAt(key: string, ms: number) {
    const life = await this.lifetime(key);
    if ('at' in life) throw new Error('setExpiresAt: this file has a fixed _session_expiry date');
    const modified = (ms - life.seconds * 1000) / 1000;
    await utimes(this.fileOf(key), modified, modified);
    return key;
  }
  async delete(key: string) {
    return unlink(this.fileOf(key)).then(
      () => 1,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return 0;
        throw error;
      },
    );
  }
  async count() {
    const prefix = this.settings.cookieName;
    return (await readdir(this.directory)).filter((name) => name.startsWith(prefix) && /^[a-z0-9]{8,40}$/.test(name.slice(prefix.length))).length;
  }
  async snapshot(key: string) {
    const stats = await this.stat(key);
    if (stats === undefined) return undefined;
    return { text: await this.raw(key), mtimeMs: stats.mtimeMs, ino: stats.ino };
  }
  async put(key: string, data: Record<string, unknown>, expiresAtMs: number) {
    await writeFile(this.fileOf(key), this.codec.encode(data), { encoding: 'latin1', mode: 0o600 });
    if (typeof data._session_expiry !== 'string') await this.setExpiresAt(key, expiresAtMs);
    return key;
  }
  async raw(key: string) {
    return readFile(this.fileOf(key), 'latin1').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
  }
  async overwrite(key: string, raw: string | Buffer) {
    const stats = await stat(this.fileOf(key));
    await writeFile(this.fileOf(key), raw, typeof raw === 'string' ? 'latin1' : undefined);
    await utimes(this.fileOf(key), stats.atime, stats.mtime);
  }
  unknownKey() {
    return unknownKey();
  }
  async close() {
    await rm(this.directory, { recursive: true, force: true });
  }
}

// ---- storage I/O counters ----------------------------------------------------------------------

/** The storage operations an app ran, in order: SQL verbs (db) or Redis command names (cache). */
export interface IoCounter {
  readonly ops: string[];
  readonly count: number;
  reset(): void;
}

/** Counts the Redis commands an app sends through its client (see `countingRedisClient`). */
export class RedisCommandCounter implements IoCounter {
  readonly commands: string[] = [];
  get ops(): string[] {
    return this.commands;
  }
  get count(): number {
    return this.commands.length;
  }
  reset(): void {
    this.commands.length = 0;
  }
}

/**
 * The app's Redis client, as given to the cache engine, wrapped so that every command it sends is
 * recorded in `counter`. Not a mock: each call goes on to the real client (bound to it, so its
 * private fields work), and the command runs on the real server.
 */
export function countingRedisClient<C extends object>(client: C, counter: RedisCommandCounter): C {
  return new Proxy(client, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      if (property === 'sendCommand') {
        return (...args: unknown[]) => {
          // node-redis: sendCommand(args, options); the command's name is args[0].
          const command = (args[0] as unknown[])[0];
          counter.commands.push(String(command).toUpperCase());
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

// ---- the application ---------------------------------------------------------------------------

export interface StartOptions {
  platform: Platform;
  /**
   * The session engine the app runs on, with its storage prepared privately (a temporary SQLite
   * file; a node-redis client on TEST_REDIS_URL with a key prefix of its own; a temporary
   * directory). Default `'db'`: a SQLite DataSource, and the `session` options passed as given
   * (a `session.engine` of their own included: then `t.store` still looks at the SQLite file).
   */
  engine?: EngineUnderTest;
  /** `SessionModule.forRoot(options)`; or a ready module (e.g. `SessionModule.forRootAsync(...)`, db only). Default `{ secretKey: TEST_SECRET }`. */
  session?: SessionModuleOptions | DynamicModule;
  controllers?: Type[];
  providers?: Provider[];
  imports?: NonNullable<ModuleMetadata['imports']>;
  /** Name of the TypeORM DataSource (TypeOrmModule.forRoot({ name })). Default: the default one. */
  dataSourceName?: string;
  /** Runs between `NestFactory.create()` and `listen()`, e.g. `app.useGlobalGuards(...)`. */
  beforeListen?: (app: INestApplication) => void;
  /**
   * The cache engine's Redis: its URL (default TEST_REDIS_URL), node-redis `createClient()`
   * options, and `cache` options besides the client and key prefix (timeout, serializer...).
   */
  redis?: { url?: string; clientOptions?: Record<string, unknown>; cache?: Omit<NonNullable<SessionModuleOptions['cache']>, 'client' | 'keyPrefix'> };
}

export interface TestApp {
  app: INestApplication;
  platform: Platform;
  engine: EngineUnderTest;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The engine's storage, looked at directly. */
  store: StoreProbe;
  /** The storage I/O the app runs (reset it before the request you count): SQL statements (db), Redis commands (cache); undefined on the others. */
  io: IoCounter | undefined;
  /** The app's own DataSource (db only: the other engines' apps have no database). */
  dataSource: DataSource;
  /** The SQLite file (db only). */
  file: string;
  /** Every statement the app's DataSource runs (reset it before the request you count) (db only). */
  sql: SqlCounter;
  /** A separate connection to the file (db only). */
  db: SqliteFile;
  /** A new cookie-jar client for this app. */
  client(cookieName?: string): Client;
  /** Closes the app and what its engine's storage used: the file, the Redis keys and client, the directory. */
  close(): Promise<void>;
}

/** Lets the test controllers reach the app's store probe (`SessionOpsController`'s `deleteRow`). */
export const STORE_PROBE = Symbol('STORE_PROBE');
export interface StoreProbeRef {
  current: StoreProbe | undefined;
}

function isDynamicModule(value: unknown): value is DynamicModule {
  return typeof value === 'object' && value !== null && 'module' in value;
}

/** A temporary SQLite file name, unique per call (suites run in parallel). */
export function tempSqliteFile(label = 'e2e'): string {
  return join(tmpdir(), `nestjs-django-session-${label}-${process.pid}-${randomBytes(6).toString('hex')}.sqlite3`);
}

/** Deletes a SQLite file and its journals (whichever exist). */
export async function removeSqliteFile(file: string): Promise<void> {
  await Promise.all(['', '-journal', '-wal', '-shm'].map((suffix) => rm(file + suffix, { force: true })));
}

// ---- small apps of their own on a SQLite file -----------------------------------------------------

/** The TypeORM DataSource of the small apps below: SQLite `file`, django_session made by the migration. */
function sqliteDataSource(file: string): DynamicModule {
  return TypeOrmModule.forRoot({
    type: 'sqlite',
    database: file,
    entities: [SessionEntity],
    migrations: [CreateDjangoSession1700000000000],
    migrationsRun: true,
  });
}

export interface SessionContextOptions {
  /** The SessionModule options. */
  session: SessionModuleOptions;
  /** Names the temporary SQLite file. */
  label: string;
}

/** A Nest application context (no HTTP) with SessionModule over a temporary SQLite file. */
export interface SessionContext {
  context: INestApplicationContext;
  sessions: SessionService;
  dataSource: DataSource;
  file: string;
  /** Closes the context and deletes the file. */
  close(): Promise<void>;
}

/** Starts a `SessionContext` (for the unit suites that need real SessionStores on a real backend). */
export async function startSessionContext(options: SessionContextOptions): Promise<SessionContext> {
  const file = tempSqliteFile(options.label);
  @Module({ imports: [sqliteDataSource(file), SessionModule.forRoot(options.session)] })
  class SessionContextModule {}
  let context: INestApplicationContext;
  try {
    context = await NestFactory.createApplicationContext(SessionContextModule, { logger: false, abortOnError: false });
  } catch (error) {
    await removeSqliteFile(file);
    throw error;
  }
  return {
    context,
    sessions: context.get(SessionService),
    dataSource: context.get<DataSource>(getDataSourceToken() as string),
    file,
    async close() {
      await context.close();
      await removeSqliteFile(file);
    },
  };
}

export interface SqliteAppOptions {
  platform: Platform;
  /** The SQLite file (see `tempSqliteFile`); the caller deletes it (`removeSqliteFile`). */
  file: string;
  session: SessionModuleOptions;
  imports?: ModuleMetadata['imports'];
  controllers?: Type[];
  providers?: Provider[];
  /** Called after `NestFactory.create`, before `listen` (to add middleware, register Fastify plugins). */
  beforeListen?(app: INestApplication): void | Promise<void>;
}

/**
 * A small listening app on 127.0.0.1 (port 0), Express or Fastify, with SessionModule over the
 * SQLite `file` and nothing else of `startApp`'s (no probes, no counters, no captured logs).
 */
export async function startSqliteApp(options: SqliteAppOptions): Promise<{ app: INestApplication; url: string }> {
  @Module({
    imports: [sqliteDataSource(options.file), SessionModule.forRoot(options.session), ...(options.imports ?? [])],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  })
  class SqliteAppModule {}
  const app =
    options.platform === 'fastify'
      ? await NestFactory.create(SqliteAppModule, new FastifyAdapter(), { logger: false })
      : await NestFactory.create(SqliteAppModule, { logger: false });
  await options.beforeListen?.(app);
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

/** An app of a suite's own on a SQLite file (see `sqliteAppPerSuite`), and its table. */
export interface SqliteAppHandle extends ReturnType<typeof sessionTable> {
  /** Set once `beforeAll` has started the app. */
  readonly app: INestApplication;
  readonly url: string;
  readonly file: string;
  /** A new browser on the app, with no cookie. */
  client(): Client;
  /** Another browser on the app, holding the session cookie `key` (an attacker's copy of a cookie). */
  holding(key: string | undefined): Client;
}

/**
 * For a `describe`: starts an app with `start` on a new SQLite file (labelled `label`) in
 * `beforeAll`, closes it and deletes the file in `afterAll`. The table is read with `secretKey`.
 */
export function sqliteAppPerSuite(
  label: string,
  secretKey: string,
  start: (file: string) => Promise<{ app: INestApplication; url: string }>,
): SqliteAppHandle {
  const file = tempSqliteFile(label);
  let started: { app: INestApplication; url: string } | undefined;
  const get = () => {
    if (started === undefined) throw new Error(`the ${label} app is not started (used outside a test?)`);
    return started;
  };
  beforeAll(async () => {
    started = await start(file);
  });
  afterAll(async () => {
    await started?.app.close();
    await removeSqliteFile(file);
  });
  return {
    ...sessionTable(file, secretKey),
    get app() {
      return get().app;
    },
    get url() {
      return get().url;
    },
    file,
    client: () => new Client(get().url),
    holding: (key) => clientHolding(get().url, key),
  };
}

/** One `django_session` row's key and data, as stored. */
export type SessionRow = Pick<RawRow, 'session_key' | 'session_data'>;

/**
 * The `django_session` table of the SQLite `file`, read through a connection of its own for each
 * call (never through the code under test); `dataOf` decodes with `secretKey`.
 */
export function sessionTable(file: string, secretKey: string) {
  const codec = new SessionCodec({ secretKey });
  const rows = async (): Promise<SessionRow[]> => {
    const db = await SqliteFile.open(file);
    try {
      return await db.all<SessionRow>('SELECT session_key, session_data FROM django_session');
    } finally {
      await db.close();
    }
  };
  return {
    rows,
    /** The decoded data of `key`'s row; undefined when there is no such row. */
    async dataOf(key: string | undefined): Promise<Record<string, unknown> | undefined> {
      const row = (await rows()).find((r) => r.session_key === key);
      return row && codec.decode(row.session_data).data;
    },
  };
}

/** What an engine's app needs besides SessionModule: its storage, built before the app and torn down after it. */
interface EngineStorage {
  /** Options merged into the app's SessionModule options. */
  sessionOptions: Partial<SessionModuleOptions>;
  /** Modules the app imports for it (the TypeORM DataSource, for db). */
  imports: NonNullable<ModuleMetadata['imports']>;
  /** The probe, once the app listens. */
  probe(app: INestApplication): Promise<StoreProbe>;
  io: IoCounter | undefined;
  /** Frees what `prepare` made (after the app is closed, or when it failed to boot). */
  teardown(): Promise<void>;
  db?: { file: string; sql: SqlCounter; dataSourceName: string | undefined };
}

async function prepareStorage(engine: EngineUnderTest, options: StartOptions, settings: ProbeSettings, session: SessionModuleOptions | undefined): Promise<EngineStorage> {
  switch (engine) {
    case 'db': {
      const file = tempSqliteFile(options.platform);
      const sql = new SqlCounter();
      // The DataSource is built here so that a failed boot can still close it (and then delete the
      // file): Nest does not close what it had started when create() rejects.
      let initializing: Promise<DataSource> | undefined;
      return {
        sessionOptions: {},
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
        ],
        async probe() {
          sql.reset(); // the migration's statements are not the requests'
          return new DbProbe(await SqliteFile.open(file), settings);
        },
        io: sql,
        async teardown() {
          const dataSource = await initializing?.catch(() => undefined);
          if (dataSource?.isInitialized) await dataSource.destroy().catch(() => undefined);
          await removeSqliteFile(file);
        },
        db: { file, sql, dataSourceName: options.dataSourceName },
      };
    }
    case 'cache': {
      const url = options.redis?.url ?? process.env.TEST_REDIS_URL;
      if (!url) throw new Error('the cache engine needs TEST_REDIS_URL (describe the suite with describeEngines / describeWith([\'redis\']))');
      // Loaded here only: the suites on the other engines never load a Redis client.
      const { createClient } = await import('redis');
      const client = createClient({ ...options.redis?.clientOptions, url });
      client.on('error', () => undefined); // node-redis would throw its connection errors from the emitter
      await client.connect();
      const counter = new RedisCommandCounter();
      // A prefix of its own, so that count() and cleanup see this app's keys only.
      const keyPrefix = `nds-test:e2e:${process.pid}:${randomBytes(6).toString('hex')}`;
      const cache = { ...session?.cache, ...options.redis?.cache };
      const probe = new CacheProbe(client as unknown as NodeRedisClient, keyPrefix, cache.serializer ?? 'pickle');
      return {
        sessionOptions: { cache: { ...cache, client: countingRedisClient(client, counter), keyPrefix } },
        imports: [],
        probe: async () => probe,
        io: counter,
        async teardown() {
          // Its keys are deleted while the server answers (a test may have stopped a private one).
          if (client.isReady) await probe.close().catch(() => undefined);
          if (client.isOpen) client.destroy();
        },
      };
    }
    case 'signed_cookies':
      return { sessionOptions: {}, imports: [], probe: async () => new SignedCookiesProbe(settings), io: undefined, async teardown() {} };
    case 'file': {
      const directory = await mkdtemp(join(tmpdir(), 'nds-e2e-sessions-'));
      const probe = new FileProbe(directory, settings);
      return { sessionOptions: { filePath: directory }, imports: [], probe: async () => probe, io: undefined, teardown: () => probe.close() };
    }
  }
}

function dbOnly(engine: EngineUnderTest, what: string): never {
  throw new Error(`t.${what} exists on the db engine only (this app runs engine ${engine}): use t.store`);
}

/**
 * Starts a listening app on 127.0.0.1, port 0, on `options.engine` (default db). Fails (rejects)
 * when the app fails to boot — it never aborts the process — and then frees its storage.
 */
export async function startApp(options: StartOptions): Promise<TestApp> {
  const engine = options.engine ?? 'db';
  const given = options.session ?? { secretKey: TEST_SECRET };
  if (isDynamicModule(given) && engine !== 'db') throw new Error(`startApp: engine ${engine} needs the session options as an object`);
  const session = isDynamicModule(given) ? undefined : given;
  // Without the `engine` option the app is built as before engines existed: a SQLite DataSource,
  // and the session options as given (which may name an engine of their own).
  if (options.engine !== undefined && session?.engine !== undefined && session.engine !== engine) {
    throw new Error(`startApp: session.engine ${String(session.engine)} and engine ${engine} disagree`);
  }
  const settings: ProbeSettings = {
    secretKey: session?.secretKey ?? TEST_SECRET,
    salt: session?.salt,
    cookieName: session?.cookieName ?? 'sessionid',
    cookieAge: session?.cookieAge ?? 1209600,
  };
  const storage = await prepareStorage(engine, options, settings, session);
  const probeRef: StoreProbeRef = { current: undefined };

  @Module({
    imports: [
      ...storage.imports,
      isDynamicModule(given) ? given : SessionModule.forRoot(engine === 'db' ? given : { ...given, engine, ...storage.sessionOptions }),
      ...(options.imports ?? []),
    ],
    controllers: options.controllers ?? [],
    providers: [...(options.providers ?? []), { provide: STORE_PROBE, useValue: probeRef }],
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
    probeRef.current = await storage.probe(app);
  } catch (error) {
    await app?.close().catch(() => undefined);
    await storage.teardown();
    throw error;
  }
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const started = app;
  const store = probeRef.current;
  const db = storage.db;
  const dataSource = db && app.get<DataSource>(getDataSourceToken(db.dataSourceName) as string);
  return {
    app: started,
    platform: options.platform,
    engine,
    url,
    store,
    io: storage.io,
    get dataSource() {
      return dataSource ?? dbOnly(engine, 'dataSource');
    },
    get file() {
      return db?.file ?? dbOnly(engine, 'file');
    },
    get sql() {
      return db?.sql ?? dbOnly(engine, 'sql');
    },
    get db() {
      return store instanceof DbProbe ? store.db : dbOnly(engine, 'db');
    },
    client: (cookieName = 'sessionid') => new Client(url, cookieName),
    async close() {
      // The DbProbe's connection first (as before), then the app, then the storage.
      if (store instanceof DbProbe) await store.close().catch(() => undefined);
      await started.close();
      await storage.teardown();
    },
  };
}

/**
 * The key `reply` re-sent for a saved session that had `key`: the same key on the engines that
 * store sessions; on signed_cookies, whose key is the data, a signed value (new whenever the data
 * changed). Asserts it, and returns it.
 */
export function resentKey(t: TestApp, reply: Reply, key: string, cookieName = 'sessionid'): string {
  const cookie = sessionCookieOf(reply, cookieName);
  expect(cookie?.value).toMatch(t.store.keyPattern);
  if (t.store.stores) expect(cookie!.value).toBe(key);
  return cookie!.value;
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

/** Another browser holding the session cookie `key` (as a copy of someone's cookie would be). */
export function clientHolding(baseUrl: string, key: string | undefined, cookieName = 'sessionid'): Client {
  const client = new Client(baseUrl, cookieName);
  client.jar.set(cookieName, key!);
  return client;
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
