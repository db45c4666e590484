#!/usr/bin/env node
// `npm run bench`: bare Nest vs Nest + express-session + connect-typeorm vs Nest + this module,
// on the same sqlite file setup (and on PostgreSQL when TEST_POSTGRES_URL is set).
// See the README, "Performance". Flags: node bench/run.js --help
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { barChart } from './lib/chart.js';
import { client, readCounter } from './lib/http.js';
import { summarise } from './lib/profile.js';
import { fmt, fmtRatio, max, median, min } from './lib/stats.js';

const BENCH = import.meta.dirname;
const ROOT = path.resolve(BENCH, '..');

// ---- options -----------------------------------------------------------------------------------

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '10' },
    db: { type: 'string' },
    servers: { type: 'string', default: 'bare,express-session,ours' },
    routes: { type: 'string' },
    variant: { type: 'string', multiple: true },
    sync: { type: 'string', default: 'NORMAL' },
    driver: { type: 'string', default: 'sqlite' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (opt.help) {
  console.log(`node bench/run.js [options]   (npm run bench -- [options])
  --quick            2 short rounds (smoke run, ~1 min per database); report goes to bench/.tmp/results-quick
  --rounds N         rounds; each starts every server once, in turn (default 5)
  --duration S       seconds per route and round (default 2)
  --warmup S         warm-up seconds per route after each server start (default 1)
  --connections N    autocannon connections = concurrent clients with distinct sessions (default 10)
  --db LIST          sqlite,postgres (default: sqlite, plus postgres when TEST_POSTGRES_URL is set)
  --servers LIST     bare,express-session,ours (default all three)
  --routes LIST      none,none-cookie,read,write (default all four; targets need all four)
  --variant N:ENV    adds our module once more with extra environment, e.g. for an A/B experiment
                     with a patched build: --variant 'patched:BENCH_LIB=/abs/path/dist/src/index.js'
  --sync LEVEL       PRAGMA synchronous on sqlite: NORMAL (default) | FULL | OFF, for experiments
  --driver NAME      TypeORM sqlite driver: sqlite (default, node-sqlite3) | better-sqlite3
  --profile          run each server under node --cpu-prof; per-route summary in the results
  --out DIR          where to write the report (default bench/results)`);
  process.exit(0);
}

const QUICK = opt.quick;
const CONFIG = {
  connections: Number(opt.connections),
  warmup: Number(opt.warmup ?? (QUICK ? 0.5 : 1)),
  rounds: Number(opt.rounds ?? (QUICK ? 2 : 5)),
  duration: Number(opt.duration ?? (QUICK ? 1 : 2)),
  /** Sequential requests per route for the SQL statement count. */
  countRequests: QUICK ? 20 : 50,
  /** /write requests per client in the strict lost-update check. */
  lostUpdateWrites: QUICK ? 20 : 100,
  sync: opt.sync.toUpperCase(),
  driver: opt.driver,
};
const LABEL = { bare: 'bare Nest', 'express-session': 'express-session + connect-typeorm', ours: 'nestjs-django-session' };
if (!['OFF', 'NORMAL', 'FULL', 'EXTRA'].includes(CONFIG.sync)) die(`--sync takes OFF, NORMAL, FULL or EXTRA, got ${opt.sync}`);
if (!['sqlite', 'better-sqlite3'].includes(CONFIG.driver)) die(`--driver takes sqlite or better-sqlite3, got ${opt.driver}`);
for (const n of ['connections', 'warmup', 'rounds', 'duration']) {
  if (!(CONFIG[n] > 0)) die(`--${n} must be a positive number`);
}
/** What runs: { id, kind (the app in server.js), label, env (extra environment) }. */
const SPECS = opt.servers.split(',').map((s) => s.trim()).map((kind) => {
  if (!LABEL[kind]) die(`unknown server ${kind} (known: ${Object.keys(LABEL).join(', ')})`);
  return { id: kind, kind, label: LABEL[kind], env: {} };
});
// --variant 'name:VAR=value;VAR2=value': one more build/config of our module, for A/B experiments.
for (const v of opt.variant ?? []) {
  const m = /^([\w-]+):(.*)$/.exec(v);
  if (!m) die(`--variant takes name:VAR=value;VAR2=value, got ${v}`);
  const env = Object.fromEntries(m[2].split(';').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  SPECS.push({ id: `ours:${m[1]}`, kind: 'ours', label: `nestjs-django-session (${m[1]})`, env });
}
const OUT = path.resolve(opt.out ?? (QUICK ? path.join(BENCH, '.tmp', 'results-quick') : path.join(BENCH, 'results')));
const TMP = path.join(BENCH, '.tmp');

const ALL_ROUTES = [
  { id: 'none', label: '/none', method: 'GET', path: '/none', cookie: false },
  { id: 'none-cookie', label: '/none + cookie', method: 'GET', path: '/none', cookie: true },
  { id: 'read', label: '/read', method: 'GET', path: '/read', cookie: true },
  { id: 'write', label: '/write', method: 'POST', path: '/write', cookie: true },
];
const ROUTES = opt.routes ? ALL_ROUTES.filter((r) => opt.routes.split(',').includes(r.id)) : ALL_ROUTES;
for (const id of opt.routes?.split(',') ?? []) {
  if (!ALL_ROUTES.some((r) => r.id === id)) die(`unknown route ${id} (known: ${ALL_ROUTES.map((r) => r.id).join(', ')})`);
}

function die(message) {
  console.error(`bench: ${message}`);
  process.exit(1);
}

const log = (...args) => console.log(...args);
/** A timer that does not keep the process alive. */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());

// ---- pinning -----------------------------------------------------------------------------------

/** The CPUs this process may run on (`taskset -c -p`), e.g. [0, 1]; null when unknown. */
function allowedCpus() {
  const out = spawnSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' });
  if (out.status !== 0) return null;
  const list = /:\s*([\d,\s-]+)\s*$/.exec(out.stdout)?.[1];
  if (!list) return null;
  const cpus = [];
  for (const part of list.split(',')) {
    const [a, b = a] = part.trim().split('-').map(Number);
    for (let c = a; c <= b; c++) cpus.push(c);
  }
  return cpus;
}

/** Server on the first allowed CPU, load generator (this process: autocannon runs in it) on the second. */
function setUpPinning() {
  const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!hasTaskset) return { pinned: false, note: 'taskset (util-linux) not found: server and load generator are not pinned' };
  const cpus = allowedCpus() ?? [];
  if (cpus.length < 2) return { pinned: false, note: `only ${cpus.length || 'one'} CPU available: server and load generator share it (not pinned)` };
  const [server, loader] = cpus;
  const self = spawnSync('taskset', ['-a', '-p', '-c', String(loader), String(process.pid)], { encoding: 'utf8' });
  if (self.status !== 0) return { pinned: false, note: `taskset failed (${self.stderr.trim()}): not pinned` };
  return {
    pinned: true,
    serverCpu: server,
    note: `server pinned to CPU ${server}, load generator (autocannon) to CPU ${loader} with taskset, of ${cpus.length} CPUs`,
  };
}

// ---- databases ---------------------------------------------------------------------------------

async function preparePostgres(url) {
  const { default: pg } = await import('pg');
  const base = new URL(url);
  const name = process.env.BENCH_POSTGRES_DB ?? 'djs_bench';
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) die(`BENCH_POSTGRES_DB must be a plain identifier, got ${name}`);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await admin.query(`CREATE DATABASE ${name}`);
    const version = (await admin.query('SHOW server_version')).rows[0].server_version;
    const benchUrl = new URL(base);
    benchUrl.pathname = `/${name}`;
    return { url: benchUrl.toString(), name, version };
  } finally {
    await admin.end();
  }
}

async function resetPostgres(url) {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('DROP TABLE IF EXISTS django_session, session, migrations, typeorm_metadata CASCADE');
  } finally {
    await c.end();
  }
}

function sqlitePath(kind) {
  const file = path.join(TMP, `bench-${kind}.sqlite3`);
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
  return file;
}

// ---- a server ----------------------------------------------------------------------------------

async function startServer(spec, dbCtx, pinning, profileDir) {
  const kind = spec.id;
  const env = { ...process.env, BENCH_DB: dbCtx.db, BENCH_SYNC: CONFIG.sync, BENCH_DRIVER: CONFIG.driver, ...spec.env, BENCH_KIND: spec.kind };
  if (dbCtx.db === 'sqlite') env.BENCH_SQLITE = sqlitePath(kind.replace(/\W/g, '_'));
  else {
    env.BENCH_PG_URL = dbCtx.url;
    await resetPostgres(dbCtx.url);
  }
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const argv = [...nodeArgs, path.join(BENCH, 'server.js')];
  const [cmd, args] = pinning.pinned ? ['taskset', ['-c', String(pinning.serverCpu), process.execPath, ...argv]] : [process.execPath, argv];
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let nextId = 0;
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exited = { code, signal }))));
  child.on('message', (m) => {
    if (m?.type === 'stats') {
      pending.get(m.id)?.(m);
      pending.delete(m.id);
    }
  });
  const ready = await Promise.race([
    new Promise((resolve) => child.on('message', (m) => m?.type === 'ready' && resolve(m))),
    exitPromise.then((e) => ({ failed: `exited with ${e.signal ?? e.code} before listening` })),
    sleep(60_000).then(() => ({ failed: 'did not listen within 60 s' })),
  ]);
  if (ready.failed) {
    if (!exited) child.kill('SIGKILL');
    throw new Error(`server "${kind}" on ${dbCtx.db} ${ready.failed}`);
  }
  return {
    port: ready.port,
    settings: ready.settings,
    pid: child.pid,
    stats(texts = false) {
      if (exited) return Promise.reject(new Error(`server "${kind}" exited (${exited.signal ?? exited.code})`));
      const id = ++nextId;
      return new Promise((resolve, reject) => {
        pending.set(id, resolve);
        child.send({ type: 'stats', id, texts });
        setTimeout(() => pending.has(id) && (pending.delete(id), reject(new Error(`server "${kind}" did not answer stats`))), 10_000).unref();
      });
    },
    async stop() {
      if (exited) return exited;
      child.send({ type: 'exit' });
      const done = await Promise.race([exitPromise, sleep(15_000).then(() => null)]);
      if (done === null) {
        child.kill('SIGKILL'); // our own child, by its handle
        return exitPromise;
      }
      return done;
    },
    get exited() {
      return exited;
    },
  };
}

// ---- load --------------------------------------------------------------------------------------

/** One autocannon run; each connection keeps its own session cookie. */
function load(port, route, seconds, cookies) {
  const okByCookie = new Map();
  // autocannon's own histogram keeps whole milliseconds; the response times it reports are µs-precise.
  const latencies = [];
  let index = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}${route.path}`,
        method: route.method,
        connections: CONFIG.connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10,
        setupClient(c) {
          const cookie = route.cookie ? cookies[index++ % cookies.length] : undefined;
          c.benchCookie = cookie;
          if (cookie) c.setHeaders({ cookie });
        },
      },
      (error, result) => (error ? reject(error) : resolve({ result, okByCookie, latencies: percentiles(latencies) })),
    );
    instance.on('response', (c, status, _bytes, responseTime) => {
      latencies.push(responseTime);
      if (status >= 200 && status < 300 && c.benchCookie) okByCookie.set(c.benchCookie, (okByCookie.get(c.benchCookie) ?? 0) + 1);
    });
  });
}

function percentiles(values) {
  const v = Float64Array.from(values).sort();
  const at = (q) => (v.length === 0 ? NaN : v[Math.min(v.length - 1, Math.floor(q * v.length))]);
  return { p50: at(0.5), p99: at(0.99) };
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

/** Creates one session per connection with a /write, returns their cookies. */
async function createSessions(kind, port) {
  const cookies = [];
  const c = client(port);
  try {
    for (let i = 0; i < CONFIG.connections; i++) {
      const res = await c.request('POST', '/write');
      if (res.status !== 200) throw new Error(`POST /write answered ${res.status}: ${res.body}`);
      if (res.setCookie) cookies.push(res.setCookie);
      else if (kind === 'bare') cookies.push(`sessionid=${randomBytes(16).toString('hex')}`); // same size as a real one
      else throw new Error('POST /write set no cookie');
    }
  } finally {
    c.close();
  }
  return cookies;
}

/** SQL statements per request, per route: N sequential requests, the server's counter before and after. */
async function countStatements(server, port, cookies) {
  const out = {};
  const c = client(port);
  try {
    for (const route of ROUTES) {
      const before = await server.stats(true);
      const n = CONFIG.countRequests;
      for (let i = 0; i < n; i++) {
        const res = await c.request(route.method, route.path, route.cookie ? cookies[i % cookies.length] : undefined);
        if (res.status !== 200) throw new Error(`${route.method} ${route.path} answered ${res.status}: ${res.body}`);
      }
      const after = await server.stats(true);
      const q = (k) => (after.queries[k] - before.queries[k]) / n;
      const beforeTexts = new Map(before.texts);
      const statements = after.texts
        .map(([sql, count]) => [sql, (count - (beforeTexts.get(sql) ?? 0)) / n])
        .filter(([, perRequest]) => perRequest > 0);
      out[route.id] = { select: q('select'), write: q('write'), other: q('other'), errors: q('errors'), statements };
    }
  } finally {
    c.close();
  }
  return out;
}

/**
 * The strict lost-update check: each of the clients sends exactly K /write requests on its own
 * session, all at once; afterwards every session's counter must have grown by its number of 200s.
 */
async function lostUpdateCheck(port, cookies) {
  const before = await readCounters(port, cookies);
  const ok = await Promise.all(
    cookies.map(async (cookie) => {
      const c = client(port);
      let n = 0;
      try {
        for (let i = 0; i < CONFIG.lostUpdateWrites; i++) {
          const res = await c.request('POST', '/write', cookie);
          if (res.status === 200) n++;
        }
      } finally {
        c.close();
      }
      return n;
    }),
  );
  const after = await readCounters(port, cookies);
  const clients = cookies.map((_, i) => ({ ok: ok[i], grew: after[i] - before[i] }));
  return {
    writesPerClient: CONFIG.lostUpdateWrites,
    clients,
    passed: clients.every((x) => x.grew === x.ok && x.ok === CONFIG.lostUpdateWrites),
  };
}

/** One measured round of every route on a running server. */
async function measureRound(spec, server, cookies, round, result) {
  const { port } = server;
  for (const route of ROUTES) {
    const countersBefore = route.id === 'write' && spec.kind !== 'bare' ? await readCounters(port, cookies) : null;
    const s0 = await server.stats();
    const t0 = process.hrtime.bigint();
    const loader0 = process.cpuUsage();
    const { result: r, okByCookie, latencies } = await load(port, route, CONFIG.duration, cookies);
    const t1 = process.hrtime.bigint();
    const loader1 = process.cpuUsage(loader0);
    const s1 = await server.stats();
    const requests = r.requests.total;
    const wallUs = Number(t1 - t0) / 1000;
    const sample = {
      round,
      rps: requests / r.duration,
      p50: latencies.p50,
      p99: latencies.p99,
      cpuUsPerReq: (s1.cpu - s0.cpu) / Math.max(1, requests),
      // Of the CPU/request: the part spent off the main thread (libuv pool: node-sqlite3, zlib; V8 helpers).
      otherThreadsUsPerReq: s0.threads && s1.threads ? (s1.threads.others - s0.threads.others) / Math.max(1, requests) : NaN,
      // Share of one core the server used (all its threads), and the load generator's.
      serverBusy: (s1.cpu - s0.cpu) / wallUs,
      loaderBusy: (loader1.user + loader1.system) / wallUs,
      sqlPerReq: (s1.queries.select + s1.queries.write + s1.queries.other - (s0.queries.select + s0.queries.write + s0.queries.other)) / Math.max(1, requests),
      requests,
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
    };
    result.rounds[route.id].push(sample);
    result.windows[route.id].push([Number(t0 / 1000n), Number(t1 / 1000n)]);
    if (countersBefore) {
      const countersAfter = await readCounters(port, cookies);
      const perClient = cookies.map((cookie, i) => ({ ok: okByCookie.get(cookie) ?? 0, grew: countersAfter[i] - countersBefore[i] }));
      // A response still in flight when autocannon stops is done by the server but not counted: +1 at most.
      const lost = perClient.some((x) => x.grew < x.ok);
      const phantom = perClient.some((x) => x.grew > x.ok + 1);
      result.roundChecks.push({ round, perClient, passed: !lost && !phantom });
    }
    log(
      `  ${route.label.padEnd(15)} ${fmt(sample.rps).padStart(7)} req/s  p50 ${fmt(sample.p50, 2)} ms  p99 ${fmt(sample.p99, 2)} ms  ` +
        `${fmt(sample.cpuUsPerReq)} µs CPU/req (${fmt(sample.otherThreadsUsPerReq)} off main thread)  ` +
        `server ${fmt(sample.serverBusy * 100)}%, loader ${fmt(sample.loaderBusy * 100)}% of a core` +
        (sample.non2xx || sample.errors ? `  non-2xx ${sample.non2xx} errors ${sample.errors}` : ''),
    );
  }
}

/**
 * One start of one server: fresh database, one session per connection, (first start only) the SQL
 * count and the strict lost-update check, warm-up, one measured round of every route, stop.
 */
async function runServerOnce(spec, dbCtx, pinning, round, result) {
  const profileDir = opt.profile ? path.join(TMP, 'profiles', `${dbCtx.db}-${spec.id.replace(/\W/g, '_')}-r${round}-${Date.now()}`) : null;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  log(`[${dbCtx.db}] round ${round}/${CONFIG.rounds}: ${spec.label}`);
  const server = await startServer(spec, dbCtx, pinning, profileDir);
  result.settings = server.settings;
  const windowsBefore = Object.fromEntries(ROUTES.map((r) => [r.id, result.windows[r.id].length]));
  try {
    const { port } = server;
    const cookies = await createSessions(spec.kind, port);
    if (result.sql === null) {
      result.sql = await countStatements(server, port, cookies);
      log(
        `  SQL/request: ${ROUTES.map((r) => `${r.label} ${result.sql[r.id].select}S+${result.sql[r.id].write}W+${result.sql[r.id].other}O`).join(', ')}`,
      );
      if (spec.kind !== 'bare') {
        result.lostUpdate = await lostUpdateCheck(port, cookies);
        log(`  lost-update check (${cookies.length} clients × ${CONFIG.lostUpdateWrites} writes): ${result.lostUpdate.passed ? 'ok' : 'FAILED'}`);
      }
    }
    for (const route of ROUTES) await load(port, route, CONFIG.warmup, cookies);
    await measureRound(spec, server, cookies, round, result);
  } finally {
    const exit = await server.stop();
    if (exit && exit.code !== 0 && exit.code !== null) log(`  server exited with ${exit.code}`);
    if (dbCtx.db === 'sqlite') sqlitePath(spec.id.replace(/\W/g, '_')); // removes the file
  }
  if (profileDir) {
    const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length > 0) {
      const file = path.join(profileDir, files[0]);
      const profile = JSON.parse(readFileSync(file, 'utf8'));
      result.profileFiles.push(path.relative(ROOT, file));
      for (const route of ROUTES) {
        const windows = result.windows[route.id].slice(windowsBefore[route.id]);
        result.profileParts[route.id].push(...windows.map(([a, b]) => summarise(profile, a, b)));
      }
    }
  }
}

/**
 * All servers on one database, round-robin: every round starts each server in turn (one at a
 * time), so the servers compared in a round ran within a minute of each other.
 */
async function benchDatabase(dbCtx, pinning, failures) {
  const results = {};
  for (const spec of SPECS) {
    results[spec.id] = {
      spec,
      settings: null,
      sql: null,
      lostUpdate: null,
      roundChecks: [],
      rounds: Object.fromEntries(ROUTES.map((r) => [r.id, []])),
      windows: Object.fromEntries(ROUTES.map((r) => [r.id, []])),
      profileParts: Object.fromEntries(ROUTES.map((r) => [r.id, []])),
      profileFiles: [],
      failed: null,
    };
  }
  for (let round = 1; round <= CONFIG.rounds; round++) {
    // Rotate the order so no server always runs first (or right after another).
    const order = SPECS.map((_, i) => SPECS[(i + round - 1) % SPECS.length]);
    for (const spec of order) {
      const result = results[spec.id];
      if (result.failed) continue;
      try {
        await runServerOnce(spec, dbCtx, pinning, round, result);
      } catch (error) {
        result.failed = error.message;
        failures.push(`${dbCtx.db}/${spec.id}: ${error.message}`);
        console.error(`bench: ${dbCtx.db}/${spec.id} failed: ${error.stack ?? error}`);
      }
    }
  }
  for (const result of Object.values(results)) {
    if (result.profileFiles.length > 0) {
      result.profile = Object.fromEntries(
        ROUTES.map((route) => [route.id, mergeSummaries(result.profileParts[route.id], result.rounds[route.id].reduce((s, x) => s + x.requests, 0))]),
      );
    }
    delete result.profileParts;
  }
  return Object.fromEntries(Object.entries(results).filter(([, r]) => !r.failed));
}

function mergeSummaries(parts, requests) {
  const add = (key) => {
    const m = new Map();
    for (const p of parts) for (const [k, v] of p[key]) m.set(k, (m.get(k) ?? 0) + v);
    return [...m].sort((a, b) => b[1] - a[1]);
  };
  return {
    totalUs: parts.reduce((s, p) => s + p.totalUs, 0),
    requests,
    byCategory: add('byCategory'),
    byFunction: add('byFunction'),
    inclusive: add('inclusive'),
  };
}

// ---- evaluation --------------------------------------------------------------------------------

function summarize(serverResult) {
  const out = {};
  for (const route of ROUTES) {
    const rounds = serverResult.rounds[route.id] ?? [];
    const rps = rounds.map((r) => r.rps);
    out[route.id] = {
      rps: median(rps),
      rpsMin: min(rps),
      rpsMax: max(rps),
      p50: median(rounds.map((r) => r.p50)),
      p99: median(rounds.map((r) => r.p99)),
      cpu: median(rounds.map((r) => r.cpuUsPerReq)),
      cpuOtherThreads: median(rounds.map((r) => r.otherThreadsUsPerReq)),
      serverBusy: median(rounds.map((r) => r.serverBusy)),
      loaderBusy: median(rounds.map((r) => r.loaderBusy)),
      non2xx: rounds.reduce((s, r) => s + r.non2xx, 0),
      errors: rounds.reduce((s, r) => s + r.errors + r.timeouts, 0),
    };
  }
  return out;
}

/**
 * `a` relative to `b` on a route, pair by pair: the median over rounds of a's req/s ÷ b's req/s
 * in the same round, and of b's CPU/request ÷ a's (both > 1 when `a` is faster).
 */
function pairRatio(d, a, b, route) {
  const ra = d.servers[a]?.rounds[route] ?? [];
  const rb = d.servers[b]?.rounds[route] ?? [];
  const rps = [];
  const cpu = [];
  for (const x of ra) {
    const y = rb.find((r) => r.round === x.round);
    if (!y) continue;
    rps.push(x.rps / y.rps);
    cpu.push(y.cpuUsPerReq / x.cpuUsPerReq);
  }
  return { rps: median(rps), cpu: median(cpu) };
}

/** The ratio shown on a row: ours vs that server; for a variant of ours, the variant vs ours. */
function ratioRow(d, id, route) {
  if (id === 'ours' || !d.servers.ours) return null;
  return d.servers[id].spec.kind === 'ours' ? pairRatio(d, id, 'ours', route) : pairRatio(d, 'ours', id, route);
}

/**
 * Why a throughput target is missed, in CPU time per request (the server is CPU-bound on its one
 * core): what ours may spend to reach `goal` × `other`, what the bare app alone spends on the same
 * route, and what ours spends.
 */
function cpuBudget(d, route, other, goal) {
  const cpu = (id) => d.summary[id]?.[route]?.cpu;
  const budget = cpu(other) / goal;
  const bare = cpu('bare');
  const ours = cpu('ours');
  if (![budget, bare, ours].every(Number.isFinite)) return '';
  const reach =
    budget <= bare
      ? `unreachable here: less than the bare app alone spends (${fmt(bare)} µs)`
      : `the bare app alone spends ${fmt(bare)} µs, leaving ${fmt(budget - bare)} µs for the session`;
  return `. Why: at ${goal}× ${other} ours may spend ${fmt(budget)} µs CPU per request; ${reach}; ours spends ${fmt(ours)} µs (${fmt(ours - bare)} µs over the bare app)`;
}

/** The issue's targets. `gate`: a correctness check (exit code); the others are reported only. */
function evaluateTargets(d) {
  const ours = d.servers.ours;
  if (!ours || ROUTES !== ALL_ROUTES) return [];
  const sql = ours.sql;
  const stmts = (r) => `${sql[r].select} SELECT + ${sql[r].write} write + ${sql[r].other} other`;
  const t = [];
  const timing = (name, route, other, goal) => {
    if (!d.servers[other]) return { name, measured: `– (${other} not run)`, met: null, gate: false, miss: '' };
    const { rps, cpu } = pairRatio(d, 'ours', other, route);
    // What ours would reach if its sessions cost nothing: the bare app vs the same competitor.
    const ceiling = other !== 'bare' && d.servers.bare ? pairRatio(d, 'bare', other, route).rps : NaN;
    return {
      name,
      measured:
        `${fmtRatio(rps)} req/s (CPU/request: ${fmtRatio(cpu)})` +
        (Number.isFinite(ceiling) ? `; ceiling, the bare app ÷ ${other}: ${fmtRatio(ceiling)}` : ''),
      met: Number.isFinite(rps) ? rps >= goal : null,
      gate: false,
      miss: Number.isFinite(rps) && rps < goal ? `missed by ${(((goal - rps) / goal) * 100).toFixed(0)}%${cpuBudget(d, route, other, goal)}` : '',
    };
  };
  const sqlCheck = (name, route, ok) => ({ name, measured: stmts(route), met: ok, gate: true, miss: '' });
  const none = (r) => sql[r].select + sql[r].write + sql[r].other === 0;
  t.push(timing('/none ≥ 0.95 × bare', 'none', 'bare', 0.95));
  t.push(timing('/none + cookie ≥ 0.95 × bare', 'none-cookie', 'bare', 0.95));
  t.push(sqlCheck('/none: 0 SQL statements', 'none', none('none')));
  t.push(sqlCheck('/none + cookie: 0 SQL statements', 'none-cookie', none('none-cookie')));
  t.push(sqlCheck('/read: 1 SELECT, 0 writes', 'read', sql.read.select === 1 && sql.read.write === 0 && sql.read.other === 0));
  t.push(timing('/read ≥ 5 × express-session', 'read', 'express-session', 5));
  t.push(sqlCheck('/write: ≤ 1 SELECT + 1 write', 'write', sql.write.select <= 1 && sql.write.write <= 1 && sql.write.other === 0));
  t.push(timing('/write ≥ 3 × express-session', 'write', 'express-session', 3));
  const lu = ours.lostUpdate;
  t.push({
    name: `no lost update, ${lu.clients.length} concurrent clients with distinct sessions`,
    measured:
      `${lu.clients.length} clients × ${lu.writesPerClient} writes: every counter grew by ${[...new Set(lu.clients.map((c) => c.grew))].join('/')}; ` +
      `timed /write rounds: ${ours.roundChecks.filter((r) => r.passed).length}/${ours.roundChecks.length} consistent`,
    met: lu.passed && ours.roundChecks.every((r) => r.passed),
    gate: true,
    miss: '',
  });
  const failedRequests = ROUTES.reduce((n, r) => n + d.summary.ours[r.id].non2xx + d.summary.ours[r.id].errors, 0);
  t.push({ name: 'every request answered 2xx under load', measured: `${failedRequests} non-2xx/errors`, met: failedRequests === 0, gate: true, miss: '' });
  return t;
}

// ---- report ------------------------------------------------------------------------------------

function gitDescribe() {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src', 'migrations'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim();
  return head ? `${head}${dirty ? ' + uncommitted changes in src/' : ''}` : 'unknown';
}

function dbDescription(d) {
  if (d.db === 'sqlite') {
    const st = Object.values(d.servers)[0]?.settings ?? {};
    const syncNames = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];
    return (
      `sqlite file on local disk (TypeORM driver \`${CONFIG.driver}\`), a fresh file per server start, same settings for all: ` +
      `journal_mode=${st.journal_mode}, synchronous=${syncNames[st.synchronous] ?? st.synchronous}, busy_timeout=${st.busy_timeout} ms`
    );
  }
  return `PostgreSQL ${d.version} on the same machine (database \`${d.dbName}\`, TypeORM \`pg\` pool of 10; the PostgreSQL server itself is not pinned)`;
}

/** A per-request count: whole numbers as such, else two decimals. */
const num = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(2));

const sqlCell = (q) => {
  if (!q) return '–';
  const total = q.select + q.write + q.other;
  return total === 0 ? '0' : `${num(total)} (${num(q.select)} S + ${num(q.write)} W${q.other ? ` + ${num(q.other)} O` : ''})`;
};

function markdown(dbResults, meta) {
  const L = [];
  L.push(`# Session benchmark: bare Nest vs express-session vs nestjs-django-session`, '');
  L.push(`Run ${meta.date} · commit ${meta.commit} · Node ${process.version} · ${meta.cpu} · ${meta.pinning.note}.`, '');
  L.push(
    `autocannon, ${CONFIG.connections} connections (each with its own session, created by a /write first), on 127.0.0.1. ` +
      `${CONFIG.rounds} rounds; in each round every server is started in turn, warmed up (${CONFIG.warmup} s per route), driven ${CONFIG.duration} s per route, and stopped. ` +
      `Figures are medians over the rounds; "ours ÷ this" compares the servers round by round (median of the per-round ratios; on a row of a variant of ours, it is variant ÷ ours). ` +
      `CPU/request = the server process's CPU time (all threads, so sqlite's worker threads too) ÷ requests answered: steadier than req/s on a shared machine.` +
      (QUICK ? ' **--quick run: short rounds, the numbers are only indicative.**' : ''),
    '',
  );
  L.push(`Whole run: ${meta.runtime}.`, '');
  for (const d of dbResults) {
    const s = d.summary;
    const ids = Object.keys(d.servers);
    L.push(`## ${d.db === 'sqlite' ? 'sqlite' : 'PostgreSQL'}`, '', dbDescription(d), '');
    L.push(`![requests/s per route on ${d.db}](${d.db}.svg)`, '');
    L.push('| route | server | req/s (min–max) | p50 ms | p99 ms | CPU µs/req (off main thread) | ours ÷ this, req/s | this ÷ ours, CPU/req |');
    L.push('|---|---|---:|---:|---:|---:|---:|---:|');
    for (const route of ROUTES) {
      for (const id of ids) {
        const x = s[id][route.id];
        const pr = ratioRow(d, id, route.id);
        L.push(
          `| ${route.label} | ${d.servers[id].spec.label} | ${fmt(x.rps)} (${fmt(x.rpsMin)}–${fmt(x.rpsMax)}) | ${fmt(x.p50, 2)} | ${fmt(x.p99, 2)} | ` +
            `${fmt(x.cpu)} (${fmt(x.cpuOtherThreads)}) | ${pr ? fmtRatio(pr.rps) : ''} | ${pr ? fmtRatio(pr.cpu) : ''} |`,
        );
      }
    }
    L.push('');
    L.push('### SQL statements per request', '');
    L.push(
      `Counted by a TypeORM logger over ${CONFIG.countRequests} sequential requests per route, with a session cookie where the route has one (S = SELECT, W = INSERT/UPDATE/DELETE, O = other, e.g. BEGIN/COMMIT).`,
      '',
    );
    L.push(`| route | ${ids.map((k) => d.servers[k].spec.label).join(' | ')} |`);
    L.push(`|---|${ids.map(() => '---').join('|')}|`);
    for (const route of ROUTES) L.push(`| ${route.label} | ${ids.map((k) => sqlCell(d.servers[k].sql?.[route.id])).join(' | ')} |`);
    L.push('');
    for (const id of ids) {
      const sql = d.servers[id].sql;
      if (!sql || ROUTES.every((r) => sql[r.id].statements.length === 0)) continue;
      L.push(`<details><summary>Statements run by ${d.servers[id].spec.label}</summary>`, '');
      for (const route of ROUTES) {
        if (sql[route.id].statements.length === 0) continue;
        L.push(`${route.label}:`, '', '```sql');
        for (const [text, n] of sql[route.id].statements) L.push(`-- ${num(n)} per request\n${text};`);
        L.push('```', '');
      }
      L.push('</details>', '');
    }
    if (d.targets.length > 0) {
      L.push('### Targets (nestjs-django-session)', '');
      L.push('| target | measured | met? |', '|---|---|---|');
      for (const t of d.targets) {
        L.push(`| ${t.name} | ${t.measured} | ${t.met === null ? '–' : t.met ? 'yes' : `**no**${t.miss ? `, ${t.miss}` : ''}`}${t.gate ? ' (checked)' : ''} |`);
      }
      L.push('', '"(checked)": a correctness check; the bench exits non-zero when one fails. Throughput ratios are reported, never enforced.', '');
    }
    const es = d.servers['express-session'];
    if (es?.lostUpdate) {
      L.push(
        `express-session, same checks: ${es.lostUpdate.passed ? 'no lost update' : '**lost updates**'} ` +
          `(${es.lostUpdate.clients.length} × ${es.lostUpdate.writesPerClient} writes); timed /write rounds ${es.roundChecks.filter((r) => r.passed).length}/${es.roundChecks.length} consistent.`,
        '',
      );
    }
    for (const id of ids) {
      const p = d.servers[id].profile;
      if (!p) continue;
      L.push(`### Profile: ${d.servers[id].spec.label} (node --cpu-prof, main thread, measured windows only)`, '');
      L.push(`Profile files (Chrome DevTools → Performance → Load profile): ${d.servers[id].profileFiles.map((f) => `\`${f}\``).join(', ')}.`, '');
      for (const route of ROUTES) {
        const r = p[route.id];
        if (!r || r.requests === 0) continue;
        const perReq = (us) => fmt(us / r.requests, 1);
        L.push(`**${route.label}**: ${perReq(r.totalUs)} µs of main-thread time per request (profiling itself adds some).`, '');
        L.push('| where (self time) | µs/req | share |', '|---|---:|---:|');
        for (const [cat, us] of r.byCategory.slice(0, 12)) L.push(`| ${cat} | ${perReq(us)} | ${((us / r.totalUs) * 100).toFixed(1)}% |`);
        L.push('');
        const lib = r.inclusive.slice(0, 10);
        if (lib.length > 0) {
          L.push('| nestjs-django-session function (inclusive) | µs/req |', '|---|---:|');
          for (const [f, us] of lib) L.push(`| \`${f}\` | ${perReq(us)} |`);
          L.push('');
        }
        L.push('<details><summary>hottest functions (self time)</summary>', '', '| function | µs/req |', '|---|---:|');
        for (const [f, us] of r.byFunction.slice(0, 20)) L.push(`| \`${f.replace(/\|/g, '\\|')}\` | ${perReq(us)} |`);
        L.push('', '</details>', '');
      }
    }
  }
  L.push(
    '## Reproduce',
    '',
    '```sh',
    'npm ci',
    'npm run bench                        # sqlite; PostgreSQL too when TEST_POSTGRES_URL is set',
    'npm run bench -- --quick             # smoke run',
    'npm run bench -- --profile           # also node --cpu-prof, summarised per route',
    'node bench/run.js --help             # all options (after npm run build)',
    '```',
    '',
  );
  return L.join('\n');
}

function chartFor(d) {
  const s = d.summary;
  const ids = Object.keys(d.servers);
  return barChart({
    title: `Sessions on NestJS — ${d.db === 'sqlite' ? 'sqlite file (WAL)' : `PostgreSQL ${d.version}`}`,
    subtitle: `median req/s over ${CONFIG.rounds} rounds × ${CONFIG.duration} s, ${CONFIG.connections} connections, server on one core · Node ${process.version} · ${new Date().toISOString().slice(0, 10)}`,
    routes: ROUTES.map((route) => ({
      label: route.label,
      bars: ids.map((id) => ({
        server: d.servers[id].spec.kind === 'ours' && id !== 'ours' ? 'variant' : id,
        label: d.servers[id].spec.label,
        value: s[id][route.id].rps,
        note: d.servers[id].spec.kind === 'ours' && d.servers['express-session'] ? `${fmtRatio(pairRatio(d, id, 'express-session', route.id).rps)}` : undefined,
      })),
    })),
  });
}

function printConsole(d) {
  const s = d.summary;
  const ids = Object.keys(d.servers);
  log(`\n=== ${d.db}: ${dbDescription(d)}`);
  const w = Math.max(...ids.map((id) => d.servers[id].spec.label.length));
  log(
    ['route'.padEnd(15), 'server'.padEnd(w), 'req/s'.padStart(8), 'p50 ms'.padStart(7), 'p99 ms'.padStart(7), 'CPU µs'.padStart(7), 'SQL/req'.padStart(14), 'ours÷this'.padStart(10), 'CPU ratio'.padStart(10)].join(' '),
  );
  for (const route of ROUTES) {
    for (const id of ids) {
      const x = s[id][route.id];
      const q = d.servers[id].sql[route.id];
      const pr = ratioRow(d, id, route.id);
      log(
        [
          route.label.padEnd(15),
          d.servers[id].spec.label.padEnd(w),
          fmt(x.rps).padStart(8),
          fmt(x.p50, 2).padStart(7),
          fmt(x.p99, 2).padStart(7),
          fmt(x.cpu).padStart(7),
          `${num(q.select)}S+${num(q.write)}W+${num(q.other)}O`.padStart(14),
          (pr ? fmtRatio(pr.rps) : '').padStart(10),
          (pr ? fmtRatio(pr.cpu) : '').padStart(10),
        ].join(' '),
      );
    }
  }
  // The chart, in text (the SVG is written next to the report).
  const top = Math.max(...ids.flatMap((id) => ROUTES.map((r) => s[id][r.id].rps)).filter(Number.isFinite));
  log(`\nreq/s (median), one bar per server; the SVG chart is written with the report`);
  for (const route of ROUTES) {
    for (const id of ids) {
      const v = s[id][route.id].rps;
      const bar = '█'.repeat(Math.max(0, Math.round((v / top) * 50)));
      log(`${(id === ids[0] ? route.label : '').padEnd(15)} ${d.servers[id].spec.label.padEnd(w)} ${bar} ${fmt(v)}`);
    }
  }
  if (d.targets.length > 0) {
    log('\nTargets (nestjs-django-session):');
    for (const t of d.targets) log(`  [${t.met === null ? '  - ' : t.met ? '  ok' : 'MISS'}]${t.gate ? '*' : ' '} ${t.name}: ${t.measured}${t.miss ? ` (${t.miss})` : ''}`);
    log('  * = correctness check: fails the run. Ratios are reported only.');
  }
}

// ---- main --------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'index.js'))) die('dist/src/index.js is missing: run `npm run build` first (npm run bench does).');
  mkdirSync(TMP, { recursive: true });
  const pinning = setUpPinning();
  log(`bench: ${pinning.note}`);
  log(
    `bench: ${CONFIG.connections} connections; ${CONFIG.rounds} rounds, each starting every server in turn: warm-up ${CONFIG.warmup} s + ${CONFIG.duration} s per route${QUICK ? ' (--quick)' : ''}`,
  );
  const pgUrl = process.env.TEST_POSTGRES_URL;
  const dbs = opt.db ? opt.db.split(',').map((x) => x.trim()) : ['sqlite', ...(pgUrl ? ['postgres'] : [])];
  if (!pgUrl && !opt.db) log('bench: TEST_POSTGRES_URL is unset, PostgreSQL left out (set it to e.g. postgres://postgres@127.0.0.1:5432/test)');
  const failures = [];
  const dbResults = [];
  for (const db of dbs) {
    let dbCtx;
    if (db === 'sqlite') dbCtx = { db };
    else if (db === 'postgres') {
      if (!pgUrl) die('--db postgres needs TEST_POSTGRES_URL');
      let pg;
      try {
        pg = await preparePostgres(pgUrl);
      } catch (error) {
        failures.push(`postgres: cannot prepare the bench database: ${error.message}`);
        console.error(`bench: postgres: ${error.message}`);
        continue;
      }
      dbCtx = { db, url: pg.url, dbName: pg.name, version: pg.version };
    } else die(`unknown database ${db}`);
    const servers = await benchDatabase(dbCtx, pinning, failures);
    if (Object.keys(servers).length === 0) continue;
    const d = { db, version: dbCtx.version, dbName: dbCtx.dbName, servers };
    d.summary = Object.fromEntries(Object.keys(servers).map((k) => [k, summarize(servers[k])]));
    d.targets = evaluateTargets(d);
    for (const t of d.targets) if (t.gate && !t.met) failures.push(`${db}: ${t.name}: ${t.measured}`);
    printConsole(d);
    dbResults.push(d);
  }

  const seconds = Math.round((Date.now() - started) / 1000);
  const meta = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    commit: gitDescribe(),
    cpu: `${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'} (${os.cpus().length} CPUs)`,
    pinning,
    runtime: `${Math.floor(seconds / 60)} min ${seconds % 60} s`,
  };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, 'report.md'), markdown(dbResults, meta));
  for (const d of dbResults) writeFileSync(path.join(OUT, `${d.db}.svg`), chartFor(d));
  const json = {
    meta,
    config: CONFIG,
    dbs: dbResults.map((d) => ({
      ...d,
      servers: Object.fromEntries(Object.entries(d.servers).map(([k, v]) => [k, { ...v, windows: undefined, profile: undefined }])),
    })),
  };
  writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(json, null, 1) + '\n');
  const rel = (f) => path.relative(process.cwd(), f);
  log(`\nbench: report ${rel(path.join(OUT, 'report.md'))}; chart${dbResults.length > 1 ? 's' : ''} ${dbResults.map((d) => rel(path.join(OUT, `${d.db}.svg`))).join(', ')}`);
  log(`bench: whole run ${meta.runtime}`);
  if (failures.length > 0) {
    console.error(`\nbench: FAILED\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
