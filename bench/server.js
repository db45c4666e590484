// One benchmark server, started by bench/run.js as a child process with an IPC channel.
//
//   BENCH_KIND     bare | express-session | ours
//   BENCH_DB       sqlite | postgres
//   BENCH_SQLITE   path of the sqlite file (sqlite)
//   BENCH_PG_URL   postgres URL (postgres)
//   BENCH_SYNC     PRAGMA synchronous level on sqlite (default NORMAL)
//   BENCH_DRIVER   TypeORM sqlite driver: sqlite (node-sqlite3, default) | better-sqlite3
//   BENCH_ENGINE   ours only: the `engine` option, db (default) | cache | cached_db | signed_cookies | file
//   BENCH_REDIS_URL     cache, cached_db: Redis URL (default redis://127.0.0.1:6379)
//   BENCH_REDIS_PREFIX  cache, cached_db: the `cache.keyPrefix` (unique per start; the keys under it
//                       are deleted with SCAN + DEL when the server exits — never FLUSHDB, Redis is shared)
//   BENCH_FILE_PATH     file: the `filePath` directory (must exist)
//   BENCH_TRACE=on      records every SQL statement's start and end (bench/sweep.js: where a request waits)
// For experiments (bench/results/experiments.md):
//   BENCH_WAL=off              no enableWAL (sqlite's rollback journal)
//   BENCH_SQLITE3_TRACE=off    node-sqlite3 without the verbose() tracing TypeORM turns on
//   BENCH_LIB=/abs/index.js    another build of the library (a patched copy of src/)
//
// Routes, identical on all three servers:
//   GET  /none   never touches the session
//   GET  /read   { counter } read from the session (0 when absent)
//   POST /write  increments the session's counter, answers { counter }
//
// IPC: the parent sends { type: 'stats' } and gets { type: 'stats', cpu, queries, redis, files } back
// (process CPU time in µs; the SQL statements TypeORM ran, counted by a TypeORM logger; the Redis
// commands the engine sent, counted by a Proxy around the client; the file operations of the file
// engine in its directory); { type: 'exit' } closes the app and exits (so --cpu-prof can write its
// profile). For bench/sweep.js: { type: 'sweep' } runs SessionService.clearExpired() and answers
// { type: 'swept', count, startMs, endMs }; { type: 'trace' } answers the statement timeline
// (BENCH_TRACE=on) and the event-loop delay.
//
// Plain JavaScript: Nest's decorators are applied with Reflect.decorate, as tsc would.
import 'reflect-metadata';
import { Controller, Get, HttpCode, Module, Post, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import fs, { readdirSync, readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { DataSource, EntitySchema, EventSubscriber } from 'typeorm';

const kind = process.env.BENCH_KIND ?? 'bare';
const db = process.env.BENCH_DB ?? 'sqlite';
const engine = process.env.BENCH_ENGINE ?? 'db';
const SECRET = 'bench-secret';
const ENGINES = ['db', 'cache', 'cached_db', 'signed_cookies', 'file'];
if (!ENGINES.includes(engine)) throw new Error(`BENCH_ENGINE must be one of ${ENGINES.join(', ')}, got ${engine}`);
/** Engines that keep sessions in the django_session table. */
const usesTable = kind === 'ours' && (engine === 'db' || engine === 'cached_db');
/** Engines that keep sessions in Redis. */
const usesRedis = kind === 'ours' && (engine === 'cache' || engine === 'cached_db');

// ---- SQL statement counter (a TypeORM logger) ------------------------------------------------

class CountingLogger {
  counts = { select: 0, write: 0, other: 0, errors: 0 };
  /** Statement text -> how many times (first 200 distinct texts), for the report. */
  texts = new Map();
  logQuery(query) {
    const head = query.trimStart().slice(0, 7).toUpperCase();
    if (head.startsWith('SELECT') || head.startsWith('WITH')) this.counts.select++;
    else if (/^(INSERT|UPDATE|DELETE|REPLACE)/.test(head)) this.counts.write++;
    else this.counts.other++;
    // connect-typeorm writes Date.now() into its SQL as literals: fold them, to list each statement once.
    const text = query.replace(/\b\d{10,}\b/g, '<now>');
    const n = this.texts.get(text);
    if (n !== undefined) this.texts.set(text, n + 1);
    else if (this.texts.size < 200) this.texts.set(text, 1);
  }
  logQueryError() {
    this.counts.errors++;
  }
  logQuerySlow() {}
  logSchemaBuild() {}
  logMigration() {}
  log() {}
}
const sqlLogger = new CountingLogger();

// ---- SQL statement timeline (BENCH_TRACE=on, for bench/sweep.js) -------------------------------

/**
 * Start and end (ms, performance.now()) of every statement, from TypeORM's BeforeQuery/AfterQuery
 * events. The time includes any wait for the connection (node-sqlite3 runs one statement at a time
 * on it; pg waits for a pool client) or for a lock (sqlite's busy handler).
 */
const trace = [];
// TypeORM's sqlite driver shares one query runner among all statements, so the two events are
// paired by the statement's parameter array (the same object in both); a statement without
// parameters, by its text (first in, first out).
const traceStarts = new WeakMap();
const traceStartsByText = new Map();
class TraceSubscriber {
  beforeQuery(event) {
    const start = { t: performance.now(), sql: event.query };
    if (event.parameters && typeof event.parameters === 'object') traceStarts.set(event.parameters, start);
    else traceStartsByText.set(event.query, [...(traceStartsByText.get(event.query) ?? []), start]);
  }
  afterQuery(event) {
    let start;
    if (event.parameters && typeof event.parameters === 'object') {
      start = traceStarts.get(event.parameters);
      traceStarts.delete(event.parameters);
    } else start = traceStartsByText.get(event.query)?.shift();
    if (!start) return;
    const head = start.sql.trimStart().slice(0, 6).toUpperCase();
    trace.push({ kind: head, start: start.t, end: performance.now(), ok: event.success !== false, conn: event.connection?.name });
  }
}
// TypeORM only takes subscriber classes registered by @EventSubscriber().
EventSubscriber()(TraceSubscriber);
const tracing = process.env.BENCH_TRACE === 'on';
if (tracing) {
  // Every DataSource of the process, also one the library opens itself (the db engine's own read
  // connection on a sqlite file in WAL mode, which takes no subscribers from the app's options).
  const initialize = DataSource.prototype.initialize;
  DataSource.prototype.initialize = async function (...args) {
    const result = await initialize.apply(this, args);
    if (!this.subscribers.some((s) => s instanceof TraceSubscriber)) this.subscribers.push(new TraceSubscriber());
    return result;
  };
}
const loopDelay = tracing ? monitorEventLoopDelay({ resolution: 5 }) : null;
loopDelay?.enable();
// Event-loop stalls on the timeline: a 5 ms timer that fires more than 10 ms late is recorded as a
// 'LOOP' entry from when it was due to when it ran.
if (tracing) {
  let due = performance.now() + 5;
  setInterval(() => {
    const now = performance.now();
    if (now - due > 10) trace.push({ kind: 'LOOP', start: due, end: now, ok: true });
    due = now + 5;
  }, 5).unref();
}

// ---- Redis command counter (cache, cached_db) --------------------------------------------------

const redisCounts = {};
/**
 * The node-redis client as the module gets it: a Proxy that counts each command sent through
 * `sendCommand` (how the module talks to node-redis) and forwards everything to the client.
 */
function countingRedis(client) {
  return new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === 'sendCommand') {
        return (args, ...rest) => {
          const name = String(args[0]).toUpperCase();
          redisCounts[name] = (redisCounts[name] ?? 0) + 1;
          return target.sendCommand(args, ...rest);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

// ---- file operation counter (file engine) ------------------------------------------------------

const fileCounts = {};
/** Counts the fs/promises calls on paths under `dir` (the file engine imports them by name: re-exported with syncBuiltinESMExports). */
function countFileOps(dir) {
  for (const name of ['readFile', 'stat', 'open', 'writeFile', 'rename', 'unlink', 'access', 'readdir']) {
    const original = fs.promises[name];
    fs.promises[name] = function (path, ...rest) {
      if (String(path).startsWith(dir)) fileCounts[name] = (fileCounts[name] ?? 0) + 1;
      return original.call(this, path, ...rest);
    };
  }
  syncBuiltinESMExports();
}

// ---- the database, the same for every server -------------------------------------------------

function dataSourceOptions(extra) {
  if (db === 'postgres') {
    return { type: 'postgres', url: process.env.BENCH_PG_URL, logger: sqlLogger, ...extra };
  }
  const untraced = {};
  if (process.env.BENCH_SQLITE3_TRACE === 'off' && process.env.BENCH_DRIVER !== 'better-sqlite3') {
    // TypeORM calls sqlite3.verbose(), which wraps every Database method to capture a stack
    // trace and util.inspect() its arguments on every query. A driver whose verbose() is a no-op
    // keeps the plain module.
    const sqlite3 = createRequire(import.meta.url)('sqlite3');
    untraced.driver = Object.assign(Object.create(sqlite3), { verbose: () => sqlite3 });
  }
  return {
    type: process.env.BENCH_DRIVER === 'better-sqlite3' ? 'better-sqlite3' : 'sqlite',
    ...untraced,
    database: process.env.BENCH_SQLITE,
    // What the bench measures on sqlite (see the README, "Performance" for the trade-off):
    // WAL, so readers never wait for the writer, and a 5 s busy timeout, so a second process
    // (Django, the CLI) waits for the lock instead of failing with SQLITE_BUSY.
    enableWAL: process.env.BENCH_WAL !== 'off',
    ...(process.env.BENCH_DRIVER === 'better-sqlite3' ? { timeout: 5000 } : { busyTimeout: 5000 }),
    logger: sqlLogger,
    ...extra,
  };
}

// ---- decorators without TypeScript -----------------------------------------------------------

function decorateMethod(cls, name, decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, name);
  const result = Reflect.decorate(decorators, cls.prototype, name, descriptor);
  Object.defineProperty(cls.prototype, name, result ?? descriptor);
}
const param = (decorator, index) => (target, key) => decorator(target, key, index);

function routes(cls, paramDecorator) {
  decorateMethod(cls, 'none', [Get('none')]);
  decorateMethod(cls, 'read', [Get('read'), ...(paramDecorator ? [param(paramDecorator, 0)] : [])]);
  decorateMethod(cls, 'write', [Post('write'), HttpCode(200), ...(paramDecorator ? [param(paramDecorator, 0)] : [])]);
  Reflect.decorate([Controller()], cls);
  return cls;
}

// ---- the three apps --------------------------------------------------------------------------

async function bareApp() {
  let counter = 0;
  class BareController {
    none() {
      return { ok: true };
    }
    read() {
      return { counter };
    }
    write() {
      counter += 1;
      return { counter };
    }
  }
  routes(BareController);
  class AppModule {}
  // Same database connection as the others (an app has one), no tables used.
  Reflect.decorate([Module({ imports: [TypeOrmModule.forRoot(dataSourceOptions({}))], controllers: [BareController] })], AppModule);
  return NestFactory.create(AppModule, { logger: ['error', 'warn'] });
}

async function expressSessionApp() {
  const { default: session } = await import('express-session');
  const { TypeormStore } = (await import('connect-typeorm')).default;
  // connect-typeorm's entity, as its README declares it (ISession).
  const SessionRow = new EntitySchema({
    name: 'Session',
    tableName: 'session',
    columns: {
      id: { type: 'varchar', length: 255, primary: true },
      expiredAt: { type: 'bigint', default: () => '0' },
      json: { type: 'text' },
      destroyedAt: { deleteDate: true, nullable: true },
    },
    indices: [{ name: 'IDX_session_expiredAt', columns: ['expiredAt'] }],
  });
  class EsController {
    none() {
      return { ok: true };
    }
    read(req) {
      return { counter: req.session.counter ?? 0 };
    }
    write(req) {
      req.session.counter = (req.session.counter ?? 0) + 1;
      return { counter: req.session.counter };
    }
  }
  routes(EsController, Req());
  class AppModule {}
  Reflect.decorate(
    [Module({ imports: [TypeOrmModule.forRoot(dataSourceOptions({ entities: [SessionRow], synchronize: true }))], controllers: [EsController] })],
    AppModule,
  );
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  const repository = app.get(DataSource).getRepository(SessionRow);
  // connect-typeorm's README configuration: cleanupLimit 2 (expired rows pruned on each save), ttl one day.
  const store = new TypeormStore({ cleanupLimit: 2, ttl: 86400 }).connect(repository);
  app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store }));
  return app;
}

/** The Redis client of the cache engines (connected in oursApp, closed in main's exit). */
let redis = null;
const redisPrefix = process.env.BENCH_REDIS_PREFIX ?? `djs-bench-${process.pid}`;

/** Deletes this server's keys (SCAN MATCH <prefix>:* + DEL: Redis is shared, never FLUSHDB) and closes the client. */
async function closeRedis() {
  if (!redis) return;
  const client = redis;
  redis = null;
  try {
    for await (const keys of client.scanIterator({ MATCH: `${redisPrefix}:*`, COUNT: 1000 })) {
      const batch = Array.isArray(keys) ? keys : [keys];
      if (batch.length > 0) await client.del(batch);
    }
  } finally {
    await client.close().catch(() => client.destroy());
  }
}

async function oursApp() {
  // BENCH_LIB: another build of the library (for experiments with a patched copy of src/).
  if (kind === 'ours' && engine === 'file') countFileOps(process.env.BENCH_FILE_PATH ?? '');
  const lib = await import(process.env.BENCH_LIB ? pathToFileURL(process.env.BENCH_LIB).href : '../dist/src/index.js');
  const { SessionModule, SessionEntity, CreateDjangoSession1700000000000, Session } = lib;
  class OursController {
    none() {
      return { ok: true };
    }
    read(session) {
      return { counter: session.get('counter', 0) };
    }
    write(session) {
      const counter = session.get('counter', 0) + 1;
      session.set('counter', counter);
      return { counter };
    }
  }
  routes(OursController, Session());
  // `engine` only when not the default: a build from before the option (--variant) runs too.
  const options = { secretKey: SECRET, ...(engine === 'db' ? {} : { engine }) };
  if (usesRedis) {
    const { createClient } = await import('redis');
    redis = await createClient({ url: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', disableOfflineQueue: true }).connect();
    options.cache = { client: countingRedis(redis), keyPrefix: redisPrefix };
  }
  if (engine === 'file') {
    if (!process.env.BENCH_FILE_PATH) throw new Error('BENCH_ENGINE=file needs BENCH_FILE_PATH');
    options.filePath = process.env.BENCH_FILE_PATH;
  }
  class AppModule {}
  Reflect.decorate(
    [
      Module({
        imports: [
          // Every app has the same DataSource; only the engines that use the table get its entity.
          TypeOrmModule.forRoot(
            dataSourceOptions(usesTable ? { entities: [SessionEntity], migrations: [CreateDjangoSession1700000000000], migrationsRun: true } : {}),
          ),
          SessionModule.forRoot(options),
        ],
        controllers: [OursController],
      }),
    ],
    AppModule,
  );
  return NestFactory.create(AppModule, { logger: ['error', 'warn'] });
}

/**
 * CPU time (µs) of the main thread and of all other threads (libuv's pool runs node-sqlite3's
 * queries, zlib...; V8 has GC helpers), from /proc on Linux; null elsewhere.
 */
function threadCpu() {
  try {
    const tick = 1e6 / 100; // USER_HZ is 100 on Linux
    let main = 0;
    let others = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const us = (Number(fields[11]) + Number(fields[12])) * tick; // utime + stime
      if (Number(tid) === process.pid) main += us;
      else others += us;
    }
    return { main, others };
  } catch {
    return null;
  }
}

// ---- main ------------------------------------------------------------------------------------

async function main() {
  const factory = { bare: bareApp, 'express-session': expressSessionApp, ours: oursApp }[kind];
  if (factory === undefined) throw new Error(`unknown BENCH_KIND ${kind}`);
  let app;
  try {
    app = await factory();
  } catch (error) {
    await closeRedis().catch(() => undefined);
    throw error;
  }
  if (db === 'sqlite') {
    // Set after init on the driver's single connection: see the README, "Performance".
    const sync = process.env.BENCH_SYNC ?? 'NORMAL';
    if (!/^(OFF|NORMAL|FULL|EXTRA)$/.test(sync)) throw new Error(`BENCH_SYNC must be OFF, NORMAL, FULL or EXTRA, got ${sync}`);
    await app.get(DataSource).query(`PRAGMA synchronous = ${sync}`);
  }
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  const settings =
    db === 'sqlite'
      ? {
          journal_mode: (await app.get(DataSource).query('PRAGMA journal_mode'))[0]?.journal_mode,
          synchronous: (await app.get(DataSource).query('PRAGMA synchronous'))[0]?.synchronous,
          busy_timeout: Object.values((await app.get(DataSource).query('PRAGMA busy_timeout'))[0] ?? {})[0],
        }
      : {};

  process.on('message', async (message) => {
    if (message?.type === 'stats') {
      const cpu = process.cpuUsage();
      process.send({
        type: 'stats',
        id: message.id,
        cpu: cpu.user + cpu.system,
        threads: threadCpu(),
        queries: { ...sqlLogger.counts },
        redis: { ...redisCounts },
        files: { ...fileCounts },
        texts: message.texts ? [...sqlLogger.texts] : undefined,
      });
    } else if (message?.type === 'sweep') {
      // bench/sweep.js: the app sweeps while it serves requests.
      const { SessionService } = await import(process.env.BENCH_LIB ? pathToFileURL(process.env.BENCH_LIB).href : '../dist/src/index.js');
      const startMs = performance.now();
      try {
        const count = await app.get(SessionService).clearExpired();
        process.send({ type: 'swept', id: message.id, count, startMs, endMs: performance.now() });
      } catch (error) {
        process.send({ type: 'swept', id: message.id, error: String(error?.stack ?? error), startMs, endMs: performance.now() });
      }
    } else if (message?.type === 'trace') {
      // Times relative to this process's performance.timeOrigin, which is sent along.
      process.send({
        type: 'trace',
        id: message.id,
        timeOrigin: performance.timeOrigin,
        trace,
        loopDelayMaxMs: loopDelay ? loopDelay.max / 1e6 : null,
        loopDelayP99Ms: loopDelay ? loopDelay.percentile(99) / 1e6 : null,
      });
      if (message.reset) {
        trace.length = 0;
        loopDelay?.reset();
      }
    } else if (message?.type === 'exit') {
      await app.close();
      await closeRedis().catch((error) => console.error(`bench server: Redis cleanup failed: ${error.message}`));
      process.exit(0);
    }
  });
  process.on('disconnect', () => closeRedis().finally(() => process.exit(0)));
  process.send({ type: 'ready', port, settings });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
