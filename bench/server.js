// One benchmark server, started by bench/run.js as a child process with an IPC channel.
//
//   BENCH_KIND     bare | express-session | ours
//   BENCH_DB       sqlite | postgres
//   BENCH_SQLITE   path of the sqlite file (sqlite)
//   BENCH_PG_URL   postgres URL (postgres)
//   BENCH_SYNC     PRAGMA synchronous level on sqlite (default NORMAL)
//   BENCH_DRIVER   TypeORM sqlite driver: sqlite (node-sqlite3, default) | better-sqlite3
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
// IPC: the parent sends { type: 'stats' } and gets { type: 'stats', cpu, queries } back
// (process CPU time in µs and the SQL statements TypeORM ran, counted by a TypeORM logger);
// { type: 'exit' } closes the app and exits (so --cpu-prof can write its profile).
//
// Plain JavaScript: Nest's decorators are applied with Reflect.decorate, as tsc would.
import 'reflect-metadata';
import { Controller, Get, HttpCode, Module, Post, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { DataSource, EntitySchema } from 'typeorm';

const kind = process.env.BENCH_KIND ?? 'bare';
const db = process.env.BENCH_DB ?? 'sqlite';
const SECRET = 'bench-secret';

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

async function oursApp() {
  // BENCH_LIB: another build of the library (for experiments with a patched copy of src/).
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
  class AppModule {}
  Reflect.decorate(
    [
      Module({
        imports: [
          TypeOrmModule.forRoot(
            dataSourceOptions({ entities: [SessionEntity], migrations: [CreateDjangoSession1700000000000], migrationsRun: true }),
          ),
          SessionModule.forRoot({ secretKey: SECRET }),
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
  const app = await factory();
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
        texts: message.texts ? [...sqlLogger.texts] : undefined,
      });
    } else if (message?.type === 'exit') {
      await app.close();
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready', port, settings });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
