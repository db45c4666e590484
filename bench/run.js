#!/usr/bin/env node
// `npm run bench`: bare Nest vs Nest + express-session + connect-typeorm vs Nest + this module
// (its db engine, and its cache, cached_db, signed_cookies and file engines next to bare Nest),
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
import { setUpPinning } from './lib/pinning.js';
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
    servers: { type: 'string' },
    routes: { type: 'string' },
    variant: { type: 'string', multiple: true },
    sync: { type: 'string', default: 'NORMAL' },
    driver: { type: 'string', default: 'sqlite' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string' },
    rerender: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (opt.help) {
  console.log(`node bench/run.js [options]   (npm run bench -- [options])
  --quick            2 short rounds (smoke run: ~1½ min on sqlite, ~2½ min with PostgreSQL); report goes to
                     bench/.tmp/results-quick
  --rounds N         rounds; each starts every server once, in turn (default 5)
  --duration S       seconds per route and round (default 2)
  --warmup S         warm-up seconds per route after each server start (default 1; --quick warms all
                     routes up at once; autocannon counts whole seconds)
  --connections N    autocannon connections = concurrent clients with distinct sessions (default 10)
  --db LIST          sqlite,postgres (default: sqlite, plus postgres when TEST_POSTGRES_URL is set)
  --servers LIST     bare,express-session,ours (the db engine),ours-cache,ours-cached-db,
                     ours-signed-cookies,ours-file (default all; the Redis engines are left out with a
                     note when Redis does not answer at BENCH_REDIS_URL, default redis://127.0.0.1:6379).
                     The engines that do not use the database (cache, signed_cookies, file) run on the
                     first database of --db only.
  --routes LIST      none,none-cookie,read,write (default all four; targets need all four)
  --variant N:ENV    adds our module once more with extra environment, e.g. for an A/B experiment
                     with a patched build: --variant 'patched:BENCH_LIB=/abs/path/dist/src/index.js'
  --sync LEVEL       PRAGMA synchronous on sqlite: NORMAL (default) | FULL | OFF, for experiments
  --driver NAME      TypeORM sqlite driver: sqlite (default, node-sqlite3) | better-sqlite3
  --profile          run each server under node --cpu-prof; per-route summary in the results
  --out DIR          where to write the report (default bench/results)
  --rerender         no run: writes report.md and the charts again from results.json in --out`);
  process.exit(0);
}

const QUICK = opt.quick;
const CONFIG = {
  connections: Number(opt.connections),
  warmup: Number(opt.warmup ?? 1),
  rounds: Number(opt.rounds ?? (QUICK ? 2 : 5)),
  duration: Number(opt.duration ?? (QUICK ? 1 : 2)),
  /** --quick warms all routes up at once (autocannon runs whole seconds: 1 s, not 4 × 1 s). */
  warmupTogether: QUICK,
  /** Sequential requests per route for the SQL statement count. */
  countRequests: QUICK ? 20 : 50,
  /** /write requests per client in the strict lost-update check. */
  lostUpdateWrites: QUICK ? 20 : 100,
  sync: opt.sync.toUpperCase(),
  driver: opt.driver,
};
const LABEL = { bare: 'bare Nest', 'express-session': 'express-session + connect-typeorm', ours: 'nestjs-django-session' };
/**
 * Our module on its other engines (Django's SESSION_ENGINE), compared with bare Nest.
 * redis: needs Redis; dbIndependent: never touches the database (measured on the first one only);
 * stateless: the cookie holds the session (each /write answers a new cookie).
 */
const ENGINE_SPECS = {
  'ours-cache': { engine: 'cache', label: 'ours, cache engine (Redis)', redis: true, dbIndependent: true },
  'ours-cached-db': { engine: 'cached_db', label: 'ours, cached_db engine (Redis + table)', redis: true, dbIndependent: false },
  'ours-signed-cookies': { engine: 'signed_cookies', label: 'ours, signed_cookies engine', dbIndependent: true, stateless: true },
  'ours-file': { engine: 'file', label: 'ours, file engine', dbIndependent: true },
};
/** The issue's targets for the engines, as a share of bare Nest's req/s on the same route. */
const ENGINE_TARGETS = {
  cache: { read: 0.7, write: 0.6 },
  cached_db: { read: 0.7, write: 0.6 },
  signed_cookies: { read: 0.9, write: 0.85 },
};
const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Every Redis key of this run starts with it (one prefix per server start below it); deleted by SCAN + DEL at the end. */
const RUN_PREFIX = `djs-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
if (!['OFF', 'NORMAL', 'FULL', 'EXTRA'].includes(CONFIG.sync)) die(`--sync takes OFF, NORMAL, FULL or EXTRA, got ${opt.sync}`);
if (!['sqlite', 'better-sqlite3'].includes(CONFIG.driver)) die(`--driver takes sqlite or better-sqlite3, got ${opt.driver}`);
for (const n of ['connections', 'warmup', 'rounds', 'duration']) {
  if (!(CONFIG[n] > 0)) die(`--${n} must be a positive number`);
}
/**
 * What runs: { id, kind (the app in server.js), label, env (extra environment), engine (ours' engine
 * option, for the engine specs), redis, dbIndependent, stateless }.
 */
const SERVERS_GIVEN = opt.servers !== undefined;
const SPECS = (opt.servers ?? [...Object.keys(LABEL), ...Object.keys(ENGINE_SPECS)].join(',')).split(',').map((s) => s.trim()).map((id) => {
  if (LABEL[id]) return { id, kind: id, label: LABEL[id], env: {} };
  const e = ENGINE_SPECS[id];
  if (!e) die(`unknown server ${id} (known: ${[...Object.keys(LABEL), ...Object.keys(ENGINE_SPECS)].join(', ')})`);
  return { id, kind: 'ours', ...e, env: { BENCH_ENGINE: e.engine } };
});
/** An engine spec (ours on another engine than db), compared with bare Nest rather than express-session. */
const isEngine = (spec) => spec.engine !== undefined;
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

// ---- Redis (cache, cached_db) and the file engine's directory -----------------------------------

/** A connected node-redis client for the run's own checks and clean-up, or null when Redis does not answer. */
async function redisClient() {
  const { createClient } = await import('redis');
  const c = createClient({ url: REDIS_URL, disableOfflineQueue: true, socket: { connectTimeout: 2000, reconnectStrategy: false } });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.ping();
    return c;
  } catch {
    await Promise.resolve(c.destroy?.()).catch(() => undefined);
    return null;
  }
}

/** Deletes the keys under `prefix` (SCAN MATCH + DEL; the Redis is shared, so never FLUSHDB); returns how many. */
async function deleteRedisKeys(prefix) {
  const c = await redisClient();
  if (!c) return 0;
  let n = 0;
  try {
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      const batch = Array.isArray(keys) ? keys : [keys];
      if (batch.length > 0) n += await c.del(batch);
    }
  } finally {
    await c.close();
  }
  return n;
}

/** A fresh, empty directory for the file engine's sessions. */
function sessionDir(name) {
  const dir = path.join(TMP, `files-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

function sqlitePath(kind) {
  const file = path.join(TMP, `bench-${kind}.sqlite3`);
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
  return file;
}

// ---- a server ----------------------------------------------------------------------------------

async function startServer(spec, dbCtx, pinning, profileDir, extraEnv = {}) {
  const kind = spec.id;
  const env = { ...process.env, BENCH_DB: dbCtx.db, BENCH_SYNC: CONFIG.sync, BENCH_DRIVER: CONFIG.driver, ...spec.env, ...extraEnv, BENCH_KIND: spec.kind };
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

const sumValues = (o = {}) => Object.values(o).reduce((a, b) => a + b, 0);
/** Per-request operation counts by name, e.g. "1 GET + 1 SET"; "0" when none. */
const opsText = (o = {}) =>
  Object.keys(o).length === 0
    ? '0'
    : Object.entries(o)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${num(v)} ${k}`)
        .join(' + ');

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
      // Redis commands (cache engines) and file operations (file engine), per request, by name.
      const perReq = (a = {}, b = {}) =>
        Object.fromEntries(Object.keys(a).map((k) => [k, (a[k] - (b[k] ?? 0)) / n]).filter(([, v]) => v > 0));
      out[route.id] = {
        select: q('select'),
        write: q('write'),
        other: q('other'),
        errors: q('errors'),
        statements,
        redis: perReq(after.redis, before.redis),
        files: perReq(after.files, before.files),
      };
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
async function lostUpdateCheck(port, cookies, stateless = false) {
  const before = await readCounters(port, cookies);
  // signed_cookies: the session is the cookie, so each client sends back the cookie it was last given, as a browser does.
  const last = [...cookies];
  const ok = await Promise.all(
    cookies.map(async (cookie, i) => {
      const c = client(port);
      let n = 0;
      try {
        for (let k = 0; k < CONFIG.lostUpdateWrites; k++) {
          const res = await c.request('POST', '/write', last[i]);
          if (res.status === 200) n++;
          if (stateless && res.setCookie) last[i] = res.setCookie;
        }
      } finally {
        c.close();
      }
      return n;
    }),
  );
  const after = await readCounters(port, last);
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
    sample.redisPerReq = (sumValues(s1.redis) - sumValues(s0.redis)) / Math.max(1, requests);
    if (countersBefore) {
      const countersAfter = await readCounters(port, cookies);
      const perClient = cookies.map((cookie, i) => ({ ok: okByCookie.get(cookie) ?? 0, grew: countersAfter[i] - countersBefore[i] }));
      if (spec.stateless) {
        // signed_cookies: autocannon sends the same cookie again and again, so the server (which
        // keeps nothing) must answer that cookie's counter + 1 each time and still read the old value.
        result.roundChecks.push({ round, perClient, passed: perClient.every((x) => x.grew === 0 && x.ok > 0) });
      } else {
        // A response still in flight when autocannon stops is done by the server but not counted: +1 at most.
        const lost = perClient.some((x) => x.grew < x.ok);
        const phantom = perClient.some((x) => x.grew > x.ok + 1);
        result.roundChecks.push({ round, perClient, passed: !lost && !phantom });
      }
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
  const safeId = spec.id.replace(/\W/g, '_');
  const extraEnv = {};
  if (spec.redis) Object.assign(extraEnv, { BENCH_REDIS_URL: REDIS_URL, BENCH_REDIS_PREFIX: `${RUN_PREFIX}-${dbCtx.db}-${safeId}-r${round}` });
  if (spec.engine === 'file') extraEnv.BENCH_FILE_PATH = sessionDir(safeId);
  const startedAt = Date.now();
  const server = await startServer(spec, dbCtx, pinning, profileDir, extraEnv);
  const phases = [['start', Date.now()]];
  const phase = (name) => phases.push([name, Date.now()]);
  result.settings = server.settings;
  const windowsBefore = Object.fromEntries(ROUTES.map((r) => [r.id, result.windows[r.id].length]));
  try {
    const { port } = server;
    const cookies = await createSessions(spec.kind, port);
    phase('sessions');
    if (result.sql === null) {
      result.sql = await countStatements(server, port, cookies);
      log(
        `  SQL/request: ${ROUTES.map((r) => `${r.label} ${result.sql[r.id].select}S+${result.sql[r.id].write}W+${result.sql[r.id].other}O`).join(', ')}` +
          (spec.redis ? `; Redis/request: ${ROUTES.map((r) => `${r.label} ${opsText(result.sql[r.id].redis)}`).join(', ')}` : '') +
          (spec.engine === 'file' ? `; file ops/request: ${ROUTES.map((r) => `${r.label} ${opsText(result.sql[r.id].files)}`).join(', ')}` : ''),
      );
      if (spec.kind !== 'bare') {
        result.lostUpdate = await lostUpdateCheck(port, cookies, spec.stateless);
        log(`  lost-update check (${cookies.length} clients × ${CONFIG.lostUpdateWrites} writes): ${result.lostUpdate.passed ? 'ok' : 'FAILED'}`);
      }
    }
    phase('checks');
    if (CONFIG.warmupTogether) await Promise.all(ROUTES.map((route) => load(port, route, CONFIG.warmup, cookies)));
    else for (const route of ROUTES) await load(port, route, CONFIG.warmup, cookies);
    phase('warm-up');
    await measureRound(spec, server, cookies, round, result);
    phase('measured');
  } finally {
    const exit = await server.stop();
    phase('stop');
    if (exit && exit.code !== 0 && exit.code !== null) log(`  server exited with ${exit.code}`);
    if (dbCtx.db === 'sqlite') sqlitePath(safeId); // removes the file
    if (extraEnv.BENCH_FILE_PATH) rmSync(extraEnv.BENCH_FILE_PATH, { recursive: true, force: true });
    log(
      `  ${((Date.now() - startedAt) / 1000).toFixed(1)} s: ` +
        [['start', startedAt], ...phases].slice(1).map(([name, t], i, a) => `${name} ${((t - (i === 0 ? startedAt : a[i - 1][1])) / 1000).toFixed(1)}`).join(', '),
    );
    // The server deletes its keys when it exits; this catches a server that did not.
    if (extraEnv.BENCH_REDIS_PREFIX) {
      const left = await deleteRedisKeys(`${extraEnv.BENCH_REDIS_PREFIX}:`);
      if (left > 0) log(`  ${left} Redis keys left by the server deleted`);
    }
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
async function benchDatabase(dbCtx, specs, pinning, failures) {
  const results = {};
  for (const spec of specs) {
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
    const order = specs.map((_, i) => specs[(i + round - 1) % specs.length]);
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
  if (id === 'ours' || !d.servers.ours || isEngine(d.servers[id].spec)) return null;
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

/**
 * What each engine must cost per request (checked, as the db engine's SQL counts are), in SQL
 * statements, Redis commands and file operations; `files` lists only the operations checked.
 */
const ENGINE_OPS = {
  cache: { read: { sql: [0, 0], redis: { GET: 1 } }, write: { sql: [0, 0], redis: { GET: 1, SET: 1 } } },
  // A read is a cache hit (the session was written through the cache by the /write that created it).
  cached_db: { read: { sql: [0, 0], redis: { GET: 1 } }, write: { sql: [0, 1], redis: { GET: 1, SET: 1 } } },
  signed_cookies: { read: { sql: [0, 0], redis: {} }, write: { sql: [0, 0], redis: {} } },
  file: {
    read: { sql: [0, 0], redis: {}, files: { readFile: 1, stat: 1, writeFile: 0, rename: 0, unlink: 0 } },
    write: { sql: [0, 0], redis: {}, files: { readFile: 1, writeFile: 1, rename: 1, unlink: 0 } },
  },
};

/** The store operations of one route, as text: "0 SQL; Redis: 1 GET + 1 SET"; file ops too for the file engine. */
function opsMeasured(spec, q) {
  const sqlN = q.select + q.write + q.other;
  const parts = [sqlN === 0 ? '0 SQL' : `SQL: ${num(q.select)} SELECT + ${num(q.write)} write + ${num(q.other)} other`];
  if (spec.redis) parts.push(`Redis: ${opsText(q.redis)}`);
  if (spec.engine === 'file') parts.push(`files: ${opsText(q.files)}`);
  return parts.join('; ');
}

/** The engines' targets (vs bare Nest) and checks (store operations, lost updates, 2xx). */
function evaluateEngineTargets(d) {
  const t = [];
  const routeIds = new Set(ROUTES.map((r) => r.id));
  for (const [id, result] of Object.entries(d.servers)) {
    const spec = result.spec;
    if (!isEngine(spec)) continue;
    const name = spec.engine;
    const sql = result.sql;
    const touchesNothing = (q) => q.select + q.write + q.other === 0 && sumValues(q.redis) === 0 && sumValues(q.files) === 0;
    for (const r of ['none', 'none-cookie'].filter((x) => routeIds.has(x))) {
      const label = ALL_ROUTES.find((x) => x.id === r).label;
      t.push({ server: id, name: `${name}: ${label}: no store operation`, measured: opsMeasured(spec, sql[r]), met: touchesNothing(sql[r]), gate: true, miss: '' });
    }
    for (const r of ['read', 'write'].filter((x) => routeIds.has(x))) {
      const want = ENGINE_OPS[name][r];
      const q = sql[r];
      const sqlOk = q.select === want.sql[0] && q.write === want.sql[1] && q.other === 0;
      const redisOk = JSON.stringify(Object.entries(q.redis).sort()) === JSON.stringify(Object.entries(want.redis).sort());
      const filesOk = Object.entries(want.files ?? {}).every(([k, v]) => (q.files[k] ?? 0) === v);
      const wantText =
        `${want.sql[0] + want.sql[1] === 0 ? '0 SQL' : `${want.sql[0]} SELECT + ${want.sql[1]} write`}` +
        (spec.redis ? `, Redis ${opsText(want.redis)}` : '') +
        (want.files ? `, ${Object.entries(want.files).filter(([, v]) => v > 0).map(([k, v]) => `${v} ${k}`).join(' + ')}, no other write` : '');
      t.push({ server: id, name: `${name}: /${r}: ${wantText}`, measured: opsMeasured(spec, q), met: sqlOk && redisOk && filesOk, gate: true, miss: '' });
      const goal = ENGINE_TARGETS[name]?.[r];
      if (!d.servers.bare) continue;
      const { rps, cpu } = pairRatio(d, id, 'bare', r);
      const bareCpu = d.summary.bare[r].cpu;
      const ownCpu = d.summary[id][r].cpu;
      const why =
        goal && Number.isFinite(rps) && rps < goal
          ? `missed by ${(((goal - rps) / goal) * 100).toFixed(0)}%. Why: at ${goal}× bare a ${`/${r}`} may cost ${fmt(bareCpu / goal)} µs CPU; ` +
            `the bare app spends ${fmt(bareCpu)} µs, leaving ${fmt(bareCpu / goal - bareCpu)} µs for the session; this engine spends ${fmt(ownCpu)} µs (${fmt(ownCpu - bareCpu)} µs over the bare app)`
          : '';
      t.push({
        server: id,
        name: goal ? `${name}: /${r} ≥ ${goal.toFixed(2)} × bare` : `${name}: /${r} vs bare (no target)`,
        measured: `${fmtRatio(rps)} req/s (CPU/request: ${fmtRatio(cpu)})`,
        met: goal && Number.isFinite(rps) ? rps >= goal : null,
        gate: false,
        miss: why,
      });
    }
    const lu = result.lostUpdate;
    if (lu) {
      t.push({
        server: id,
        name: `${name}: no lost update, ${lu.clients.length} concurrent clients with distinct sessions`,
        measured:
          `${lu.clients.length} clients × ${lu.writesPerClient} writes${spec.stateless ? ' (each sending back the cookie it was last given)' : ''}: every counter grew by ${[...new Set(lu.clients.map((c) => c.grew))].join('/')}; ` +
          `timed /write rounds: ${result.roundChecks.filter((r) => r.passed).length}/${result.roundChecks.length} consistent` +
          (spec.stateless ? ' (a replayed cookie still reads its own counter)' : ''),
        met: lu.passed && result.roundChecks.every((r) => r.passed),
        gate: true,
        miss: '',
      });
    }
    const failed = ROUTES.reduce((n, r) => n + d.summary[id][r.id].non2xx + d.summary[id][r.id].errors, 0);
    t.push({ server: id, name: `${name}: every request answered 2xx under load`, measured: `${failed} non-2xx/errors`, met: failed === 0, gate: true, miss: '' });
  }
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
  L.push(`# Session benchmark: bare Nest vs express-session vs nestjs-django-session (every engine)`, '');
  L.push(`Run ${meta.date} · commit ${meta.commit} · Node ${process.version} · ${meta.cpu} · ${meta.pinning.note}.`, '');
  L.push(
    `autocannon, ${CONFIG.connections} connections (each with its own session, created by a /write first), on 127.0.0.1. ` +
      `${CONFIG.rounds} rounds; in each round every server is started in turn, warmed up (${CONFIG.warmupTogether ? `${CONFIG.warmup} s, all routes at once` : `${CONFIG.warmup} s per route`}), driven ${CONFIG.duration} s per route, and stopped. ` +
      `Figures are medians over the rounds; "ours ÷ this" compares the servers round by round (median of the per-round ratios; on a row of a variant of ours, it is variant ÷ ours). ` +
      `CPU/request = the server process's CPU time (all threads, so sqlite's worker threads too) ÷ requests answered: steadier than req/s on a shared machine.` +
      (QUICK ? ' **--quick run: short rounds, the numbers are only indicative.**' : ''),
    '',
  );
  L.push(
    `"nestjs-django-session" is the module on its default \`db\` engine, compared with express-session; the rows "ours, … engine" are the same app with another ` +
      `\`engine\` option, compared with bare Nest ("÷ bare": this server's req/s ÷ bare Nest's, and bare's CPU/request ÷ this one's, round by round). ` +
      `cache and cached_db use Redis ${CONFIG.redisVersion ?? ''} at 127.0.0.1 (node-redis 5, \`disableOfflineQueue: true\`; a key prefix of its own per server start, its keys deleted afterwards; Redis is not pinned); ` +
      `file keeps its files in a fresh directory under bench/.tmp on local disk. The engines that do not use the database (cache, signed_cookies, file) run in the first database's section only.`,
    '',
  );
  for (const note of meta.notes ?? []) L.push(`**Note:** ${note}`, '');
  L.push(`Whole run: ${meta.runtime}.`, '');
  for (const d of dbResults) {
    const s = d.summary;
    const ids = Object.keys(d.servers);
    L.push(`## ${d.db === 'sqlite' ? 'sqlite' : 'PostgreSQL'}`, '', dbDescription(d), '');
    if (d.leftOut?.length) L.push(`Not run here (they do not use the database; see the first section): ${d.leftOut.map((x) => x.label).join(', ')}.`, '');
    L.push(`![requests/s per route on ${d.db}](${d.db}.svg)`, '');
    L.push('| route | server | req/s (min–max) | p50 ms | p99 ms | CPU µs/req (off main thread) | ours ÷ this, req/s | this ÷ ours, CPU/req | ÷ bare, req/s (CPU/req) |');
    L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const route of ROUTES) {
      for (const id of ids) {
        const x = s[id][route.id];
        const pr = ratioRow(d, id, route.id);
        const vb = id !== 'bare' && d.servers.bare ? pairRatio(d, id, 'bare', route.id) : null;
        L.push(
          `| ${route.label} | ${d.servers[id].spec.label} | ${fmt(x.rps)} (${fmt(x.rpsMin)}–${fmt(x.rpsMax)}) | ${fmt(x.p50, 2)} | ${fmt(x.p99, 2)} | ` +
            `${fmt(x.cpu)} (${fmt(x.cpuOtherThreads)}) | ${pr ? fmtRatio(pr.rps) : ''} | ${pr ? fmtRatio(pr.cpu) : ''} | ${vb ? `${fmtRatio(vb.rps)} (${fmtRatio(vb.cpu)})` : ''} |`,
        );
      }
    }
    L.push('');
    const engineIds = ids.filter((id) => isEngine(d.servers[id].spec));
    if (engineIds.length > 0 && d.servers.bare) {
      L.push('### The engines next to bare Nest', '');
      L.push(
        'Median req/s, and the ratio to bare Nest in the same rounds (req/s; CPU/request in brackets). Targets from the speed issue: cache and cached_db /read ≥ 0.70 and /write ≥ 0.60 × bare; signed_cookies /read ≥ 0.90 and /write ≥ 0.85 × bare; none for file (nor for db, whose targets are against express-session).',
        '',
      );
      const shown = ['ours', ...engineIds].filter((id) => d.servers[id]);
      const engineRoutes = ROUTES.filter((r) => r.id !== 'none-cookie');
      L.push(`| server | ${engineRoutes.map((r) => `${r.label} req/s | ÷ bare`).join(' | ')} |`);
      L.push(`|---|${engineRoutes.map(() => '---:|---:').join('|')}|`);
      L.push(`| bare Nest | ${engineRoutes.map((r) => `${fmt(s.bare[r.id].rps)} | 1`).join(' | ')} |`);
      for (const id of shown) {
        const engineName = d.servers[id].spec.engine ?? 'db';
        const cells = engineRoutes.map((r) => {
          const vb = pairRatio(d, id, 'bare', r.id);
          const goal = ENGINE_TARGETS[engineName]?.[r.id];
          const mark = goal ? (vb.rps >= goal ? ` ✓ (≥ ${goal.toFixed(2)})` : ` ✗ (< ${goal.toFixed(2)})`) : '';
          return `${fmt(s[id][r.id].rps)} | ${fmtRatio(vb.rps)} (${fmtRatio(vb.cpu)})${mark}`;
        });
        L.push(`| ${d.servers[id].spec.label}${id === 'ours' ? ' (db engine)' : ''} | ${cells.join(' | ')} |`);
      }
      L.push('');
    }
    L.push('### SQL statements per request', '');
    L.push(
      `Counted by a TypeORM logger over ${CONFIG.countRequests} sequential requests per route, with a session cookie where the route has one (S = SELECT, W = INSERT/UPDATE/DELETE, O = other, e.g. BEGIN/COMMIT).`,
      '',
    );
    L.push(`| route | ${ids.map((k) => d.servers[k].spec.label).join(' | ')} |`);
    L.push(`|---|${ids.map(() => '---').join('|')}|`);
    for (const route of ROUTES) L.push(`| ${route.label} | ${ids.map((k) => sqlCell(d.servers[k].sql?.[route.id])).join(' | ')} |`);
    L.push('');
    const otherOps = ids.filter((id) => d.servers[id].spec.redis || d.servers[id].spec.engine === 'file');
    if (otherOps.length > 0) {
      L.push('### Redis commands and file operations per request', '');
      L.push(
        `Redis commands counted by a Proxy around the engine's node-redis client (every command goes through its \`sendCommand\`); the file engine's \`fs/promises\` calls on its directory counted by wrapping them; over the same ${CONFIG.countRequests} sequential requests per route.`,
        '',
      );
      L.push(`| route | ${otherOps.map((k) => d.servers[k].spec.label).join(' | ')} |`);
      L.push(`|---|${otherOps.map(() => '---').join('|')}|`);
      for (const route of ROUTES) {
        L.push(`| ${route.label} | ${otherOps.map((k) => opsText(d.servers[k].spec.redis ? d.servers[k].sql?.[route.id].redis : d.servers[k].sql?.[route.id].files)).join(' | ')} |`);
      }
      L.push('');
    }
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
    const groups = [
      ['### Targets (nestjs-django-session, db engine)', d.targets.filter((t) => !t.server)],
      ['### Targets and checks of the other engines (vs bare Nest)', d.targets.filter((t) => t.server)],
    ].filter(([, list]) => list.length > 0);
    for (const [heading, list] of groups) {
      L.push(heading, '');
      L.push('| target | measured | met? |', '|---|---|---|');
      for (const t of list) {
        L.push(`| ${t.name} | ${t.measured} | ${t.met === null ? '–' : t.met ? 'yes' : `**no**${t.miss ? `, ${t.miss}` : ''}`}${t.gate ? ' (checked)' : ''} |`);
      }
      L.push('');
    }
    if (groups.length > 0) {
      L.push('"(checked)": a correctness check; the bench exits non-zero when one fails. Throughput ratios are reported, never enforced.', '');
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

/**
 * The chart of one database: for each route and server, requests per second of the server's CPU
 * (1,000,000 ÷ its median CPU µs per request), i.e. what one fully busy core serves. On a shared
 * machine that is far steadier than the req/s a round happened to get (both are in the report).
 */
function chartFor(d, date = new Date().toISOString().slice(0, 10)) {
  const s = d.summary;
  const ids = Object.keys(d.servers);
  const anyEngine = ids.some((id) => isEngine(d.servers[id].spec));
  return barChart({
    title: `Sessions on NestJS — ${d.db === 'sqlite' ? 'sqlite file (WAL)' : `PostgreSQL ${d.version}`}`,
    subtitle:
      `requests per CPU-second of the server (1,000,000 ÷ its CPU µs per request, median of ${CONFIG.rounds} rounds × ${CONFIG.duration} s) · ` +
      `${CONFIG.connections} connections · Node ${process.version} · ${date}`,
    yLabel: 'requests per CPU-second',
    routes: ROUTES.map((route) => ({
      label: route.label,
      bars: ids.map((id) => {
        const spec = d.servers[id].spec;
        const engine = isEngine(spec);
        return {
          server: spec.kind === 'ours' && id !== 'ours' && !engine ? 'variant' : id,
          label: spec.label,
          value: 1e6 / s[id][route.id].cpu,
          // Above the db engine (and variants): ÷ express-session; above the other engines: ÷ bare Nest.
          note: engine
            ? d.servers.bare
              ? `${fmtRatio(pairRatio(d, id, 'bare', route.id).cpu)}`
              : undefined
            : spec.kind === 'ours' && d.servers['express-session']
              ? `${fmtRatio(pairRatio(d, id, 'express-session', route.id).cpu)}`
              : undefined,
        };
      }),
    })),
    footnote: `above the bars: the ratio round by round, nestjs-django-session ÷ express-session${anyEngine ? ', other engines ÷ bare Nest' : ''} (Nest's CPU only, not Redis's or PostgreSQL's)`,
  });
}

function printConsole(d) {
  const s = d.summary;
  const ids = Object.keys(d.servers);
  log(`\n=== ${d.db}: ${dbDescription(d)}`);
  const w = Math.max(...ids.map((id) => d.servers[id].spec.label.length));
  log(
    ['route'.padEnd(15), 'server'.padEnd(w), 'req/s'.padStart(8), 'p50 ms'.padStart(7), 'p99 ms'.padStart(7), 'CPU µs'.padStart(7), 'SQL/req'.padStart(14), 'ours÷this'.padStart(10), 'CPU ratio'.padStart(10), '÷bare'.padStart(7), 'Redis/file ops per request'].join(' '),
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
          (id !== 'bare' && d.servers.bare ? fmtRatio(pairRatio(d, id, 'bare', route.id).rps) : '').padStart(7),
          d.servers[id].spec.redis ? `Redis ${opsText(q.redis)}` : d.servers[id].spec.engine === 'file' ? `files ${opsText(q.files)}` : '',
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
    log('\nTargets (nestjs-django-session; the engines vs bare Nest):');
    for (const t of d.targets) log(`  [${t.met === null ? '  - ' : t.met ? '  ok' : 'MISS'}]${t.gate ? '*' : ' '} ${t.name}: ${t.measured}${t.miss ? ` (${t.miss})` : ''}`);
    log('  * = correctness check: fails the run. Ratios are reported only.');
  }
}

// ---- main --------------------------------------------------------------------------------------

/** --rerender: report.md and the charts again from the run's results.json (same routes). */
function rerender() {
  const file = path.join(OUT, 'results.json');
  if (!existsSync(file)) die(`--rerender: ${file} does not exist`);
  const json = JSON.parse(readFileSync(file, 'utf8'));
  Object.assign(CONFIG, json.config);
  const dbResults = json.dbs;
  for (const d of dbResults) {
    for (const r of ROUTES) if (!Object.values(d.summary)[0]?.[r.id]) die(`--rerender: ${file} has no route ${r.id}; pass the run's --routes`);
  }
  writeFileSync(path.join(OUT, 'report.md'), markdown(dbResults, json.meta));
  for (const d of dbResults) writeFileSync(path.join(OUT, `${d.db}.svg`), chartFor(d, json.meta.date.slice(0, 10)));
  log(`bench: ${path.relative(process.cwd(), OUT)}/report.md and charts written again from results.json`);
}

async function main() {
  if (opt.rerender) return rerender();
  const started = Date.now();
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'index.js'))) die('dist/src/index.js is missing: run `npm run build` first (npm run bench does).');
  mkdirSync(TMP, { recursive: true });
  const pinning = setUpPinning();
  log(`bench: ${pinning.note}`);
  log(
    `bench: ${CONFIG.connections} connections; ${CONFIG.rounds} rounds, each starting every server in turn: warm-up ${CONFIG.warmup} s${CONFIG.warmupTogether ? ' (all routes at once)' : ' per route'} + ${CONFIG.duration} s per route${QUICK ? ' (--quick)' : ''}`,
  );
  const pgUrl = process.env.TEST_POSTGRES_URL;
  const dbs = opt.db ? opt.db.split(',').map((x) => x.trim()) : ['sqlite', ...(pgUrl ? ['postgres'] : [])];
  if (!pgUrl && !opt.db) log('bench: TEST_POSTGRES_URL is unset, PostgreSQL left out (set it to e.g. postgres://postgres@127.0.0.1:5432/test)');
  const failures = [];
  const dbResults = [];
  // The Redis engines need a Redis: left out (with a note) when none answers, unless asked for by name.
  let specs = SPECS;
  const notes = [];
  if (SPECS.some((s) => s.redis)) {
    const c = await redisClient();
    if (c) {
      const info = await c.info('server');
      CONFIG.redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
      await c.close();
    } else {
      const message = `Redis does not answer at ${REDIS_URL.replace(/\/\/[^@/]*@/, '//')} (set BENCH_REDIS_URL)`;
      if (SERVERS_GIVEN) die(`${message}; --servers asks for ${SPECS.filter((s) => s.redis).map((s) => s.id).join(', ')}`);
      notes.push(`${message}: the cache and cached_db engines were left out.`);
      log(`bench: ${notes.at(-1)}`);
      specs = SPECS.filter((s) => !s.redis);
    }
  }
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
    // An engine that never touches the database is measured on the first database only.
    const dbSpecs = db === dbs[0] ? specs : specs.filter((s) => !s.dbIndependent);
    let servers;
    try {
      servers = await benchDatabase(dbCtx, dbSpecs, pinning, failures);
    } finally {
      if (specs.some((s) => s.redis)) await deleteRedisKeys(RUN_PREFIX);
    }
    if (Object.keys(servers).length === 0) continue;
    const d = { db, version: dbCtx.version, dbName: dbCtx.dbName, servers, leftOut: specs.filter((s) => !dbSpecs.includes(s)) };
    d.summary = Object.fromEntries(Object.keys(servers).map((k) => [k, summarize(servers[k])]));
    d.targets = [...evaluateTargets(d), ...evaluateEngineTargets(d)];
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
    notes,
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
