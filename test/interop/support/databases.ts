/**
 * Throwaway databases for one suite (never the shared `test` database's tables): created on the
 * server named by TEST_POSTGRES_URL / TEST_MYSQL_URL, or a file in a temporary directory for
 * SQLite, and dropped at the end. Plus raw SQL and introspection of `django_session`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { DataSource } from 'typeorm';
import sqlite3 from 'sqlite3';

export type Engine = 'sqlite' | 'postgres' | 'mariadb';

export interface Database {
  readonly engine: Engine;
  readonly name: string;
  /** The URL Django's settings and the Nest test app take (sqlite:////abs/path for SQLite). */
  readonly url: string;
  /** Raw SQL with `?` placeholders (turned into `$n` on PostgreSQL). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

const SHORT: Record<Engine, string> = { sqlite: 'sqlite', postgres: 'pg', mariadb: 'my' };

/** Creates `djs_<prefix>_<engine>_<random>_<suffix>` on the server of `serverUrl` (ignored for SQLite). */
export async function createDatabase(engine: Engine, serverUrl: string | undefined, prefix: string, suffix: string): Promise<Database> {
  const name = `djs_${prefix}_${SHORT[engine]}_${randomBytes(4).toString('hex')}_${suffix}`;
  if (engine === 'sqlite') return createSqlite(name);
  if (!serverUrl) throw new Error(`no server URL for ${engine}`);
  return engine === 'postgres' ? createPostgres(serverUrl, name) : createMariadb(serverUrl, name);
}

function createSqlite(name: string): Database {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const file = join(dir, 'db.sqlite3');
  const db = new sqlite3.Database(file);
  db.configure('busyTimeout', 5000);
  return {
    engine: 'sqlite',
    name,
    url: `sqlite://${file}`,
    query: <T>(sql: string, params: unknown[] = []) =>
      new Promise<T[]>((resolve, reject) => db.all(sql, params, (error, rows) => (error ? reject(error) : resolve(rows as T[])))),
    drop: async () => {
      await new Promise<void>((resolve) => db.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function postgresAt(url: string): Promise<DataSource> {
  return new DataSource({ type: 'postgres', url, poolSize: 2 }).initialize();
}

async function createPostgres(serverUrl: string, name: string): Promise<Database> {
  const admin = await postgresAt(serverUrl);
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.destroy();
  }
  const url = withDatabase(serverUrl, name);
  const pool = await postgresAt(url);
  return {
    engine: 'postgres',
    name,
    url,
    query: async <T>(sql: string, params: unknown[] = []) => {
      let n = 0;
      return (await pool.query(sql.replace(/\?/g, () => `$${++n}`), params)) as T[];
    },
    drop: async () => {
      await pool.destroy();
      const client = await postgresAt(serverUrl);
      try {
        // FORCE: a child process that was just stopped may still hold a connection for a moment.
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.destroy();
      }
    },
  };
}

async function createMariadb(serverUrl: string, name: string): Promise<Database> {
  const admin = await mysql.createConnection(serverUrl);
  try {
    await admin.query(`CREATE DATABASE \`${name}\``);
  } finally {
    await admin.end();
  }
  const url = withDatabase(serverUrl, name);
  const pool = mysql.createPool({ uri: url, connectionLimit: 2, timezone: 'Z', dateStrings: true });
  return {
    engine: 'mariadb',
    name,
    url,
    query: async <T>(sql: string, params: unknown[] = []) => {
      const [rows] = await pool.query(sql, params);
      return rows as T[];
    },
    drop: async () => {
      await pool.end();
      const client = await mysql.createConnection(serverUrl);
      try {
        await client.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await client.end();
      }
    },
  };
}

/** Everything a schema comparison looks at, as plain data. */
export type TableShape = Record<string, unknown>;

/** The shape of `django_session` as the database reports it (catalogue queries, no ORM). */
export async function introspectSessionTable(db: Database): Promise<TableShape> {
  if (db.engine === 'sqlite') {
    const indexes = await db.query<{ name: string; unique: number; origin: string; partial: number }>(
      `SELECT name, "unique", origin, partial FROM pragma_index_list('django_session') ORDER BY name`,
    );
    return {
      objects: await db.query(`SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'django_session' ORDER BY name`),
      columns: await db.query(`SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info('django_session') ORDER BY cid`),
      indexes: await Promise.all(
        indexes.map(async (index) => ({
          ...index,
          columns: await db.query(`SELECT seqno, name FROM pragma_index_info(?) ORDER BY seqno`, [index.name]),
        })),
      ),
    };
  }
  if (db.engine === 'postgres') {
    return {
      columns: await db.query(
        `SELECT ordinal_position, column_name, data_type, character_maximum_length, datetime_precision, is_nullable, column_default, collation_name
           FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'django_session' ORDER BY ordinal_position`,
      ),
      indexes: await db.query(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'django_session' ORDER BY indexname`),
      constraints: await db.query(
        `SELECT conname, contype, pg_get_constraintdef(oid) AS definition FROM pg_constraint
          WHERE conrelid = 'public.django_session'::regclass ORDER BY conname`,
      ),
    };
  }
  return {
    table: await db.query(
      `SELECT ENGINE, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'django_session'`,
    ),
    columns: await db.query(
      `SELECT ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY, COLUMN_DEFAULT, EXTRA, CHARACTER_SET_NAME, COLLATION_NAME
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'django_session' ORDER BY ORDINAL_POSITION`,
    ),
    indexes: await db.query(
      `SELECT INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, INDEX_TYPE, SUB_PART
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'django_session' ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    ),
    create: (await db.query<Record<string, string>>('SHOW CREATE TABLE django_session'))[0]!['Create Table'],
  };
}

/**
 * `expire_date` of a row as the database stores it, spelled out as UTC text:
 * SQLite the stored TEXT itself (and its storage class); PostgreSQL and MariaDB the value rendered in UTC.
 */
export async function rawExpireDate(db: Database, sessionKey: string): Promise<{ text: string; storage: string } | undefined> {
  const sql = {
    sqlite: `SELECT expire_date AS text, typeof(expire_date) AS storage FROM django_session WHERE session_key = ?`,
    postgres: `SELECT to_char(expire_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS text, pg_typeof(expire_date)::text AS storage
                 FROM django_session WHERE session_key = ?`,
    mariadb: `SELECT CAST(expire_date AS CHAR) AS text,
                     (SELECT COLUMN_TYPE FROM information_schema.COLUMNS
                       WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'django_session' AND COLUMN_NAME = 'expire_date') AS storage
                FROM django_session WHERE session_key = ?`,
  }[db.engine];
  return (await db.query<{ text: string; storage: string }>(sql, [sessionKey]))[0];
}
