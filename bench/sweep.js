#!/usr/bin/env node
// `npm run bench:sweep`: the expired-row sweep under load (issue "clearExpired() on a big table
// stalls the app"). For each database: a django_session table with 1,000,000 expired rows and some
// live ones; the app of bench/server.js (our module, db engine) serves a steady load of session
// /read and /write requests on live cookies while the expired rows are swept, once by the app
// itself (SessionService.clearExpired(), over IPC) and once by `django-session clearsessions` in
// another process. Records every request's latency and every SQL statement's start and end, and
// writes bench/results/sweep.md (+ sweep.json). Exits non-zero when a correctness check fails
// (the count deleted, live sessions kept, no lost update, the sweep itself); the latency target
// (no request waits more than 100 ms) is reported, never enforced.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { client, readCounter } from './lib/http.js';
import { setUpPinning } from './lib/pinning.js';
import { ensurePostgresDatabase, pgClient } from './lib/postgres.js';
import { spawnServer } from './lib/server-process.js';
import { fmt } from './lib/stats.js';

const BENCH = import.meta.dirname;
const ROOT = path.resolve(BENCH, '..');
const TMP = path.join(BENCH, '.tmp', 'sweep');

const { values: opt } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    live: { type: 'string', default: '1000' },
    db: { type: 'string' },
    scenarios: { type: 'string', default: 'app,cli' },
    drivers: { type: 'string', default: 'sqlite,better-sqlite3' },
    repeat: { type: 'string', default: '3' },
    'repeat-pg': { type: 'string', default: '1' },
    connections: { type: 'string', default: '2' },
    before: { type: 'string', default: '3' },
    after: { type: 'string' },
    target: { type: 'string', default: '100' },
    lib: { type: 'string' },
    report: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (opt.help) {
  console.log(`node bench/sweep.js [options]   (npm run bench:sweep -- [options])
  --rows N          expired rows to sweep (default 1000000); the count deleted must equal it
  --live N          live sessions besides the ones the load uses (default 1000); all must survive
  --db LIST         sqlite,postgres (default: sqlite, plus postgres when TEST_POSTGRES_URL is set;
                    PostgreSQL uses (creates) the database djs_sweep, or BENCH_SWEEP_PG_DB)
  --scenarios LIST  app (the app sweeps: SessionService.clearExpired()) and/or cli
                    (django-session clearsessions in another process); default app,cli
  --drivers LIST    TypeORM sqlite drivers of the app and the CLI, each run in turn: sqlite
                    (node-sqlite3), better-sqlite3 (default both)
  --repeat N        runs of each sqlite scenario (default 3: how long a waiting writer waits is luck)
  --repeat-pg N     runs of each PostgreSQL scenario (default 1)
  --connections N   autocannon connections per route, /read and /write (default 2): a closed loop,
                    so a request is in flight at every moment of the sweep
  --before S        seconds of load before the sweep starts (the baseline; default 3)
  --after S         seconds of load after it ends: the control window, the same load without a
                    sweep, to tell the sweep's delays from the machine's (default: as long as the
                    sweep took, at least 3 s and at most 20 s)
  --target MS       the latency target (default 100): no request may wait longer
  --lib DIR         another build of the package (a patched copy of src/, built to DIR, which holds
                    src/index.js and src/cli/bin.js): its app and its CLI are measured instead
  --report          no run: writes sweep.md again from the sweep.json in --out (same options as
                    the run), e.g. after editing bench/sweep-analysis.md (included in the report)
  --out DIR         where sweep.md and sweep.json go (default bench/results; with --rows below
                    1000000, bench/.tmp/sweep-results)`);
  process.exit(0);
}

const LIB = opt.lib ? path.resolve(opt.lib) : null;
if (LIB && !existsSync(path.join(LIB, 'src', 'cli', 'bin.js'))) die(`--lib ${LIB} has no src/cli/bin.js`);
const ROWS = Number(opt.rows);
const LIVE = Number(opt.live);
const CONNECTIONS = Number(opt.connections);
const TARGET_MS = Number(opt.target);
const DRIVERS = opt.drivers.split(',').map((s) => s.trim());
const REPEAT = Number(opt.repeat);
const REPEAT_PG = Number(opt['repeat-pg']);
const SCENARIOS = opt.scenarios.split(',').map((s) => s.trim());
for (const [n, v] of Object.entries({ rows: ROWS, connections: CONNECTIONS, target: TARGET_MS })) if (!(v > 0) || !Number.isInteger(v)) die(`--${n} must be a positive integer`);
if (!(LIVE >= 0)) die('--live must be >= 0');
for (const d of DRIVERS) if (!['sqlite', 'better-sqlite3'].includes(d)) die(`--drivers takes sqlite and/or better-sqlite3, got ${d}`);
if (!(REPEAT >= 1 && REPEAT_PG >= 1)) die('--repeat and --repeat-pg must be >= 1');
for (const s of SCENARIOS) if (!['app', 'cli'].includes(s)) die(`unknown scenario ${s} (app, cli)`);
const OUT = path.resolve(opt.out ?? (ROWS === 1_000_000 && !opt.lib ? path.join(BENCH, 'results') : path.join(BENCH, '.tmp', 'sweep-results')));
/** Session data of the filled rows: the size of a small real session (Django's signed, compressed form). */
const FILL_DATA = '.eJxVjEEOwiAQRe_C2hCgFKhL956BzDBDSzU0Ke3KeHdt0oVu__vvvURMO1bVXWlRb8g_tUZpbXB3z3bQ-cAAVuJt1EY5iMbYXgP34nxtl8H2zzj6LZZSmJwuOdx_bPf8Ti:1tYxZa:Hq3X5y0k1dS9yQx0P7m5cW1sR2tA4bN6oU8vE';
const SESSION_AGE_S = 1_209_600;

function die(message) {
  console.error(`bench:sweep: ${message}`);
  process.exit(1);
}
const log = (...a) => console.log(...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Wall-clock ms with sub-ms precision, comparable across processes (timeOrigin + now()). */
const epochNow = () => performance.timeOrigin + performance.now();

// ---- statistics ---------------------------------------------------------------------------------

function quantile(values, q) {
  const v = Float64Array.from(values).sort();
  return v.length === 0 ? NaN : v[Math.min(v.length - 1, Math.floor(q * v.length))];
}
function latencyStats(values) {
  return {
    n: values.length,
    p50: quantile(values, 0.5),
    p99: quantile(values, 0.99),
    max: values.length ? Math.max(...values) : NaN,
    over: values.filter((x) => x > TARGET_MS).length,
  };
}

// ---- the table's DDL, from the package's own migration ------------------------------------------

async function tableDdl(type) {
  const { CreateDjangoSession1700000000000 } = await import('../dist/src/index.js');
  const sql = [];
  await new CreateDjangoSession1700000000000().up({ hasTable: async () => false, connection: { options: { type } }, query: async (q) => sql.push(q) });
  return sql;
}

// ---- sqlite --------------------------------------------------------------------------------------

/** The template file: the table (the migration's DDL), ROWS expired rows and LIVE live ones, in one transaction. */
async function fillSqlite(file) {
  const { default: Database } = await import('better-sqlite3');
  const { toDjangoUtcString } = await import('../dist/src/django-dates.js');
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  const t0 = performance.now();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  for (const sql of await tableDdl('sqlite')) db.exec(sql);
  const insert = db.prepare('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)');
  const now = Date.now();
  // Expiry dates spread over the last 14 days (the oldest rows are a cookie age old), none in the last minute.
  const expired = (i) => toDjangoUtcString(new Date(now - 60_000 - (i % SESSION_AGE_S) * 1000));
  const live = toDjangoUtcString(new Date(now + SESSION_AGE_S * 1000));
  db.transaction(() => {
    for (let i = 0; i < ROWS; i++) insert.run(sessionKey('e', i), FILL_DATA, expired(i));
    for (let i = 0; i < LIVE; i++) insert.run(sessionKey('l', i), FILL_DATA, live);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return performance.now() - t0;
}

/** A 32-character key, [a-z0-9], spread over the key space (as random keys are): a scrambled counter. */
function sessionKey(prefix, i) {
  let x = BigInt(i) * 0x9e3779b97f4a7c15n + (prefix === 'e' ? 1n : 2n);
  x &= (1n << 128n) - 1n;
  return (prefix + x.toString(36)).padEnd(32, '0').slice(0, 32);
}

async function sqliteCounts(file) {
  const { default: Database } = await import('better-sqlite3');
  const { toDjangoUtcString } = await import('../dist/src/django-dates.js');
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const now = toDjangoUtcString(new Date());
    return {
      expired: db.prepare('SELECT count(*) AS n FROM django_session WHERE expire_date < ?').get(now).n,
      live: db.prepare('SELECT count(*) AS n FROM django_session WHERE expire_date >= ?').get(now).n,
    };
  } finally {
    db.close();
  }
}

// ---- PostgreSQL ----------------------------------------------------------------------------------


function preparePostgres(url) {
  return ensurePostgresDatabase(url, process.env.BENCH_SWEEP_PG_DB ?? 'djs_sweep');
}

/** The table (the migration's DDL), ROWS expired rows and LIVE live ones via generate_series, then ANALYZE. */
async function fillPostgres(url) {
  const c = await pgClient(url);
  const t0 = performance.now();
  try {
    await c.query('DROP TABLE IF EXISTS django_session, migrations CASCADE');
    for (const sql of await tableDdl('postgres')) await c.query(sql);
    await c.query(
      `INSERT INTO django_session (session_key, session_data, expire_date)
       SELECT md5('e' || i), $1, now() - interval '1 minute' - make_interval(secs => i % ${SESSION_AGE_S}) FROM generate_series(1, ${ROWS}) AS i`,
      [FILL_DATA],
    );
    await c.query(
      `INSERT INTO django_session (session_key, session_data, expire_date)
       SELECT md5('l' || i), $1, now() + interval '${SESSION_AGE_S} seconds' FROM generate_series(1, ${LIVE}) AS i`,
      [FILL_DATA],
    );
    await c.query('VACUUM ANALYZE django_session');
    return performance.now() - t0;
  } finally {
    await c.end();
  }
}

/**
 * Samples pg_stat_activity every 10 ms until stop(): what the database's active sessions (the app's
 * pool, the CLI) are doing or waiting on, by statement kind: "running" when no wait event.
 */
async function pgWaitSampler(url, dbName) {
  const c = await pgClient(url);
  const tally = {};
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await c.query(
        `SELECT left(ltrim(query), 6) AS kind, coalesce(wait_event_type || ':' || wait_event, 'running') AS wait
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state = 'active'`,
        [dbName],
      );
      samples++;
      for (const r of rows) {
        const kind = r.kind.toUpperCase();
        tally[kind] ??= {};
        tally[kind][r.wait] = (tally[kind][r.wait] ?? 0) + 1;
      }
      await sleep(10);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await c.end();
      return { samples, tally };
    },
  };
}

async function pgCounts(url) {
  const c = await pgClient(url);
  try {
    const r = await c.query('SELECT count(*) FILTER (WHERE expire_date < now()) AS expired, count(*) FILTER (WHERE expire_date >= now()) AS live FROM django_session');
    return { expired: Number(r.rows[0].expired), live: Number(r.rows[0].live) };
  } finally {
    await c.end();
  }
}

// ---- the app (bench/server.js) ---------------------------------------------------------------------

async function startServer(env, pinning, driver) {
  const server = await spawnServer({
    script: path.join(BENCH, 'server.js'),
    env: { ...process.env, BENCH_KIND: 'ours', BENCH_TRACE: 'on', BENCH_DRIVER: driver ?? 'sqlite', ...(LIB ? { BENCH_LIB: path.join(LIB, 'src', 'index.js') } : {}), ...env },
    pinning,
    cwd: ROOT,
    name: 'ours',
    listenTimeoutMs: 120_000,
  });
  return Object.assign(server, {
    sweep: () => server.ask({ type: 'sweep' }, 'swept', 600_000),
    trace: (reset) => server.ask({ type: 'trace', reset }, 'trace', 600_000),
  });
}

/** `django-session clearsessions -d bench/lib/sweep-data-source.js` in its own process (on the load generator's CPU). */
function runCli(env, pinning) {
  const traceFile = path.join(TMP, `cli-trace-${process.pid}.json`);
  rmSync(traceFile, { force: true });
  const argv = [path.join(LIB ?? path.join(ROOT, 'dist'), 'src', 'cli', 'bin.js'), 'clearsessions', '-d', path.join(BENCH, 'lib', 'sweep-data-source.js')];
  const [cmd, args] = pinning.pinned ? ['taskset', ['-c', String(pinning.loaderCpu), process.execPath, ...argv]] : [process.execPath, argv];
  const startMs = epochNow();
  const libEnv = LIB ? { SWEEP_LIB: path.join(LIB, 'src', 'index.js') } : {};
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env, ...libEnv, SWEEP_TRACE: traceFile }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      const endMs = epochNow();
      let trace = null;
      try {
        const t = JSON.parse(readFileSync(traceFile, 'utf8'));
        trace = t.trace.map((x) => ({ ...x, start: t.timeOrigin + x.start, end: t.timeOrigin + x.end }));
      } catch {}
      rmSync(traceFile, { force: true });
      const count = /Deleted (\d+) expired session/.exec(stdout)?.[1];
      resolve({ code, startMs, endMs, count: count === undefined ? null : Number(count), stdout: stdout.trim(), stderr: stderr.trim(), trace });
    });
  });
}

// ---- load ----------------------------------------------------------------------------------------------

/** Live sessions for the load: one per connection and route, made by the app (POST /write). */
async function createSessions(port, n) {
  const c = client(port);
  try {
    const cookies = [];
    for (let i = 0; i < n; i++) {
      const res = await c.request('POST', '/write');
      if (res.status !== 200 || !res.setCookie) throw new Error(`POST /write answered ${res.status} without a cookie`);
      cookies.push(res.setCookie);
    }
    return cookies;
  } finally {
    c.close();
  }
}

async function readCounters(port, cookies) {
  const c = client(port);
  try {
    const out = [];
    for (const cookie of cookies) out.push(await readCounter(c, cookie));
    return out;
  } finally {
    c.close();
  }
}

/**
 * Closed-loop load on one route until stop(): CONNECTIONS autocannon connections, each with its own
 * live session, each sending its next request as soon as the last is answered, so some request is
 * in flight throughout the sweep. Every response: [end (epoch ms), latency ms, status, cookie index].
 */
function startLoad(port, route, cookies, sink) {
  let index = 0;
  const instance = autocannon(
    {
      url: `http://127.0.0.1:${port}${route.path}`,
      method: route.method,
      connections: cookies.length,
      pipelining: 1,
      duration: 3600,
      timeout: 30,
      setupClient(c) {
        c.benchCookie = index;
        c.setHeaders({ cookie: cookies[index++ % cookies.length] });
      },
    },
    () => undefined,
  );
  instance.on('response', (c, status, _bytes, responseTime) => sink.push([epochNow(), responseTime, status, route.id, c.benchCookie]));
  const done = new Promise((resolve) => instance.on('done', resolve));
  return {
    async stop() {
      instance.stop();
      return done;
    },
  };
}

// ---- one scenario ------------------------------------------------------------------------------------

const ROUTES = [
  { id: 'read', method: 'GET', path: '/read' },
  { id: 'write', method: 'POST', path: '/write' },
];

async function runScenario(dbCtx, scenario, pinning) {
  log(`\n[${dbLabel(dbCtx.db, dbCtx.driver)}, run ${dbCtx.run}] ${scenario === 'app' ? 'the app sweeps (SessionService.clearExpired())' : 'django-session clearsessions sweeps from another process'}`);
  // A fresh table: a copy of the template file, or a refill on PostgreSQL.
  let serverEnv;
  let cliEnv;
  let counts;
  let fillMs = null;
  if (dbCtx.db === 'sqlite') {
    const file = path.join(TMP, 'sweep.sqlite3');
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    copyFileSync(dbCtx.template, file);
    serverEnv = { BENCH_DB: 'sqlite', BENCH_SQLITE: file, BENCH_SYNC: 'NORMAL' };
    cliEnv = { SWEEP_DB: 'sqlite', SWEEP_SQLITE: file, SWEEP_DRIVER: dbCtx.driver };
    counts = () => sqliteCounts(file);
  } else {
    fillMs = await fillPostgres(dbCtx.url);
    log(`  filled ${fmt(ROWS)} expired + ${fmt(LIVE)} live rows in ${fmt(fillMs / 1000, 1)} s (generate_series)`);
    serverEnv = { BENCH_DB: 'postgres', BENCH_PG_URL: dbCtx.url };
    cliEnv = { SWEEP_DB: 'postgres', SWEEP_PG_URL: dbCtx.url };
    counts = () => pgCounts(dbCtx.url);
  }
  const server = await startServer(serverEnv, pinning, dbCtx.driver);
  const result = { db: dbCtx.db, driver: dbCtx.driver ?? null, scenario, run: dbCtx.run, fillMs, checks: [] };
  try {
    const { port } = server;
    const cookies = { read: await createSessions(port, CONNECTIONS), write: await createSessions(port, CONNECTIONS) };
    const before = await counts();
    result.rowsBefore = before;
    log(`  table: ${fmt(before.expired)} expired rows, ${fmt(before.live)} live (${fmt(LIVE)} + the load's ${2 * CONNECTIONS})`);
    // Warm-up, then the measured load.
    let sink = [];
    let loads = ROUTES.map((r) => startLoad(port, r, cookies[r.id], sink));
    await sleep(1000);
    for (const l of loads) await l.stop();
    await sleep(500); // a write in flight when the warm-up stopped still lands
    const countersBefore = await readCounters(port, cookies.write);
    sink = [];
    await server.trace(true); // starts the timeline and the event-loop histogram afresh
    loads = ROUTES.map((r) => startLoad(port, r, cookies[r.id], sink));
    const loadStart = epochNow();
    await sleep(Number(opt.before) * 1000);
    const baseTrace = await server.trace(true); // resets the server's timeline and event-loop histogram
    const sampler = dbCtx.db === 'postgres' ? await pgWaitSampler(dbCtx.url, dbCtx.dbName) : null;
    let sweep;
    if (scenario === 'app') {
      const startMs = epochNow();
      const answer = await server.sweep();
      const endMs = epochNow();
      if (answer.error) throw new Error(`clearExpired() failed: ${answer.error}`);
      sweep = { startMs, endMs, count: answer.count, appMs: answer.endMs - answer.startMs };
    } else {
      const cli = await runCli(cliEnv, pinning);
      if (cli.code !== 0) throw new Error(`clearsessions exited with ${cli.code}: ${cli.stderr || cli.stdout}`);
      sweep = { startMs: cli.startMs, endMs: cli.endMs, count: cli.count, cliOutput: cli.stdout, cliTrace: cli.trace };
    }
    if (sampler) result.pgWaits = await sampler.stop();
    const afterMs = opt.after !== undefined ? Number(opt.after) * 1000 : Math.min(20_000, Math.max(3000, sweep.endMs - sweep.startMs));
    await sleep(afterMs + 300);
    for (const l of loads) await l.stop();
    const loadEnd = epochNow();
    await sleep(500); // the last writes in flight land
    const sweepTrace = await server.trace(false);
    const countersAfter = await readCounters(port, cookies.write);
    const after = await counts();
    result.rowsAfter = after;
    analyse(result, { sink, sweep, baseTrace, sweepTrace, loadStart, loadEnd, afterMs, before, after, cookies, countersBefore, countersAfter });
    result.settings = server.settings;
  } finally {
    await server.stop();
  }
  return result;
}

/** Statement times of a trace (relative to its timeOrigin) as epoch ms. */
const maxDuration = (rows) => (rows.length ? Math.max(...rows.map((x) => x.end - x.start)) : 0);
const absolute = (t) => t.trace.map((x) => ({ ...x, start: t.timeOrigin + x.start, end: t.timeOrigin + x.end }));

function analyse(result, { sink, sweep, baseTrace, sweepTrace, loadStart, afterMs, before, after, cookies, countersBefore, countersAfter }) {
  // The sweep's batches: from the app's timeline, or the CLI's own.
  const appStatements = [...absolute(baseTrace), ...absolute(sweepTrace)];
  const batches = (sweep.cliTrace ?? appStatements).filter((x) => x.kind === 'DELETE' && x.start >= sweep.startMs - 1 && x.end <= sweep.endMs + 1);
  const batchMs = batches.map((b) => b.end - b.start);
  const gaps = batches.slice(1).map((b, i) => b.start - batches[i].end);
  const sweepMs = batches.length ? batches.at(-1).end - batches[0].start : NaN;
  // "During the sweep": from the first batch to the last (the CLI's start-up and exit are not the sweep).
  const s0 = batches.length ? batches[0].start : sweep.startMs;
  const s1 = batches.length ? batches.at(-1).end : sweep.endMs;
  result.sweep = {
    wallMs: sweep.endMs - sweep.startMs,
    sweepMs,
    count: sweep.count,
    batches: batches.length,
    batchMs: { p50: quantile(batchMs, 0.5), p99: quantile(batchMs, 0.99), max: batchMs.length ? Math.max(...batchMs) : NaN, total: batchMs.reduce((a, b) => a + b, 0) },
    gapMs: { p50: quantile(gaps, 0.5), max: gaps.length ? Math.max(...gaps) : NaN },
    appMs: sweep.appMs,
  };
  // Requests: during the sweep (in flight at any moment of it) and before it (the baseline).
  const during = sink.filter(([end, lat]) => end > s0 && end - lat < s1);
  const baseline = sink.filter(([end, lat]) => end - lat >= loadStart + 500 && end < s0);
  // The control window: the same load after the sweep (the CLI's exit excluded), as long as the sweep.
  const c0 = Math.max(s1, sweep.endMs) + 200;
  const control = sink.filter(([end, lat]) => end - lat >= c0 && end <= c0 + afterMs);
  const byRoute = (rows) => Object.fromEntries(ROUTES.map((r) => [r.id, latencyStats(rows.filter((x) => x[3] === r.id).map((x) => x[1]))]));
  result.requests = {
    during: { all: latencyStats(during.map((x) => x[1])), ...byRoute(during), non2xx: during.filter((x) => x[2] < 200 || x[2] > 299).length },
    baseline: { all: latencyStats(baseline.map((x) => x[1])), ...byRoute(baseline), non2xx: baseline.filter((x) => x[2] < 200 || x[2] > 299).length },
    control: { all: latencyStats(control.map((x) => x[1])), ...byRoute(control), non2xx: control.filter((x) => x[2] < 200 || x[2] > 299).length, ms: afterMs },
    non2xx: sink.filter((x) => x[2] < 200 || x[2] > 299).length,
    total: sink.length,
  };
  // Where a request waits: its own statements' time (waiting for the connection or the write
  // lock included), and the app's event loop.
  const isRequestStatement = (x) => x.kind === 'SELECT' || x.kind === 'UPDATE' || x.kind === 'INSERT';
  const own = appStatements.filter((x) => isRequestStatement(x) && x.end > s0 && x.start < s1);
  const ownBase = appStatements.filter((x) => isRequestStatement(x) && x.end < s0 && x.start >= loadStart);
  const ownControl = appStatements.filter((x) => isRequestStatement(x) && x.start >= c0 && x.end <= c0 + afterMs);
  const stmtStats = (rows) => ({ n: rows.length, p50: quantile(rows.map((x) => x.end - x.start), 0.5), p99: quantile(rows.map((x) => x.end - x.start), 0.99), max: rows.length ? Math.max(...rows.map((x) => x.end - x.start)) : NaN });
  result.wait = {
    requestStatements: Object.fromEntries(
      [['baseline', ownBase], ['during', own], ['control', ownControl]].map(([k, rows]) => [k, { SELECT: stmtStats(rows.filter((x) => x.kind === 'SELECT')), UPDATE: stmtStats(rows.filter((x) => x.kind === 'UPDATE')) }]),
    ),
    // The app's event-loop stalls (a 5 ms timer late by more than 10 ms), per window.
    loopStallMaxMs: {
      baseline: maxDuration(appStatements.filter((x) => x.kind === 'LOOP' && x.end < s0 && x.start >= loadStart)),
      during: maxDuration(appStatements.filter((x) => x.kind === 'LOOP' && x.end > s0 && x.start < s1)),
      control: maxDuration(appStatements.filter((x) => x.kind === 'LOOP' && x.end > c0 && x.start < c0 + afterMs)),
    },
    failedStatements: own.filter((x) => !x.ok).length,
  };
  // The slowest requests of the sweep, and what ran meanwhile.
  result.slowest = during
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([end, lat, status, route]) => {
      const start = end - lat;
      const overlapping = batches.filter((b) => b.end > start && b.start < end);
      const ownStmt = own.filter((x) => x.start >= start - 1 && x.end <= end + 1).sort((a, b) => b.end - b.start - (a.end - a.start))[0];
      return {
        route,
        status,
        latencyMs: lat,
        atMs: start - s0,
        batchesOverlapping: overlapping.length,
        longestOverlappingBatchMs: overlapping.length ? Math.max(...overlapping.map((b) => b.end - b.start)) : 0,
        ownStatement: ownStmt ? { kind: ownStmt.kind, ms: ownStmt.end - ownStmt.start } : null,
      };
    });
  // Correctness.
  const check = (name, ok, measured) => result.checks.push({ name, ok, measured });
  check(`deleted exactly ${fmt(ROWS)} rows`, sweep.count === ROWS, `${fmt(sweep.count)} reported${sweep.cliOutput ? ` ("${sweep.cliOutput}")` : ''}`);
  check('no expired row left', after.expired === 0, `${fmt(after.expired)} left`);
  check('every live session kept', after.live === before.live, `${fmt(before.live)} before, ${fmt(after.live)} after`);
  const okWrites = cookies.write.map((_, i) => sink.filter((x) => x[3] === 'write' && x[4] === i && x[2] >= 200 && x[2] <= 299).length);
  const grew = countersAfter.map((v, i) => v - countersBefore[i]);
  // A response in flight when the load stopped was applied but not counted: +1 at most per client.
  const consistent = grew.every((g, i) => g >= okWrites[i] && g <= okWrites[i] + 1);
  check('no lost update on /write during the sweep', consistent, `counters grew by ${grew.join('/')} for ${okWrites.join('/')} answered writes`);
}

// ---- report ------------------------------------------------------------------------------------------

const ms = (x, d = 1) => (Number.isFinite(x) ? fmt(x, d) : '–');

function markdown(results, meta) {
  const L = [];
  L.push('# The expired-row sweep under load', '');
  if (meta.lib) L.push(`**A patched build: \`${meta.lib}\`** (bench/sweep.js --lib), not the package's dist/.`, '');
  L.push(
    `Run ${meta.date} · commit ${meta.commit} · Node ${process.version} · ${meta.cpu} · ${meta.pinning.note}${meta.pinning.pinned ? '; the CLI runs on the load generator\'s CPU' : ''}. Whole run: ${meta.runtime}.`,
    '',
  );
  L.push(
    `A \`django_session\` table (created by the package's migration) holds **${fmt(ROWS)} expired rows** (expiry dates spread over the last 14 days, ${FILL_DATA.length}-byte session data) and ${fmt(LIVE)} live ones; ` +
      `the app of \`bench/server.js\` (our module, \`db\` engine, TypeORM ${meta.driverNote}) serves a closed-loop load: ${CONNECTIONS} autocannon connections on \`GET /read\` and ${CONNECTIONS} on \`POST /write\`, each with its own live session and always one request in flight, ` +
      `so every moment of the sweep is sampled by waiting requests (the app's core is busy throughout: a conservative setting). ` +
      `After ${opt.before} s of load (the baseline), the ${fmt(ROWS)} rows are swept: **app** = the app itself calls \`SessionService.clearExpired()\` (over IPC) while serving; ` +
      `**CLI** = \`django-session clearsessions -d bench/lib/sweep-data-source.js\` in another process (its own connection, same settings). ` +
      `The load goes on after the sweep ${opt.after !== undefined ? `for ${opt.after} s` : 'for as long as the sweep took (3–20 s)'}: the control window. Each request's latency is autocannon's; every SQL statement's start and end come from TypeORM's query events in the app (and in the CLI).`,
    '',
  );
  L.push(`Target (the issue): **no request waits more than ${TARGET_MS} ms** while the sweep runs. Checked (the run fails otherwise): the count deleted is exactly ${fmt(ROWS)}, no expired row is left, every live session is kept, no /write is lost.`, '');
  L.push('## Results', '');
  L.push(
    `| database | who sweeps | sweep | deleted | batches (p50 / max ms) | requests during the sweep | p50 ms | p99 ms | max ms | > ${TARGET_MS} ms | non-2xx | without a sweep: before / after it, p99 / max ms (> ${TARGET_MS} ms) | max ≤ ${TARGET_MS} ms? |`,
  );
  L.push('|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|');
  for (const r of results) {
    if (r.error) {
      L.push(`| ${r.db} | ${r.scenario} | **failed**: ${r.error.replace(/\|/g, '\\|').slice(0, 200)} |||||||||||`);
      continue;
    }
    const d = r.requests.during.all;
    const b = r.requests.baseline.all;
    const c = r.requests.control.all;
    L.push(
      `| ${dbLabel(r.db, r.driver)} | ${r.scenario === 'app' ? 'app (`clearExpired()`)' : 'CLI (`clearsessions`)'}${runsOf(r) > 1 ? `, run ${r.run}` : ''} | ${fmt(r.sweep.sweepMs / 1000, 2)} s${r.scenario === 'cli' ? ` (process ${fmt(r.sweep.wallMs / 1000, 2)} s)` : ''} | ` +
        `${fmt(r.sweep.count)} ${r.checks[0].ok ? '✓' : '**✗**'} | ${fmt(r.sweep.batches)} (${ms(r.sweep.batchMs.p50)} / ${ms(r.sweep.batchMs.max)}) | ${fmt(d.n)} | ${ms(d.p50, 2)} | ${ms(d.p99)} | **${ms(d.max)}** | ${fmt(d.over)} | ${fmt(r.requests.during.non2xx)} | ` +
        `${ms(b.p99)} / ${ms(b.max)} (${fmt(b.over)}); ${ms(c.p99)} / ${ms(c.max)} (${fmt(c.over)}) | ${d.max <= TARGET_MS && r.requests.during.non2xx === 0 ? 'yes' : '**no**'} |`,
    );
  }
  L.push('');
  L.push(
    `"sweep": first DELETE batch start to last batch end (for the CLI, also the whole process, start-up included). "Without a sweep": the same load in the ${opt.before} s before the sweep (after 0.5 s), and after it for as long as it took (3–20 s): what the machine does to latency on its own (it is shared: other test suites run on the same 2 vCPUs).`,
    '',
  );
  L.push('## Where a request waits', '');
  L.push(
    'Per scenario: the session statements of the requests (their time includes any wait for the connection or the write lock), the app\'s event-loop stalls (a 5 ms timer more than 10 ms late), the batches, and the five slowest requests of the sweep with what ran meanwhile.',
    '',
  );
  // In detail: the worst run (highest max latency) of each database, driver and sweeper.
  const worst = new Map();
  for (const r of results) {
    if (r.error) continue;
    const key = `${r.db}/${r.driver}/${r.scenario}`;
    if (!worst.has(key) || worst.get(key).requests.during.all.max < r.requests.during.all.max) worst.set(key, r);
  }
  for (const r of worst.values()) {
    const w = r.wait.requestStatements;
    L.push(`### ${dbLabel(r.db, r.driver)}, ${r.scenario === 'app' ? 'the app sweeps' : 'the CLI sweeps'}${runsOf(r) > 1 ? ` (run ${r.run}, the worst of ${runsOf(r)})` : ''}`, '');
    L.push('| | before the sweep | during the sweep | after it (control) |', '|---|---|---|---|');
    L.push(`| request SELECT (session read): n, p50 / p99 / max ms | ${stmt(w.baseline.SELECT)} | ${stmt(w.during.SELECT)} | ${stmt(w.control.SELECT)} |`);
    L.push(`| request UPDATE (session save): n, p50 / p99 / max ms | ${stmt(w.baseline.UPDATE)} | ${stmt(w.during.UPDATE)} | ${stmt(w.control.UPDATE)} |`);
    L.push(`| the app's longest event-loop stall, ms | ${ms(r.wait.loopStallMaxMs.baseline)} | ${ms(r.wait.loopStallMaxMs.during)} | ${ms(r.wait.loopStallMaxMs.control)} |`);
    L.push(`| /read latency p50 / p99 / max ms | ${lat(r.requests.baseline.read)} | ${lat(r.requests.during.read)} | ${lat(r.requests.control.read)} |`);
    L.push(`| /write latency p50 / p99 / max ms | ${lat(r.requests.baseline.write)} | ${lat(r.requests.during.write)} | ${lat(r.requests.control.write)} |`);
    L.push(
      `| sweep batches (DELETE of ≤ 1000 rows) | | ${fmt(r.sweep.batches)} batches, p50 ${ms(r.sweep.batchMs.p50)} / p99 ${ms(r.sweep.batchMs.p99)} / max ${ms(r.sweep.batchMs.max)} ms; ${ms(r.sweep.batchMs.total / 1000, 2)} s of ${ms(r.sweep.sweepMs / 1000, 2)} s in batches; gap between batches p50 ${ms(r.sweep.gapMs.p50, 2)} / max ${ms(r.sweep.gapMs.max)} ms | |`,
    );
    L.push('');
    if (r.slowest.length) {
      L.push('Slowest requests during the sweep:', '');
      L.push('| route | status | latency ms | started (ms into the sweep) | the app\'s longest statement meanwhile | batches meanwhile (longest ms) |', '|---|---:|---:|---:|---|---|');
      for (const s of r.slowest) {
        L.push(`| /${s.route} | ${s.status} | ${ms(s.latencyMs)} | ${ms(s.atMs, 0)} | ${s.ownStatement ? `${s.ownStatement.kind} ${ms(s.ownStatement.ms)} ms` : '–'} | ${s.batchesOverlapping} (${ms(s.longestOverlappingBatchMs)}) |`);
      }
      L.push('');
    }
    if (r.pgWaits) {
      L.push(
        `What PostgreSQL's active sessions were doing during the sweep (pg_stat_activity sampled every 10 ms, ${fmt(r.pgWaits.samples)} samples; share of the samples in which a statement of that kind was active, by wait event; "running" = no wait event):`,
        '',
      );
      L.push('| statement | samples active | running or waiting on |', '|---|---:|---|');
      for (const [kind, waits] of Object.entries(r.pgWaits.tally).sort((a, b) => sumOf(b[1]) - sumOf(a[1]))) {
        const total = sumOf(waits);
        const parts = Object.entries(waits)
          .sort((a, b) => b[1] - a[1])
          .map(([w, n]) => `${w} ${((n / total) * 100).toFixed(0)}%`)
          .join(', ');
        L.push(`| ${kind} | ${fmt(total)} | ${parts} |`);
      }
      L.push('');
    }
    L.push(`Checks: ${r.checks.map((c) => `${c.ok ? '✓' : '**✗**'} ${c.name} (${c.measured})`).join('; ')}.`, '');
  }
  if (meta.analysis) L.push(meta.analysis, '');
  L.push('## Reproduce', '', '```sh', 'npm run bench:sweep                                   # sqlite (and PostgreSQL when TEST_POSTGRES_URL is set)', 'TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:sweep', 'node bench/sweep.js --help                            # options (after npm run build)', '```', '');
  return L.join('\n');
}
const sumOf = (o) => Object.values(o).reduce((a, b) => a + b, 0);
const runsOf = (r) => (r.db === 'sqlite' ? REPEAT : REPEAT_PG);
const stmt = (x) => (x.n ? `${fmt(x.n)}, ${ms(x.p50, 2)} / ${ms(x.p99)} / ${ms(x.max)}` : '–');
const lat = (x) => (x.n ? `${ms(x.p50, 2)} / ${ms(x.p99)} / ${ms(x.max)}` : '–');
const dbLabel = (db, driver) => (db === 'sqlite' ? `sqlite (${driver === 'better-sqlite3' ? 'better-sqlite3' : 'node-sqlite3'})` : 'PostgreSQL');

// ---- main ------------------------------------------------------------------------------------------

/** --report: sweep.md again from sweep.json, with the current bench/sweep-analysis.md. */
function reportOnly() {
  const file = path.join(OUT, 'sweep.json');
  if (!existsSync(file)) die(`--report: ${file} does not exist`);
  const json = JSON.parse(readFileSync(file, 'utf8'));
  const same = { rows: ROWS, live: LIVE, connections: CONNECTIONS, targetMs: TARGET_MS, repeat: REPEAT, repeatPg: REPEAT_PG };
  for (const [k, v] of Object.entries(same)) if (json[k] !== undefined && json[k] !== v) die(`--report: ${file} was made with ${k} = ${json[k]}; pass the same options`);
  const meta = { ...json.meta, analysis: existsSync(path.join(BENCH, 'sweep-analysis.md')) ? readFileSync(path.join(BENCH, 'sweep-analysis.md'), 'utf8').trim() : '' };
  writeFileSync(path.join(OUT, 'sweep.md'), markdown(json.results, meta));
  log(`bench:sweep: ${path.relative(process.cwd(), path.join(OUT, 'sweep.md'))} written again from ${path.relative(process.cwd(), file)}`);
}

async function main() {
  if (opt.report) return reportOnly();
  const started = Date.now();
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'index.js'))) die('dist/src/index.js is missing: run `npm run build` first (npm run bench:sweep does).');
  mkdirSync(TMP, { recursive: true });
  const pinning = setUpPinning();
  log(`bench:sweep: ${pinning.note}`);
  const pgUrl = process.env.TEST_POSTGRES_URL;
  const dbs = opt.db ? opt.db.split(',').map((x) => x.trim()) : ['sqlite', ...(pgUrl ? ['postgres'] : [])];
  if (!pgUrl && !opt.db) log('bench:sweep: TEST_POSTGRES_URL is unset, PostgreSQL left out');
  const results = [];
  const versions = {};
  for (const db of dbs) {
    let dbCtx;
    if (db === 'sqlite') {
      const template = path.join(TMP, 'template.sqlite3');
      const fillMs = await fillSqlite(template);
      log(`[sqlite] filled ${fmt(ROWS)} expired + ${fmt(LIVE)} live rows in ${fmt(fillMs / 1000, 1)} s (better-sqlite3, one transaction, one prepared INSERT)`);
      dbCtx = { db, template, fillMs };
    } else if (db === 'postgres') {
      if (!pgUrl) die('--db postgres needs TEST_POSTGRES_URL');
      const pg = await preparePostgres(pgUrl);
      versions.postgres = pg.version;
      dbCtx = { db, url: pg.url, dbName: pg.name };
    } else die(`unknown database ${db}`);
    const runs = [];
    for (const driver of db === 'sqlite' ? DRIVERS : [null]) {
      for (const scenario of SCENARIOS) for (let run = 1; run <= (db === 'sqlite' ? REPEAT : REPEAT_PG); run++) runs.push({ driver, scenario, run });
    }
    for (const { driver, scenario, run } of runs) {
      try {
        const r = await runScenario({ ...dbCtx, driver, run }, scenario, pinning);
        if (dbCtx.fillMs) r.fillMs = dbCtx.fillMs;
        results.push(r);
        const d = r.requests.during.all;
        log(
          `  sweep ${fmt(r.sweep.sweepMs / 1000, 2)} s, ${fmt(r.sweep.count)} deleted in ${r.sweep.batches} batches (p50 ${ms(r.sweep.batchMs.p50)} ms, max ${ms(r.sweep.batchMs.max)} ms); ` +
            `${fmt(d.n)} requests during it: p50 ${ms(d.p50, 2)} ms, p99 ${ms(d.p99)} ms, max ${ms(d.max)} ms, ${d.over} over ${TARGET_MS} ms, ${r.requests.during.non2xx} non-2xx ` +
            `(without a sweep: before p99 ${ms(r.requests.baseline.all.p99)} / max ${ms(r.requests.baseline.all.max)} ms, after p99 ${ms(r.requests.control.all.p99)} / max ${ms(r.requests.control.all.max)} ms)`,
        );
        for (const c of r.checks) log(`  [${c.ok ? '  ok' : 'FAIL'}] ${c.name}: ${c.measured}`);
      } catch (error) {
        console.error(`bench:sweep: ${db}/${driver ?? ''}/${scenario} failed: ${error.stack ?? error}`);
        results.push({ db, driver, scenario, run, error: error.message, checks: [{ name: 'the sweep ran', ok: false, measured: error.message }] });
      }
    }
    if (db === 'sqlite') for (const suffix of ['', '-wal', '-shm']) rmSync(path.join(TMP, 'template.sqlite3') + suffix, { force: true });
  }
  for (const suffix of ['', '-wal', '-shm']) rmSync(path.join(TMP, 'sweep.sqlite3') + suffix, { force: true });
  const seconds = Math.round((Date.now() - started) / 1000);
  const { spawnSync } = await import('node:child_process');
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src', 'migrations'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim();
  const meta = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    commit: head ? `${head}${dirty ? ' + uncommitted changes in src/' : ''}` : 'unknown',
    cpu: `${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'} (${os.cpus().length} CPUs)`,
    pinning,
    runtime: `${Math.floor(seconds / 60)} min ${seconds % 60} s`,
    driverNote: `driver${DRIVERS.length > 1 ? 's' : ''} ${DRIVERS.map((d) => `\`${d}\``).join(' and ')} on sqlite (WAL, synchronous=NORMAL, busy timeout 5 s, the CLI's connection too)${versions.postgres ? `, \`pg\` (pool of 10) on PostgreSQL ${versions.postgres}` : ''}`,
    lib: LIB ? path.relative(ROOT, LIB) : null,
    analysis: existsSync(path.join(BENCH, 'sweep-analysis.md')) ? readFileSync(path.join(BENCH, 'sweep-analysis.md'), 'utf8').trim() : '',
  };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, 'sweep.md'), markdown(results, meta));
  writeFileSync(path.join(OUT, 'sweep.json'), JSON.stringify({ meta, rows: ROWS, live: LIVE, connections: CONNECTIONS, targetMs: TARGET_MS, repeat: REPEAT, repeatPg: REPEAT_PG, results }, null, 1) + '\n');
  log(`\nbench:sweep: report ${path.relative(process.cwd(), path.join(OUT, 'sweep.md'))}; whole run ${meta.runtime}`);
  const failed = results.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => `${r.db}${r.driver ? `/${r.driver}` : ''}/${r.scenario}#${r.run}: ${c.name}: ${c.measured}`));
  const missed = results.filter((r) => !r.error && (r.requests.during.all.max > TARGET_MS || r.requests.during.non2xx > 0));
  if (missed.length) log(`bench:sweep: latency target (max ≤ ${TARGET_MS} ms, all 2xx) missed by ${missed.map((r) => `${r.db}${r.driver ? `/${r.driver}` : ''}/${r.scenario}#${r.run}`).join(', ')} (reported, not enforced)`);
  if (failed.length) {
    console.error(`\nbench:sweep: FAILED\n  ${failed.join('\n  ')}`);
    process.exit(1);
  }
}

main().then(
  // autocannon's stopped instances can hold the event loop open for a while: done is done.
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
