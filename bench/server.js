// One benchmark server, started by bench/run.js as a child process with an IPC channel.
//
//   BENCH_KIND     bare | express-session | ours | ours-integrations (ours on the db engine with
//                  `requestSession: true` and Passport's initialize() + session() installed)
//   BENCH_PLATFORM express (default) | fastify (bare and ours; express-session and ours-integrations
//                  are Express-only)
//   BENCH_DB       sqlite | postgres
//   BENCH_SQLITE   path of the sqlite file (sqlite)
//   BENCH_PG_URL   postgres URL (postgres)
//   BENCH_SYNC     PRAGMA synchronous level on sqlite (default NORMAL)
//   BENCH_DRIVER   TypeORM sqlite driver: sqlite (node-sqlite3, default) | better-sqlite3
//                  (every app's sqlite DataSource comes from the library's sqliteDataSourceOptions())
//   BENCH_PAD      N: /write also stores `pad` (N characters) when the session has none (big sessions)
//   BENCH_ENGINE   ours only: the `engine` option, db (default) | cache | cached_db | signed_cookies | file
//   BENCH_REDIS_URL     cache, cached_db: Redis URL (default redis://127.0.0.1:6379)
//   BENCH_REDIS_PREFIX  cache, cached_db: the `cache.keyPrefix` (unique per start; the keys under it
//                       are deleted with SCAN + DEL when the server exits — never FLUSHDB, Redis is shared)
//   BENCH_FILE_PATH     file: the `filePath` directory (must exist)
//   BENCH_TRACE=on      records every SQL statement's start and end (bench/sweep.js: where a request waits)
//   BENCH_TOUCH_AFTER=N ours only: the `touchAfter` option (idle expiry, seconds), e.g. an A/B of /read
//                       with it on: --variant 'touch:BENCH_TOUCH_AFTER=60' (docs/idle-expiry.md)
//   BENCH_TELEMETRY=on  ours only: also imports SessionTelemetryModule.forRoot() (@opentelemetry/api, no SDK:
//                       its no-op tracer and meter), e.g. --variant 'otel:BENCH_TELEMETRY=on'
// For experiments (bench/results/experiments.md):
//   BENCH_WAL=off              no enableWAL (sqlite's rollback journal)
//   BENCH_SQLITE3_TRACE=on     TypeORM's own node-sqlite3 setup, with the verbose() tracing it turns
//                              on (and PRAGMA synchronous run once after init), instead of
//                              sqliteDataSourceOptions()'s untraced driver
//   BENCH_LIB=/abs/index.js    another build of the library (a patched copy of src/)
//
// Routes, identical on all three servers:
//   GET  /none   never touches the session
//   GET  /read   { counter } read from the session (0 when absent)
//   POST /write  increments the session's counter, answers { counter }
//
// IPC: the parent sends { type: 'stats', reset? } and gets { type: 'stats', cpu, queries, redis, files,
// rss, loopDelay } back (process CPU time in µs; the SQL statements TypeORM ran, counted by a TypeORM
// logger; the Redis commands the engine sent, counted by a Proxy around the client; the file
// operations of the file engine in its directory; resident set size in bytes; the event-loop delay
// { p50, p99, max } in ms since the start or the last stats message with `reset: true`, which resets
// it after answering); { type: 'exit' } closes the app and exits (so --cpu-prof can write its
// profile). For bench/sweep.js: { type: 'sweep' } runs SessionService.clearExpired() and answers
// { type: 'swept', count, startMs, endMs }; { type: 'trace' } answers the statement timeline
// (BENCH_TRACE=on) and the event-loop delay.
//
// Plain JavaScript: Nest's decorators are applied with Reflect.decorate, as tsc would.
import 'reflect-metadata';
import { Controller, Get, HttpCode, Module, Post, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { trace, TraceSubscriber } from './lib/statement-trace.js';
import { threadCpu } from './lib/thread-cpu.js';
import { DataSource, EntitySchema } from 'typeorm';

const kind = process.env.BENCH_KIND ?? 'bare';
const db = process.env.BENCH_DB ?? 'sqlite';
const engine = process.env.BENCH_ENGINE ?? 'db';
const platform = process.env.BENCH_PLATFORM ?? 'express';
if (platform !== 'express' && platform !== 'fastify') throw new Error(`BENCH_PLATFORM must be express or fastify, got ${platform}`);
if (platform === 'fastify' && (kind === 'express-session' || kind === 'ours-integrations')) throw new Error(`BENCH_KIND=${kind} is Express-only`);
const isOurs = kind === 'ours' || kind === 'ours-integrations';
if (kind === 'ours-integrations' && engine !== 'db') throw new Error('BENCH_KIND=ours-integrations runs on the db engine only');
const sync = (process.env.BENCH_SYNC ?? 'NORMAL').toUpperCase();
if (!/^(OFF|NORMAL|FULL|EXTRA)$/.test(sync)) throw new Error(`BENCH_SYNC must be OFF, NORMAL, FULL or EXTRA, got ${sync}`);
const sqliteDriver = process.env.BENCH_DRIVER === 'better-sqlite3' ? 'better-sqlite3' : 'sqlite3';
const traced = process.env.BENCH_SQLITE3_TRACE === 'on' && sqliteDriver === 'sqlite3';
/** The library: this build, or another one (BENCH_LIB, for experiments with a patched copy of src/). */
const libUrl = process.env.BENCH_LIB ? pathToFileURL(process.env.BENCH_LIB).href : new URL('../dist/src/index.js', import.meta.url).href;
const lib = await import(libUrl);
/** A subpath entry of that build (`/sqlite`, `/passport`): `exports/<name>.js` beside its index; a build from before the subpaths has the names in its root. */
async function libEntry(name) {
  const url = new URL(`exports/${name}.js`, libUrl);
  return fs.existsSync(fileURLToPath(url)) ? import(url.href) : lib;
}
// A build from before sqliteDataSourceOptions() (--variant with BENCH_LIB) gets this build's helper.
const sqliteEntry = await libEntry('sqlite');
const { sqliteDataSourceOptions } = sqliteEntry.sqliteDataSourceOptions ? sqliteEntry : await import('../dist/src/exports/sqlite.js');

/** BENCH_PAD=N: the first N characters of sha256("0") + sha256("1") + … in hex (bench/scenarios.js: big sessions). */
const PAD = (() => {
  const n = Number(process.env.BENCH_PAD ?? 0);
  if (!(n > 0)) return null;
  let out = '';
  for (let i = 0; out.length < n; i++) out += createHash('sha256').update(String(i)).digest('hex');
  return out.slice(0, n);
})();
const SECRET = 'bench-secret';
const ENGINES = ['db', 'cache', 'cached_db', 'signed_cookies', 'file'];
if (!ENGINES.includes(engine)) throw new Error(`BENCH_ENGINE must be one of ${ENGINES.join(', ')}, got ${engine}`);
/** Engines that keep sessions in the django_session table. */
const usesTable = isOurs && (engine === 'db' || engine === 'cached_db');
/** Engines that keep sessions in Redis. */
const usesRedis = isOurs && (engine === 'cache' || engine === 'cached_db');

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

const tracing = process.env.BENCH_TRACE === 'on';
if (tracing) {
  // Every DataSource of the process, also one the library opens itself (the db engine's own read
  // connection on a sqlite file in WAL mode, which shares the app's subscribers once initialised).
  const initialize = DataSource.prototype.initialize;
  DataSource.prototype.initialize = async function (...args) {
    const result = await initialize.apply(this, args);
    if (!this.subscribers.some((s) => s instanceof TraceSubscriber)) this.subscribers.push(new TraceSubscriber());
    return result;
  };
}
const loopDelay = tracing ? monitorEventLoopDelay({ resolution: 5 }) : null;
loopDelay?.enable();
/** Always on, for the stats message (reset by { type: 'stats', reset: true }). */
const statsLoopDelay = monitorEventLoopDelay({ resolution: 10 });
statsLoopDelay.enable();
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
  // What the bench measures on sqlite (see the README, "Performance"): the library's helper, for
  // every app: WAL (readers never wait for the writer), a 5 s busy timeout (a second process, Django
  // or the CLI, waits for the lock instead of failing with SQLITE_BUSY), PRAGMA synchronous on every
  // connection, node-sqlite3 without TypeORM's verbose() tracing (or better-sqlite3).
  const options = sqliteDataSourceOptions({
    database: process.env.BENCH_SQLITE,
    driver: sqliteDriver,
    synchronous: sync,
    wal: process.env.BENCH_WAL !== 'off',
    busyTimeout: 5000,
  });
  if (traced) {
    // BENCH_SQLITE3_TRACE=on: TypeORM's own sqlite3 module (it turns on verbose() tracing);
    // PRAGMA synchronous is then run once after init, on the driver's connection (main below).
    delete options.driver;
  }
  return { ...options, logger: sqlLogger, ...extra };
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
  return createApp(AppModule);
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
      if (PAD !== null && req.session.pad === undefined) req.session.pad = PAD;
      return { counter: req.session.counter };
    }
  }
  routes(EsController, Req());
  class AppModule {}
  Reflect.decorate(
    [Module({ imports: [TypeOrmModule.forRoot(dataSourceOptions({ entities: [SessionRow], synchronize: true }))], controllers: [EsController] })],
    AppModule,
  );
  const app = await createApp(AppModule);
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
  if (engine === 'file') countFileOps(process.env.BENCH_FILE_PATH ?? '');
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
      if (PAD !== null && session.get('pad') === undefined) session.set('pad', PAD);
      return { counter };
    }
  }
  routes(OursController, Session());
  // `engine` only when not the default: a build from before the option (--variant) runs too.
  const options = { secretKey: SECRET, ...(engine === 'db' ? {} : { engine }), ...(kind === 'ours-integrations' ? { requestSession: true } : {}) };
  if (process.env.BENCH_TOUCH_AFTER) options.touchAfter = Number(process.env.BENCH_TOUCH_AFTER);
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
          ...(process.env.BENCH_TELEMETRY === 'on' ? [(await libEntry('telemetry')).SessionTelemetryModule.forRoot()] : []),
        ],
        controllers: [OursController],
      }),
    ],
    AppModule,
  );
  const app = await createApp(AppModule);
  if (kind === 'ours-integrations') {
    // Passport on Django's login keys (docs/integrations.md, "Passport"), installed as an Express app does:
    // initialize() and session() on every request. No user ever logs in here, so findUser is not called.
    const { Passport } = (await import('passport')).default;
    const passport = new Passport();
    (await libEntry('passport')).useDjangoSessions(passport, { findUser: () => null });
    app.use(passport.initialize());
    app.use(passport.session());
  }
  return app;
}

/** The Nest app on the platform asked for (BENCH_PLATFORM). */
async function createApp(AppModule) {
  if (platform === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    return NestFactory.create(AppModule, new FastifyAdapter(), { logger: ['error', 'warn'] });
  }
  return NestFactory.create(AppModule, { logger: ['error', 'warn'] });
}


// ---- main ------------------------------------------------------------------------------------

async function main() {
  const factory = { bare: bareApp, 'express-session': expressSessionApp, ours: oursApp, 'ours-integrations': oursApp }[kind];
  if (factory === undefined) throw new Error(`unknown BENCH_KIND ${kind}`);
  let app;
  try {
    app = await factory();
  } catch (error) {
    await closeRedis().catch(() => undefined);
    throw error;
  }
  // BENCH_SQLITE3_TRACE=on only (TypeORM's own setup has no option for it); otherwise the driver
  // runs PRAGMA synchronous on every connection it opens (sqliteDataSourceOptions).
  if (db === 'sqlite' && traced) await app.get(DataSource).query(`PRAGMA synchronous = ${sync}`);
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
      const ms = (ns) => (Number.isFinite(ns) ? ns / 1e6 : null);
      process.send({
        type: 'stats',
        id: message.id,
        cpu: cpu.user + cpu.system,
        threads: threadCpu(),
        queries: { ...sqlLogger.counts },
        redis: { ...redisCounts },
        files: { ...fileCounts },
        texts: message.texts ? [...sqlLogger.texts] : undefined,
        rss: process.memoryUsage().rss,
        loopDelay:
          statsLoopDelay.count > 0
            ? { p50: ms(statsLoopDelay.percentile(50)), p99: ms(statsLoopDelay.percentile(99)), max: ms(statsLoopDelay.max) }
            : { p50: null, p99: null, max: null },
      });
      if (message.reset) statsLoopDelay.reset();
    } else if (message?.type === 'sweep') {
      // bench/sweep.js: the app sweeps while it serves requests.
      const { SessionService } = lib;
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
