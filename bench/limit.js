// "The limit for our stack": bare Nest (Express, or Fastify with BENCH_PLATFORM=fastify) whose
// /read and /write do Django's session work by hand, with no framework around it. Whatever our
// module costs above this is the module's own overhead; this is the yardstick, so it stays lean.
//
// Started like bench/server.js (see its header: IPC `ready` / `stats` / `exit`, the same routes and
// environment: BENCH_DB, BENCH_SQLITE, BENCH_PG_URL, BENCH_SYNC, BENCH_REDIS_URL,
// BENCH_REDIS_PREFIX, BENCH_PAD, BENCH_PLATFORM), plus
//   BENCH_STORE  sqlite3 | better-sqlite3 | postgres | redis | signed_cookies
//                (default: postgres when BENCH_DB=postgres, else better-sqlite3 when
//                BENCH_DRIVER=better-sqlite3, else sqlite3)
//
// What a request does, and nothing else:
//   /read   the sessionid cookie (one regex), one SELECT or GET, Django's salted-HMAC check (the key
//           derived once at start-up), base64 (+ zlib only if the data came compressed), JSON.parse.
//   /write  the same, then counter + 1, JSON with Python's ASCII escapes, NOT compressed (Django's
//           loads() reads data without the '.' prefix as plain base64: any Django reads it), signed,
//           one UPDATE — or, without a live session, one INSERT under a new 32-char key (a taken key
//           is retried). Set-Cookie with Django's attributes on every write, as Django's middleware
//           does on every save (Max-Age 2 weeks, Expires, HttpOnly, Path=/, SameSite=Lax); Vary: Cookie
//           when the session was looked at.
// Stores, each Django-readable as it is:
//   sqlite3         node-sqlite3 without verbose() tracing; SELECT/UPDATE/INSERT each a Statement
//                   prepared once; WAL, synchronous per BENCH_SYNC, busy_timeout 5000
//   better-sqlite3  the same three statements prepared once (synchronous driver)
//   postgres        pg, one Pool (pg's default 10 clients), named prepared statements
//   redis           Django's cache engine on django-redis: key `<prefix>:1:django.contrib.sessions.cache<key>`,
//                   the value the session dict in django-redis's JSONSerializer (Django then needs
//                   OPTIONS.SERIALIZER = 'django_redis.serializers.json.JSONSerializer'; JSON is far
//                   cheaper to write in JS than pickle); compact separators, which json.loads reads.
//                   No signature: Django's cache engine stores the dict itself. GET; SET EX (NX for a new key).
//   signed_cookies  the cookie is the session: signing.dumps(dict, salt='django.contrib.sessions.backends.signed_cookies'),
//                   uncompressed; loads() checks the signature and max_age (2 weeks). No store.
// The table is created if missing with Django's own DDL (the same as dist/migrations).
import 'reflect-metadata';
import { Controller, Get, HttpCode, Module, Post, Req, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createHash, createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { threadCpu } from './lib/thread-cpu.js';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { inflateSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const db = process.env.BENCH_DB ?? 'sqlite';
const STORE =
  process.env.BENCH_STORE ?? (db === 'postgres' ? 'postgres' : process.env.BENCH_DRIVER === 'better-sqlite3' ? 'better-sqlite3' : 'sqlite3');
const PLATFORM = process.env.BENCH_PLATFORM ?? 'express';
const SECRET = 'bench-secret';
const COOKIE_AGE = 1209600; // SESSION_COOKIE_AGE, 2 weeks
const SALT = STORE === 'signed_cookies' ? 'django.contrib.sessions.backends.signed_cookies' : 'django.contrib.sessions.SessionStore';

function leftOut(message) {
  console.error(`bench limit: ${message}`);
  process.exit(3);
}

// ---- BENCH_PAD: first N chars of sha256hex("0") + sha256hex("1") + ... -------------------------

function padding(n) {
  let s = '';
  for (let i = 0; s.length < n; i++) s += createHash('sha256').update(String(i)).digest('hex');
  return s.slice(0, n);
}
const PAD = Number(process.env.BENCH_PAD ?? 0) > 0 ? padding(Number(process.env.BENCH_PAD)) : null;

// ---- Django's signing (django.core.signing, TimestampSigner, sha256) ----------------------------

/** salted_hmac's key: sha256(key_salt + secret), key_salt = salt + 'signer'. Derived once. */
const HMAC_KEY = createHash('sha256').update(`${SALT}signer${SECRET}`).digest();
const signature = (value) => createHmac('sha256', HMAC_KEY).update(value).digest('base64url');

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function b62(n) {
  let s = '';
  do {
    s = B62[n % 62] + s;
    n = Math.floor(n / 62);
  } while (n > 0);
  return s;
}
const b62Decode = (s) => [...s].reduce((n, c) => n * 62 + B62.indexOf(c), 0);

/** signing.loads(): the dict, or null when the signature (or, with maxAge, the age) does not hold. */
function loads(signed, maxAge) {
  const at = signed.lastIndexOf(':');
  if (at < 0) return null;
  const value = signed.slice(0, at);
  const expected = Buffer.from(signature(value));
  const given = Buffer.from(signed.slice(at + 1));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const ts = value.lastIndexOf(':');
  if (ts < 0) return null;
  if (maxAge !== undefined && Date.now() / 1000 - b62Decode(value.slice(ts + 1)) > maxAge) return null;
  try {
    let bytes = Buffer.from(value[0] === '.' ? value.slice(1, ts) : value.slice(0, ts), 'base64url');
    if (value[0] === '.') bytes = inflateSync(bytes);
    const data = JSON.parse(bytes.toString('latin1'));
    return data !== null && typeof data === 'object' && !Array.isArray(data) ? data : null;
  } catch {
    return null;
  }
}

/** Python's json.dumps(ensure_ascii=True): every char from DEL up as \uXXXX. */
const asciiJson = (data) => JSON.stringify(data).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** signing.dumps(data, compress=False): base64url(json) + ':' + b62(now) + ':' + signature. */
function dumps(data) {
  const value = `${Buffer.from(asciiJson(data), 'latin1').toString('base64url')}:${b62(Math.floor(Date.now() / 1000))}`;
  return `${value}:${signature(value)}`;
}

// ---- cookies and dates -----------------------------------------------------------------------

const COOKIE = /(?:^|;\s*)sessionid=([^;]*)/;
function sessionKey(req) {
  const m = COOKIE.exec(req.headers.cookie ?? '');
  return m && m[1].length >= 8 ? m[1] : null; // Django's _validate_session_key: len >= 8
}
function setCookie(res, value) {
  const expires = new Date(Date.now() + COOKIE_AGE * 1000).toUTCString();
  res.header('Set-Cookie', `sessionid=${value}; expires=${expires}; HttpOnly; Max-Age=${COOKIE_AGE}; Path=/; SameSite=Lax`);
}

const KEY_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';
function newKey() {
  let key = '';
  for (let i = 0; i < 32; i++) key += KEY_CHARS[randomInt(36)];
  return key;
}

const p2 = (n) => (n < 10 ? `0${n}` : `${n}`);
/** str(datetime) in UTC, as Django writes expire_date on sqlite: 'YYYY-MM-DD HH:MM:SS[.ffffff]'. */
function djangoUtc(ms) {
  const d = new Date(ms);
  const base = `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  const frac = d.getUTCMilliseconds();
  return frac === 0 ? base : `${base}.${String(frac).padStart(3, '0')}000`;
}

// ---- stores: load(key) -> session_data | null; update(key, data) -> bool; insert(key, data) -> bool

const queries = { select: 0, write: 0, other: 0, errors: 0 };
const redisCounts = {};
const counted = (kind, promise) =>
  promise.then(
    (r) => (queries[kind]++, r),
    (e) => (queries[kind]++, queries.errors++, Promise.reject(e)),
  );

const SELECT = 'SELECT session_data FROM django_session WHERE session_key = $1 AND expire_date > $2';
const UPDATE = 'UPDATE django_session SET session_data = $1, expire_date = $2 WHERE session_key = $3';
const INSERT = 'INSERT INTO django_session (session_key, session_data, expire_date) VALUES ($1, $2, $3)';
const DDL_SQLITE = [
  'CREATE TABLE IF NOT EXISTS "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL)',
  'CREATE INDEX IF NOT EXISTS "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")',
];
const DDL_PG = [
  'CREATE TABLE IF NOT EXISTS "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL)',
  'CREATE INDEX IF NOT EXISTS "django_session_session_key_c0390e0f_like" ON "django_session" ("session_key" varchar_pattern_ops)',
  'CREATE INDEX IF NOT EXISTS "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")',
];
/** sqlite's placeholders (the $n above are in order). */
const q = (sql) => sql.replace(/\$\d/g, '?');
const isUniqueViolation = (e) => e?.code === '23505' || /UNIQUE|PRIMARY KEY/.test(String(e?.code) + String(e?.message));
const SYNC = process.env.BENCH_SYNC ?? 'NORMAL';
if (!/^(OFF|NORMAL|FULL|EXTRA)$/.test(SYNC)) throw new Error(`BENCH_SYNC must be OFF, NORMAL, FULL or EXTRA, got ${SYNC}`);

async function sqlite3Store() {
  const sqlite3 = require('sqlite3'); // never .verbose(): untraced
  const conn = await new Promise((resolve, reject) => {
    const d = new sqlite3.Database(process.env.BENCH_SQLITE, (e) => (e ? reject(e) : resolve(d)));
  });
  const run = (sql) => new Promise((resolve, reject) => conn.all(sql, (e, rows) => (e ? reject(e) : resolve(rows))));
  conn.configure('busyTimeout', 5000);
  for (const sql of ['PRAGMA journal_mode = WAL', `PRAGMA synchronous = ${SYNC}`, ...DDL_SQLITE]) await run(sql);
  const select = conn.prepare(q(SELECT));
  const update = conn.prepare(q(UPDATE));
  const insert = conn.prepare(q(INSERT));
  const call = (stmt, method, params) =>
    new Promise((resolve, reject) => stmt[method](params, function (e, row) { e ? reject(e) : resolve(method === 'run' ? this.changes : row); }));
  return {
    load: (key) => counted('select', call(select, 'get', [key, djangoUtc(Date.now())])).then((row) => row?.session_data ?? null),
    update: (key, data) => counted('write', call(update, 'run', [data, djangoUtc(Date.now() + COOKIE_AGE * 1000), key])).then((n) => n > 0),
    insert: (key, data) =>
      counted('write', call(insert, 'run', [key, data, djangoUtc(Date.now() + COOKIE_AGE * 1000)])).then(() => true, (e) => (isUniqueViolation(e) ? false : Promise.reject(e))),
    settings: async () => ({ ...(await run('PRAGMA journal_mode'))[0], ...(await run('PRAGMA synchronous'))[0], busy_timeout: Object.values((await run('PRAGMA busy_timeout'))[0])[0] }),
    close: () => new Promise((resolve) => [select, update, insert].reduce((p, s) => p.then(() => new Promise((r) => s.finalize(r))), Promise.resolve()).then(() => conn.close(resolve))),
  };
}

async function betterSqlite3Store() {
  const Database = require('better-sqlite3');
  const conn = new Database(process.env.BENCH_SQLITE, { timeout: 5000 });
  conn.pragma('journal_mode = WAL');
  conn.pragma(`synchronous = ${SYNC}`);
  for (const sql of DDL_SQLITE) conn.exec(sql);
  const select = conn.prepare(q(SELECT)).pluck();
  const update = conn.prepare(q(UPDATE));
  const insert = conn.prepare(q(INSERT));
  const count = (kind, fn) => {
    queries[kind]++;
    try {
      return fn();
    } catch (e) {
      queries.errors++;
      throw e;
    }
  };
  return {
    load: async (key) => count('select', () => select.get(key, djangoUtc(Date.now()))) ?? null,
    update: async (key, data) => count('write', () => update.run(data, djangoUtc(Date.now() + COOKIE_AGE * 1000), key)).changes > 0,
    insert: async (key, data) => {
      try {
        count('write', () => insert.run(key, data, djangoUtc(Date.now() + COOKIE_AGE * 1000)));
        return true;
      } catch (e) {
        if (isUniqueViolation(e)) return false;
        throw e;
      }
    },
    settings: async () => ({ journal_mode: conn.pragma('journal_mode', { simple: true }), synchronous: conn.pragma('synchronous', { simple: true }), busy_timeout: conn.pragma('busy_timeout', { simple: true }) }),
    close: async () => conn.close(),
  };
}

async function postgresStore() {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: process.env.BENCH_PG_URL });
  for (const sql of DDL_PG) await pool.query(sql);
  const query = (name, text, values) => pool.query({ name, text, values });
  return {
    load: (key) => counted('select', query('djs-select', SELECT, [key, new Date()])).then((r) => r.rows[0]?.session_data ?? null),
    update: (key, data) => counted('write', query('djs-update', UPDATE, [data, new Date(Date.now() + COOKIE_AGE * 1000), key])).then((r) => r.rowCount > 0),
    insert: (key, data) =>
      counted('write', query('djs-insert', INSERT, [key, data, new Date(Date.now() + COOKIE_AGE * 1000)])).then(() => true, (e) => (isUniqueViolation(e) ? false : Promise.reject(e))),
    settings: async () => ({ server_version: (await pool.query('SHOW server_version')).rows[0].server_version }),
    close: () => pool.end(),
  };
}

const redisPrefix = process.env.BENCH_REDIS_PREFIX ?? `djs-bench-limit-${process.pid}`;
async function redisStore() {
  const { createClient } = await import('redis');
  const client = createClient({ url: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', disableOfflineQueue: true, socket: { connectTimeout: 2000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    leftOut(`Redis does not answer at ${process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'} (${e.message}); start one or set BENCH_REDIS_URL`);
  }
  const send = (args) => {
    redisCounts[args[0]] = (redisCounts[args[0]] ?? 0) + 1;
    return client.sendCommand(args);
  };
  // django-redis: KEY_PREFIX:VERSION:key; Django's cache engine: 'django.contrib.sessions.cache' + session_key.
  const redisKey = (key) => `${redisPrefix}:1:django.contrib.sessions.cache${key}`;
  return {
    // The value is the dict itself in JSON (Django's cache engine signs nothing).
    load: (key) => send(['GET', redisKey(key)]),
    update: async (key, dict) => (await send(['SET', redisKey(key), dict, 'EX', String(COOKIE_AGE)])) !== null,
    insert: async (key, dict) => (await send(['SET', redisKey(key), dict, 'EX', String(COOKIE_AGE), 'NX'])) !== null,
    settings: async () => ({ redis_prefix: redisPrefix }),
    async close() {
      // Redis is shared: only this server's keys, SCAN + DEL, never FLUSHDB.
      for await (const keys of client.scanIterator({ MATCH: `${redisPrefix}:*`, COUNT: 1000 })) {
        const batch = Array.isArray(keys) ? keys : [keys];
        if (batch.length > 0) await client.del(batch);
      }
      await client.close();
    },
  };
}

const STORES = { sqlite3: sqlite3Store, 'better-sqlite3': betterSqlite3Store, postgres: postgresStore, redis: redisStore };
if (STORE !== 'signed_cookies' && !STORES[STORE]) throw new Error(`BENCH_STORE must be one of ${[...Object.keys(STORES), 'signed_cookies'].join(', ')}, got ${STORE}`);

// ---- the session work ------------------------------------------------------------------------

let store = null;
const REDIS = STORE === 'redis';

/** The session of the request: { key, data } (key null when there is no live session). */
async function loadSession(req) {
  const key = sessionKey(req);
  if (key === null) return { key: null, data: {} };
  if (STORE === 'signed_cookies') return { key: null, data: loads(key, COOKIE_AGE) ?? {} };
  const raw = await store.load(key);
  if (raw === null) return { key: null, data: {} }; // no live row: a save creates a new key
  if (REDIS) {
    try {
      return { key, data: JSON.parse(raw) };
    } catch {
      return { key, data: {} };
    }
  }
  return { key, data: loads(raw) ?? {} }; // tampered data: {} under the same key, as Django
}

async function saveSession(res, session) {
  if (STORE === 'signed_cookies') return setCookie(res, dumps(session.data));
  const value = REDIS ? asciiJson(session.data) : dumps(session.data);
  if (session.key !== null && (await store.update(session.key, value))) return setCookie(res, session.key);
  let key;
  do key = newKey();
  while (!(await store.insert(key, value)));
  setCookie(res, key);
}

// ---- the app: bare Nest, decorators applied with Reflect.decorate as tsc would ---------------

class LimitController {
  none() {
    return { ok: true };
  }
  async read(req, res) {
    const { data } = await loadSession(req);
    res.header('Vary', 'Cookie');
    return { counter: data.counter ?? 0 };
  }
  async write(req, res) {
    const session = await loadSession(req);
    const counter = (session.data.counter ?? 0) + 1;
    session.data.counter = counter;
    if (PAD !== null && !('pad' in session.data)) session.data.pad = PAD;
    await saveSession(res, session);
    res.header('Vary', 'Cookie');
    return { counter };
  }
}
function decorateMethod(cls, name, decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, name);
  Object.defineProperty(cls.prototype, name, Reflect.decorate(decorators, cls.prototype, name, descriptor) ?? descriptor);
}
const param = (decorator, index) => (target, key) => decorator(target, key, index);
decorateMethod(LimitController, 'none', [Get('none')]);
decorateMethod(LimitController, 'read', [Get('read'), param(Req(), 0), param(Res({ passthrough: true }), 1)]);
decorateMethod(LimitController, 'write', [Post('write'), HttpCode(200), param(Req(), 0), param(Res({ passthrough: true }), 1)]);
Reflect.decorate([Controller()], LimitController);
class AppModule {}
Reflect.decorate([Module({ controllers: [LimitController] })], AppModule);

// ---- stats and main ----------------------------------------------------------------------------


async function main() {
  if (STORE !== 'signed_cookies') store = await STORES[STORE]();
  let app;
  if (PLATFORM === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    app = await NestFactory.create(AppModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
  } else if (PLATFORM === 'express') {
    app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  } else throw new Error(`BENCH_PLATFORM must be express or fastify, got ${PLATFORM}`);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  let closing = null;
  const shutdown = () =>
    (closing ??= (async () => {
      await app.close().catch((e) => console.error(`bench limit: close: ${e.message}`));
      await store?.close().catch((e) => console.error(`bench limit: store close: ${e.message}`));
    })());

  process.on('message', async (message) => {
    if (message?.type === 'stats') {
      const cpu = process.cpuUsage();
      process.send({
        type: 'stats',
        id: message.id,
        cpu: cpu.user + cpu.system,
        threads: threadCpu(),
        queries: { ...queries },
        redis: { ...redisCounts },
        files: {},
        rss: process.memoryUsage.rss(),
        loopDelay: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
      });
      if (message.reset) loopDelay.reset();
    } else if (message?.type === 'exit') {
      await shutdown();
      process.exit(0);
    }
  });
  process.on('disconnect', () => shutdown().finally(() => process.exit(0)));
  process.send({ type: 'ready', port, settings: { store: STORE, platform: PLATFORM, pad: PAD?.length ?? 0, ...(await store?.settings()) } });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
