// A timeline of the SQL statements a process runs, from TypeORM's BeforeQuery/AfterQuery events
// (bench/server.js with BENCH_TRACE=on, and the CLI's DataSource in bench/lib/sweep-data-source.js).
// A DataSource with this subscriber runs the db engine's statements through TypeORM's query runner
// (the engine's direct driver path steps aside when subscribers watch queries).
import { performance } from 'node:perf_hooks';
import { EventSubscriber } from 'typeorm';

/**
 * Start and end (ms, performance.now()) of every statement, with its kind (SELECT, DELETE…). The
 * time includes any wait for the connection (node-sqlite3 runs one statement at a time on it; pg
 * waits for a pool client) or for a lock (sqlite's busy handler).
 */
export const trace = [];

// TypeORM's sqlite driver shares one query runner among all statements, so the two events are
// paired by the statement's parameter array (the same object in both); a statement without
// parameters, by its text (first in, first out).
const starts = new WeakMap();
const startsByText = new Map();

export class TraceSubscriber {
  beforeQuery(event) {
    const start = { t: performance.now(), sql: event.query };
    if (event.parameters && typeof event.parameters === 'object') starts.set(event.parameters, start);
    else startsByText.set(event.query, [...(startsByText.get(event.query) ?? []), start]);
  }
  afterQuery(event) {
    let start;
    if (event.parameters && typeof event.parameters === 'object') {
      start = starts.get(event.parameters);
      starts.delete(event.parameters);
    } else start = startsByText.get(event.query)?.shift();
    if (!start) return;
    const kind = start.sql.trimStart().slice(0, 6).toUpperCase();
    trace.push({ kind, start: start.t, end: performance.now(), ok: event.success !== false, conn: event.connection?.name });
  }
}
// TypeORM only takes subscriber classes registered by @EventSubscriber().
EventSubscriber()(TraceSubscriber);
