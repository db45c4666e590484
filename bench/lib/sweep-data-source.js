// The DataSource that bench/sweep.js gives `django-session clearsessions -d`: the sweep bench's
// database, with the same settings as the app's (sqlite: WAL, busy timeout 5 s, synchronous =
// NORMAL), and a TypeORM subscriber that times every statement the CLI runs.
//
//   SWEEP_DB        sqlite | postgres
//   SWEEP_SQLITE    the sqlite file (sqlite)
//   SWEEP_DRIVER    TypeORM sqlite driver: sqlite (default) | better-sqlite3
//   SWEEP_PG_URL    the database URL (postgres)
//   SWEEP_LIB       another build's dist/src/index.js (bench/sweep.js --lib), whose CLI runs
//   SWEEP_TRACE     where to write the timeline (JSON: { timeOrigin, trace: [{ kind, start, end }] },
//                   times in ms from timeOrigin), when the process exits
//
// On sqlite the options come from the library's sqliteDataSourceOptions(), as the app's (docs/performance.md,
// "sqlite settings": PRAGMA synchronous on every connection). Exported as a promise of an
// initialised DataSource (the CLI awaits an exported promise, and leaves a DataSource it did not
// initialise open: it exits anyway).
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { DataSource } from 'typeorm';
import { trace, TraceSubscriber } from './statement-trace.js';

// The entity of the build whose CLI runs (the CLI checks the DataSource knows that very class).
const lib = await import(process.env.SWEEP_LIB ? pathToFileURL(process.env.SWEEP_LIB).href : '../../dist/src/index.js');
const { SessionEntity } = lib;
// A build from before the helper (--lib) gets this build's.
const { sqliteDataSourceOptions } = lib.sqliteDataSourceOptions ? lib : await import('../../dist/src/index.js');

if (process.env.SWEEP_TRACE) {
  process.on('exit', () => writeFileSync(process.env.SWEEP_TRACE, JSON.stringify({ timeOrigin: performance.timeOrigin, trace })));
}

const db = process.env.SWEEP_DB ?? 'sqlite';
const driver = process.env.SWEEP_DRIVER === 'better-sqlite3' ? 'better-sqlite3' : 'sqlite3';
const dataSource = new DataSource(
  db === 'postgres'
    ? { type: 'postgres', url: process.env.SWEEP_PG_URL, entities: [SessionEntity], subscribers: [TraceSubscriber] }
    : {
        ...sqliteDataSourceOptions({ database: process.env.SWEEP_SQLITE, driver, synchronous: 'NORMAL', wal: true, busyTimeout: 5000 }),
        entities: [SessionEntity],
        subscribers: [TraceSubscriber],
      },
);

async function open() {
  await dataSource.initialize();
  return dataSource;
}

export default open();
