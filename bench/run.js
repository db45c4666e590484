#!/usr/bin/env node
// `npm run bench`: this module on every engine next to bare Nest (the targets are ratios to it),
// the hand-written "limit" app of each store (bench/limit.js), Django 3.2 under gunicorn
// (bench/django/server.js) and express-session + connect-typeorm (a reference row), on Express and
// Fastify, on a sqlite file (and on PostgreSQL when TEST_POSTGRES_URL is set); then a profiled pass
// (where the microseconds go) and bench/scenarios.js (big sessions, 1M rows, a soak).
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
import { deleteRedisKeys as sharedDeleteRedisKeys, redisClient as sharedRedisClient } from './lib/scenarios-common.js';
import { ensurePostgresDatabase, pgClient } from './lib/postgres.js';
import { ServerUnavailable, spawnServer } from './lib/server-process.js';
import { coarseCategory, COARSE_ORDER, summarise } from './lib/profile.js';
import { fmt, fmtRatio, max, median, min } from './lib/stats.js';

const BENCH = import.meta.dirname;
const ROOT = path.resolve(BENCH, '..');

// ---- options -----------------------------------------------------------------------------------

const { values: opt } = parseArgs({
  allowNegative: true,
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '10' },
    db: { type: 'string' },
    platforms: { type: 'string' },
    servers: { type: 'string' },
    routes: { type: 'string' },
    variant: { type: 'string', multiple: true },
    sync: { type: 'string', default: 'NORMAL' },
    driver: { type: 'string', default: 'sqlite' },
    profile: { type: 'boolean', default: false },
    'profile-pass': { type: 'boolean' },
    scenarios: { type: 'boolean', default: true },
    out: { type: 'string' },
    rerender: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

const QUICK = opt.quick;
const CONFIG = {
  connections: Number(opt.connections),
  /** --quick: none (the checks of the first start warm the server up). */
  warmup: Number(opt.warmup ?? (QUICK ? 0 : 1)),
  rounds: Number(opt.rounds ?? (QUICK ? 1 : 3)),
  duration: Number(opt.duration ?? (QUICK ? 1 : 2)),
  /** Sequential requests per route for the SQL statement count. */
  countRequests: QUICK ? 20 : 50,
  /** /write requests per client in the strict lost-update check. */
  lostUpdateWrites: QUICK ? 20 : 100,
  sync: opt.sync.toUpperCase(),
  driver: opt.driver,
};
const ALL4 = ['none', 'none-cookie', 'read', 'write'];
const RW = ['read', 'write'];
/**
 * Every server the bench knows. kind: BENCH_KIND of bench/server.js; script: another server with the
 * same IPC protocol and environment; group: bare | reference | ours (the module, compared with bare
 * Nest) | integrations | limit | django | variant; routes: the routes it is timed on (all four are
 * still counted); platforms, dbs: where it applies (default everywhere); redis: needs Redis;
 * dbIndependent: never touches the database (run in the first database's section only); stateless:
 * the cookie is the session; store: BENCH_STORE of bench/limit.js ('db': the section's database).
 */
const CATALOG = {
  bare: { kind: 'bare', group: 'bare', label: 'bare Nest', routes: ALL4 },
  ours: { kind: 'ours', group: 'ours', engine: 'db', label: 'ours, db engine', routes: ALL4 },
  'ours-better-sqlite3': {
    kind: 'ours',
    group: 'ours',
    engine: 'db',
    label: 'ours, db engine, better-sqlite3',
    env: { BENCH_DRIVER: 'better-sqlite3' },
    dbs: ['sqlite'],
    routes: RW,
  },
  'ours-cache': { kind: 'ours', group: 'ours', engine: 'cache', label: 'ours, cache engine (Redis)', redis: true, dbIndependent: true, routes: RW },
  'ours-cached-db': { kind: 'ours', group: 'ours', engine: 'cached_db', label: 'ours, cached_db engine (Redis + table)', redis: true, routes: RW },
  'ours-signed-cookies': { kind: 'ours', group: 'ours', engine: 'signed_cookies', label: 'ours, signed_cookies engine', dbIndependent: true, stateless: true, routes: RW },
  'ours-file': { kind: 'ours', group: 'ours', engine: 'file', label: 'ours, file engine', dbIndependent: true, routes: RW },
  'ours-integrations': {
    kind: 'ours-integrations',
    group: 'integrations',
    engine: 'db',
    label: 'ours, db engine + requestSession + Passport',
    platforms: ['express'],
    routes: ['none', 'none-cookie'],
  },
  limit: { script: 'limit.js', group: 'limit', store: 'db', label: 'limit: SQL by hand', routes: RW },
  'limit-better-sqlite3': { script: 'limit.js', group: 'limit', store: 'better-sqlite3', label: 'limit: better-sqlite3 by hand', dbs: ['sqlite'], routes: RW },
  'limit-redis': { script: 'limit.js', group: 'limit', store: 'redis', label: 'limit: Redis by hand', redis: true, dbIndependent: true, routes: RW },
  'limit-signed-cookies': {
    script: 'limit.js',
    group: 'limit',
    store: 'signed_cookies',
    label: 'limit: signed cookie by hand',
    dbIndependent: true,
    stateless: true,
    routes: RW,
  },
  'express-session': { kind: 'express-session', group: 'reference', label: 'express-session + connect-typeorm', platforms: ['express'], routes: ALL4 },
  django: { script: path.join('django', 'server.js'), group: 'django', label: 'Django 3.2 (gunicorn)', platforms: ['express'], routes: ALL4 },
};
/** The hand-written limit of each of our servers (same store), for "ours ÷ limit". */
const LIMIT_OF = {
  ours: 'limit',
  'ours-better-sqlite3': 'limit-better-sqlite3',
  'ours-cache': 'limit-redis',
  'ours-cached-db': 'limit-redis',
  'ours-signed-cookies': 'limit-signed-cookies',
};
/**
 * The default plan: which servers run in which section (platform × database), on which routes, so
 * that the whole run fits its time budget (~14 min for this script with 3 rounds; the scenarios get
 * ~5 more). Everything runs on Express + sqlite; the other sections measure what their targets
 * need. null: every server that applies.
 */
const PLAN = QUICK
  ? {
      // --quick: every server once, the reference rows on /read and /write only, no Fastify + PostgreSQL.
      'express/sqlite': { servers: null, routes: RW, allRoutes: ['bare', 'ours'] },
      'express/postgres': { servers: ['bare', 'ours', 'django'], routes: RW },
      'fastify/sqlite': { servers: ['bare', 'ours', 'ours-better-sqlite3'], routes: RW },
    }
  : {
      'express/sqlite': { servers: null },
      'express/postgres': { servers: ['bare', 'ours', 'ours-cached-db', 'limit', 'django'], routes: RW },
      // The hand-written limits run on Express only (ours ÷ limit is a property of the store, not of the platform).
      'fastify/sqlite': { servers: ['bare', 'ours', 'ours-better-sqlite3', 'ours-cache', 'ours-cached-db', 'ours-signed-cookies'] },
      'fastify/postgres': { servers: ['bare', 'ours'], routes: RW },
    };
/** The profiled pass: these servers once more under node --cpu-prof, Express, /read and /write. */
/** The profiled pass runs by default, but not with --quick (--profile-pass asks for it). */
const PROFILE_PASS_ON = opt['profile-pass'] ?? !QUICK;
const PROFILE_PASS = QUICK
  ? { sqlite: ['bare', 'ours'] }
  : { sqlite: ['bare', 'ours', 'ours-better-sqlite3', 'ours-cache', 'ours-signed-cookies'], postgres: ['ours'] };
/** The issue's targets: this server's req/s ÷ bare Nest's (same section, same rounds). */
function targetsOf(d, id) {
  const spec = d.servers[id]?.spec;
  if (!spec || spec.group !== 'ours') return [];
  const out = [];
  const driver = spec.env?.BENCH_DRIVER === 'better-sqlite3' || CONFIG.driver === 'better-sqlite3' ? 'better-sqlite3' : 'sqlite3';
  if (spec.engine === 'db') {
    if (d.db === 'postgres') out.push({ store: 'db, PostgreSQL', read: 0.5, write: 0.4 });
    else if (driver === 'better-sqlite3') out.push({ store: 'db, better-sqlite3', read: 0.75, write: 0.45 });
    else out.push({ store: 'db, sqlite3', read: 0.55, write: 0.35 });
    if (id === 'ours') out.push({ store: 'db (a route without the session)', none: 0.95, 'none-cookie': 0.95 });
  } else if (spec.engine === 'cache' || spec.engine === 'cached_db') out.push({ store: `${spec.engine}, Redis`, read: 0.7, write: 0.6 });
  else if (spec.engine === 'signed_cookies') out.push({ store: 'signed_cookies', read: 0.9, write: 0.85 });
  return out.flatMap((t) => ['none', 'none-cookie', 'read', 'write'].filter((r) => t[r] !== undefined).map((route) => ({ store: t.store, route, goal: t[route] })));
}
const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Every Redis key of this run starts with it (one prefix per server start below it); deleted by SCAN + DEL at the end. */
const RUN_PREFIX = `djs-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
if (!['OFF', 'NORMAL', 'FULL', 'EXTRA'].includes(CONFIG.sync)) die(`--sync takes OFF, NORMAL, FULL or EXTRA, got ${opt.sync}`);
if (!['sqlite', 'better-sqlite3'].includes(CONFIG.driver)) die(`--driver takes sqlite or better-sqlite3, got ${opt.driver}`);
for (const n of ['connections', 'rounds', 'duration']) {
  if (!(CONFIG[n] > 0)) die(`--${n} must be a positive number`);
}
if (!(CONFIG.warmup >= 0)) die('--warmup must be 0 or more seconds');
const SERVERS_GIVEN = opt.servers !== undefined;
const SPECS = (opt.servers ?? Object.keys(CATALOG).join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
  .map((id) => {
    const c = CATALOG[id];
    if (!c) die(`unknown server ${id} (known: ${Object.keys(CATALOG).join(', ')})`);
    return { id, env: {}, ...c };
  });
// --variant 'name:VAR=value;VAR2=value': one more build/config of our module, for A/B experiments.
for (const v of opt.variant ?? []) {
  const m = /^([\w-]+):(.*)$/.exec(v);
  if (!m) die(`--variant takes name:VAR=value;VAR2=value, got ${v}`);
  const env = Object.fromEntries(m[2].split(';').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  SPECS.push({ id: `ours:${m[1]}`, kind: 'ours', group: 'variant', engine: 'db', label: `ours, db engine (${m[1]})`, env, routes: ALL4 });
}
const PLATFORMS = (opt.platforms ?? 'express,fastify').split(',').map((x) => x.trim());
for (const p of PLATFORMS) if (!['express', 'fastify'].includes(p)) die(`unknown platform ${p} (express, fastify)`);
const OUT = path.resolve(opt.out ?? (QUICK ? path.join(BENCH, '.tmp', 'results-quick') : path.join(BENCH, 'results')));
const TMP = path.join(BENCH, '.tmp');

const ALL_ROUTES = [
  { id: 'none', label: '/none', method: 'GET', path: '/none', cookie: false },
  { id: 'none-cookie', label: '/none + cookie', method: 'GET', path: '/none', cookie: true },
  { id: 'read', label: '/read', method: 'GET', path: '/read', cookie: true },
  { id: 'write', label: '/write', method: 'POST', path: '/write', cookie: true },
];
const ROUTE = Object.fromEntries(ALL_ROUTES.map((r) => [r.id, r]));
for (const id of opt.routes?.split(',') ?? []) {
  if (!ROUTE[id]) die(`unknown route ${id} (known: ${ALL_ROUTES.map((r) => r.id).join(', ')})`);
}
/** The routes --routes keeps (all by default); every server's statements are counted on these. */
const ROUTES = opt.routes ? ALL_ROUTES.filter((r) => opt.routes.split(',').includes(r.id)) : ALL_ROUTES;

if (opt.help) {
  console.log(`node bench/run.js [options]   (npm run bench -- [options])
  --quick            smoke run: 1 round × 1 s per route, no warm-up, every server once on Express + sqlite
                     (the reference rows on /read and /write only), fewer on PostgreSQL and Fastify +
                     sqlite (/read and /write), none on Fastify + PostgreSQL, no profiled pass, then
                     bench/scenarios.js --quick (under 3 min in all); report in bench/.tmp/results-quick
  --rounds N         rounds; each starts every server once, in turn (default 3)
  --duration S       seconds per route and round (default 2; autocannon counts whole seconds)
  --warmup S         warm-up seconds after each server start, all its routes at once (default 1)
  --connections N    autocannon connections = concurrent clients with distinct sessions (default 10)
  --db LIST          sqlite,postgres (default: sqlite, plus postgres when TEST_POSTGRES_URL is set)
  --platforms LIST   express,fastify (default both)
  --servers LIST     a subset of: ${Object.keys(CATALOG).join(', ')}
                     (default: the plan in the report header; every named server then runs on every
                     platform and database it applies to, on all its routes). The Redis servers are left
                     out with a note when Redis does not answer at BENCH_REDIS_URL (default
                     redis://127.0.0.1:6379); django when gunicorn/Django is not installed (exit code 3).
  --routes LIST      none,none-cookie,read,write (default: each server's own routes)
  --variant N:ENV    adds our module (db engine) once more with extra environment, e.g. for an A/B
                     experiment: --variant 'patched:BENCH_LIB=/abs/path/dist/src/index.js'
                     or --variant 'traced:BENCH_SQLITE3_TRACE=on' (TypeORM's traced node-sqlite3)
  --sync LEVEL       PRAGMA synchronous on sqlite: NORMAL (default) | FULL | OFF, for experiments
  --driver NAME      TypeORM sqlite driver of every app but ours-better-sqlite3: sqlite (default,
                     node-sqlite3) | better-sqlite3
  --profile          run every server of every round under node --cpu-prof (per-route summaries)
  --no-profile-pass  no profiled pass (by default, but not with --quick, ours and bare run once more
                     under --cpu-prof on /read and /write, Express, one start per main store, summarised
                     by category; --profile-pass turns it on with --quick)
  --no-scenarios     do not run bench/scenarios.js afterwards (also skipped with --servers or --variant)
  --out DIR          where to write the report (default bench/results; --quick: bench/.tmp/results-quick)
  --rerender         no run: writes report.md and the charts again from results.json in --out`);
  process.exit(0);
}

function die(message) {
  console.error(`bench: ${message}`);
  process.exit(1);
}

const log = (...args) => console.log(...args);
/** A timer that does not keep the process alive. */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());

// ---- databases ---------------------------------------------------------------------------------

function preparePostgres(url) {
  return ensurePostgresDatabase(url, process.env.BENCH_POSTGRES_DB ?? 'djs_bench');
}

async function resetPostgres(url) {
  const c = await pgClient(url);
  try {
    // The bench's own database: every table in it (ours, connect-typeorm's, Django's) goes, so
    // each server starts on an empty database (Django's migrate then creates its tables again).
    const { rows } = await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    if (rows.length > 0) await c.query(`DROP TABLE IF EXISTS ${rows.map((r) => `"${r.tablename.replace(/"/g, '""')}"`).join(', ')} CASCADE`);
  } finally {
    await c.end();
  }
}

// ---- Redis (cache, cached_db) and the file engine's directory -----------------------------------

/** A client of the bench's Redis, or null when none answers (bench/lib/scenarios-common.js). */
const redisClient = () => sharedRedisClient(REDIS_URL);
/** Deletes the keys under `prefix` (SCAN MATCH + DEL; the Redis is shared, so never FLUSHDB); returns how many. */
const deleteRedisKeys = (prefix) => sharedDeleteRedisKeys(REDIS_URL, prefix);

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

/** A server that left itself out (exit code 3, e.g. Django not installed), with its reason. */
class LeftOut extends Error {}

/** The script a spec runs (bench/server.js unless it names another). */
const scriptOf = (spec) => path.join(BENCH, spec.script ?? 'server.js');

async function startServer(spec, ctx, pinning, profileDir, extraEnv = {}) {
  const kind = spec.id;
  const env = {
    ...process.env,
    BENCH_DB: ctx.db,
    BENCH_PLATFORM: ctx.platform,
    BENCH_SYNC: CONFIG.sync,
    BENCH_DRIVER: CONFIG.driver,
    ...spec.env,
    ...extraEnv,
  };
  if (spec.kind) Object.assign(env, { BENCH_KIND: spec.kind, BENCH_ENGINE: spec.engine ?? 'db' });
  if (spec.store) {
    env.BENCH_STORE =
      spec.store === 'db' ? (ctx.db === 'postgres' ? 'postgres' : CONFIG.driver === 'better-sqlite3' ? 'better-sqlite3' : 'sqlite3') : spec.store;
  }
  if (ctx.db === 'sqlite') env.BENCH_SQLITE = sqlitePath(kind.replace(/\W/g, '_'));
  else {
    env.BENCH_PG_URL = ctx.url;
    await resetPostgres(ctx.url);
  }
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  try {
    return await spawnServer({ script: scriptOf(spec), env, pinning, cwd: ROOT, name: `"${kind}" on ${ctx.platform}/${ctx.db}`, nodeArgs });
  } catch (error) {
    if (error instanceof ServerUnavailable) throw new LeftOut(error.message);
    throw error;
  }
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
async function createSessions(spec, port) {
  const cookies = [];
  const c = client(port);
  try {
    for (let i = 0; i < CONFIG.connections; i++) {
      const res = await c.request('POST', '/write');
      if (res.status !== 200) throw new Error(`POST /write answered ${res.status}: ${res.body}`);
      if (res.setCookie) cookies.push(res.setCookie);
      else if (spec.group === 'bare') cookies.push(`sessionid=${randomBytes(16).toString('hex')}`); // same size as a real one
      else throw new Error('POST /write set no cookie');
    }
  } finally {
    c.close();
  }
  return cookies;
}

/** SQL statements per request, per route: N sequential requests, the server's counter before and after. */
async function countStatements(server, port, cookies) {
  const first = await server.stats({ texts: true });
  // A server that does not count SQL (bench/limit.js may not; Django does not use TypeORM).
  if (!first.queries) return null;
  const out = {};
  const c = client(port);
  try {
    for (const route of ROUTES) {
      const before = await server.stats({ texts: true });
      const n = CONFIG.countRequests;
      for (let i = 0; i < n; i++) {
        const res = await c.request(route.method, route.path, route.cookie ? cookies[i % cookies.length] : undefined);
        if (res.status !== 200) throw new Error(`${route.method} ${route.path} answered ${res.status}: ${res.body}`);
      }
      const after = await server.stats({ texts: true });
      const q = (k) => (after.queries[k] - before.queries[k]) / n;
      const beforeTexts = new Map(before.texts ?? []);
      const statements = (after.texts ?? [])
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


/** One measured round of the given routes on a running server. */
async function measureRound(spec, server, cookies, round, result, routes) {
  const { port } = server;
  for (const route of routes) {
    const countersBefore = route.id === 'write' && spec.group !== 'bare' ? await readCounters(port, cookies) : null;
    const s0 = await server.stats({ reset: true });
    const t0 = process.hrtime.bigint();
    const loader0 = process.cpuUsage();
    const { result: r, okByCookie, latencies } = await load(port, route, CONFIG.duration, cookies);
    const t1 = process.hrtime.bigint();
    const loader1 = process.cpuUsage(loader0);
    const s1 = await server.stats();
    const requests = r.requests.total;
    const wallUs = Number(t1 - t0) / 1000;
    const sqlOf = (s) => (s.queries ? s.queries.select + s.queries.write + s.queries.other : NaN);
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
      sqlPerReq: (sqlOf(s1) - sqlOf(s0)) / Math.max(1, requests),
      rssMB: Number.isFinite(s1.rss) ? s1.rss / 2 ** 20 : NaN,
      loopP99: s1.loopDelay?.p99 ?? NaN,
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
 * The routes a server is timed on in a section: its own, or (the plan's `routes`) only those of
 * them, unless the plan's `allRoutes` names it; a server timed on two routes keeps them.
 */
function routesFor(spec, plan) {
  if (opt.routes) return ROUTES;
  const limited = plan?.routes && !plan.allRoutes?.includes(spec.id) && spec.routes.length > 2;
  return ROUTES.filter((r) => spec.routes.includes(r.id) && (!limited || plan.routes.includes(r.id)));
}

/** A fresh result record of one server in one section. */
function newResult(spec, routes) {
  return {
    spec,
    routes: routes.map((r) => r.id),
    settings: null,
    sql: null,
    lostUpdate: null,
    roundChecks: [],
    rounds: Object.fromEntries(ALL_ROUTES.map((r) => [r.id, []])),
    windows: Object.fromEntries(ALL_ROUTES.map((r) => [r.id, []])),
    profileParts: Object.fromEntries(ALL_ROUTES.map((r) => [r.id, []])),
    profileFiles: [],
    failed: null,
    leftOut: null,
  };
}

/**
 * One start of one server: fresh database, one session per connection, (first start only) the SQL
 * count and the strict lost-update check, warm-up, one measured round of its routes, stop.
 */
async function runServerOnce(spec, ctx, pinning, round, result, { profile = opt.profile, checks = true, warmup = CONFIG.warmup } = {}) {
  const routes = result.routes.map((id) => ROUTE[id]);
  const safeId = spec.id.replace(/\W/g, '_');
  const profileDir = profile ? path.join(TMP, 'profiles', `${ctx.platform}-${ctx.db}-${safeId}-r${round}-${Date.now()}`) : null;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  log(`[${ctx.platform}/${ctx.db}] round ${round}/${CONFIG.rounds}: ${spec.label}${profile ? ' (profiled)' : ''}`);
  const extraEnv = {};
  if (spec.redis) Object.assign(extraEnv, { BENCH_REDIS_URL: REDIS_URL, BENCH_REDIS_PREFIX: `${RUN_PREFIX}-${ctx.platform}-${ctx.db}-${safeId}-r${round}` });
  if (spec.engine === 'file') extraEnv.BENCH_FILE_PATH = sessionDir(safeId);
  const startedAt = Date.now();
  const server = await startServer(spec, ctx, pinning, profileDir, extraEnv);
  const phases = [['start', Date.now()]];
  const phase = (name) => phases.push([name, Date.now()]);
  result.settings = server.settings;
  const windowsBefore = Object.fromEntries(routes.map((r) => [r.id, result.windows[r.id].length]));
  try {
    const { port } = server;
    const cookies = await createSessions(spec, port);
    phase('sessions');
    if (checks && result.sql === null) {
      result.sql = (await countStatements(server, port, cookies)) ?? false;
      if (result.sql) {
        log(
          `  SQL/request: ${ROUTES.map((r) => `${r.label} ${result.sql[r.id].select}S+${result.sql[r.id].write}W+${result.sql[r.id].other}O`).join(', ')}` +
            (spec.redis ? `; Redis/request: ${ROUTES.map((r) => `${r.label} ${opsText(result.sql[r.id].redis)}`).join(', ')}` : '') +
            (spec.engine === 'file' ? `; file ops/request: ${ROUTES.map((r) => `${r.label} ${opsText(result.sql[r.id].files)}`).join(', ')}` : ''),
        );
      }
      if (spec.group !== 'bare' && spec.group !== 'integrations' && ROUTES.some((r) => r.id === 'write')) {
        result.lostUpdate = await lostUpdateCheck(port, cookies, spec.stateless);
        log(`  lost-update check (${cookies.length} clients × ${CONFIG.lostUpdateWrites} writes): ${result.lostUpdate.passed ? 'ok' : 'FAILED'}`);
      }
    }
    phase('checks');
    if (warmup > 0) await Promise.all(routes.map((route) => load(port, route, warmup, cookies)));
    phase('warm-up');
    await measureRound(spec, server, cookies, round, result, routes);
    phase('measured');
  } finally {
    const exit = await server.stop();
    phase('stop');
    if (exit && exit.code !== 0 && exit.code !== null) log(`  server exited with ${exit.code}`);
    if (ctx.db === 'sqlite') sqlitePath(safeId); // removes the file
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
      const profileData = JSON.parse(readFileSync(file, 'utf8'));
      result.profileFiles.push(path.relative(ROOT, file));
      for (const route of routes) {
        const windows = result.windows[route.id].slice(windowsBefore[route.id]);
        result.profileParts[route.id].push(...windows.map(([a, b]) => summarise(profileData, a, b)));
      }
    }
  }
}

/** Merges the per-window profile summaries of a server into one per route. */
function finishProfiles(result) {
  if (result.profileFiles.length > 0) {
    result.profile = Object.fromEntries(
      result.routes.map((id) => [id, mergeSummaries(result.profileParts[id], result.rounds[id].slice(-result.profileParts[id].length).reduce((s, x) => s + x.requests, 0))]),
    );
  }
  delete result.profileParts;
}

/**
 * All servers of one section (platform × database), round-robin: every round starts each server
 * in turn (one at a time), so the servers compared in a round ran within a minute or two of each other.
 */
async function benchSection(ctx, specs, plan, pinning, failures, leftOut) {
  const results = {};
  for (const spec of specs) results[spec.id] = newResult(spec, routesFor(spec, plan));
  for (let round = 1; round <= CONFIG.rounds; round++) {
    // Rotate the order so no server always runs first (or right after another).
    const order = specs.map((_, i) => specs[(i + round - 1) % specs.length]);
    for (const spec of order) {
      const result = results[spec.id];
      if (result.failed || result.leftOut) continue;
      try {
        await runServerOnce(spec, ctx, pinning, round, result);
      } catch (error) {
        if (error instanceof LeftOut) {
          result.leftOut = error.message;
          leftOut.push({ id: spec.id, label: spec.label, reason: error.message });
          log(`bench: ${spec.label} left out on ${ctx.platform}/${ctx.db}: ${error.message}`);
          continue;
        }
        result.failed = error.message;
        failures.push(`${ctx.platform}/${ctx.db}/${spec.id}: ${error.message}`);
        console.error(`bench: ${ctx.platform}/${ctx.db}/${spec.id} failed: ${error.stack ?? error}`);
      }
    }
  }
  for (const result of Object.values(results)) finishProfiles(result);
  return Object.fromEntries(Object.entries(results).filter(([, r]) => !r.failed && !r.leftOut));
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
  for (const route of ALL_ROUTES) {
    const rounds = serverResult.rounds[route.id] ?? [];
    const rps = rounds.map((r) => r.rps);
    out[route.id] = {
      measured: rounds.length > 0,
      rps: median(rps),
      rpsMin: min(rps),
      rpsMax: max(rps),
      p50: median(rounds.map((r) => r.p50)),
      p99: median(rounds.map((r) => r.p99)),
      cpu: median(rounds.map((r) => r.cpuUsPerReq)),
      cpuOtherThreads: median(rounds.map((r) => r.otherThreadsUsPerReq)),
      serverBusy: median(rounds.map((r) => r.serverBusy)),
      loaderBusy: median(rounds.map((r) => r.loaderBusy)),
      rssMB: max(rounds.map((r) => r.rssMB)),
      loopP99: median(rounds.map((r) => r.loopP99)),
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

/** CPU µs per request of a server on a route (median over rounds), NaN when not measured. */
const cpuOf = (d, id, route) => d.summary[id]?.[route]?.cpu ?? NaN;

/**
 * The issue's targets in one section, each with the reason in microseconds: what ours spends over
 * bare Nest (CPU per request: the server is CPU-bound on its one core) against what the goal
 * allows, and what ours spends over the hand-written limit of the same store.
 */
function evaluateTargets(d) {
  const out = [];
  for (const id of Object.keys(d.servers)) {
    for (const t of targetsOf(d, id)) {
      if (!d.servers.bare || !d.summary[id][t.route].measured) continue;
      const { rps, cpu } = pairRatio(d, id, 'bare', t.route);
      const bare = cpuOf(d, 'bare', t.route);
      const ours = cpuOf(d, id, t.route);
      const limitId = LIMIT_OF[id];
      const limitMeasured = limitId && d.servers[limitId] && d.summary[limitId][t.route].measured;
      const limit = limitMeasured ? cpuOf(d, limitId, t.route) : NaN;
      out.push({
        server: id,
        store: t.store,
        route: t.route,
        goal: t.goal,
        rps,
        cpuRatio: cpu,
        met: Number.isFinite(rps) ? rps >= t.goal : null,
        oursCpu: ours,
        bareCpu: bare,
        overBare: ours - bare,
        // At goal × bare's req/s, a request may cost bare ÷ goal of CPU: this much more than bare's.
        allowedOverBare: bare / t.goal - bare,
        limitId: limitMeasured ? limitId : null,
        limitCpu: limit,
        limitRatio: limitMeasured ? pairRatio(d, limitId, 'bare', t.route).rps : NaN,
        oursOverLimit: ours - limit,
        oursVsLimit: limitMeasured ? pairRatio(d, id, limitId, t.route).rps : NaN,
      });
    }
  }
  return out;
}

/** A target's reason in words (for a miss, and the console). */
function targetReason(t) {
  const parts = [
    `ours ${fmt(t.oursCpu)} µs CPU/request, ${fmt(t.overBare)} µs over bare (${fmt(t.bareCpu)}); ${fmtRatio(t.goal)} bare allows ${fmt(t.allowedOverBare)} µs over bare`,
  ];
  if (t.limitId) {
    parts.push(
      `the hand-written limit spends ${fmt(t.limitCpu - t.bareCpu)} µs over bare (${fmtRatio(t.limitRatio)} bare): ours is ${fmt(t.oursOverLimit)} µs over the limit`,
    );
  }
  return parts.join('; ');
}

/**
 * What each engine must cost per request (checked, as the db engine's SQL counts are), in SQL
 * statements, Redis commands and file operations; `files` lists only the operations checked.
 */
const ENGINE_OPS = {
  db: { read: { sql: [1, 0], redis: {} }, write: { sql: [1, 1], redis: {}, atMost: true } },
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

/**
 * The correctness checks of one section: `gate` ones fail the run (statement and store-operation
 * counts of ours, no lost update and all 2xx for ours and the limit apps); the others (Django's,
 * express-session's) are reported only.
 */
function evaluateChecks(d) {
  const t = [];
  const routeIds = new Set(ROUTES.map((r) => r.id));
  for (const [id, result] of Object.entries(d.servers)) {
    const spec = result.spec;
    const ours = spec.group === 'ours' || spec.group === 'variant' || spec.group === 'integrations';
    const gate = ours || spec.group === 'limit';
    const sql = result.sql;
    if (ours && sql) {
      const touchesNothing = (q) => q.select + q.write + q.other === 0 && sumValues(q.redis) === 0 && sumValues(q.files) === 0;
      if (routeIds.has('none')) t.push({ server: id, name: '/none: no store operation', measured: opsMeasured(spec, sql.none), met: touchesNothing(sql.none), gate: true });
      if (routeIds.has('none-cookie')) {
        if (spec.group === 'integrations') {
          // passport.session() reads the session of a request with a cookie (as with express-session): one SELECT, never a write.
          const q = sql['none-cookie'];
          t.push({
            server: id,
            name: '/none + cookie: passport.session() reads the session (≤ 1 SELECT), writes nothing',
            measured: opsMeasured(spec, q),
            met: q.select <= 1 && q.write === 0 && q.other === 0,
            gate: true,
          });
        } else t.push({ server: id, name: '/none + cookie: no store operation', measured: opsMeasured(spec, sql['none-cookie']), met: touchesNothing(sql['none-cookie']), gate: true });
      }
      for (const r of ['read', 'write'].filter((x) => routeIds.has(x))) {
        const want = ENGINE_OPS[spec.engine ?? 'db'][r];
        const q = sql[r];
        const sqlOk = want.atMost
          ? q.select <= want.sql[0] && q.write <= want.sql[1] && q.other === 0
          : q.select === want.sql[0] && q.write === want.sql[1] && q.other === 0;
        const redisOk = JSON.stringify(Object.entries(q.redis).sort()) === JSON.stringify(Object.entries(want.redis).sort());
        const filesOk = Object.entries(want.files ?? {}).every(([k, v]) => (q.files[k] ?? 0) === v);
        const wantText =
          `${want.sql[0] + want.sql[1] === 0 ? '0 SQL' : `${want.atMost ? '≤ ' : ''}${want.sql[0]} SELECT + ${want.sql[1]} write`}` +
          (spec.redis ? `, Redis ${opsText(want.redis)}` : '') +
          (want.files ? `, ${Object.entries(want.files).filter(([, v]) => v > 0).map(([k, v]) => `${v} ${k}`).join(' + ')}, no other write` : '');
        t.push({ server: id, name: `/${r}: ${wantText}`, measured: opsMeasured(spec, q), met: sqlOk && redisOk && filesOk, gate: true });
      }
    }
    const lu = result.lostUpdate;
    if (lu) {
      t.push({
        server: id,
        name: `no lost update, ${lu.clients.length} concurrent clients with distinct sessions`,
        measured:
          `${lu.clients.length} clients × ${lu.writesPerClient} writes${spec.stateless ? ' (each sending back the cookie it was last given)' : ''}: every counter grew by ${[...new Set(lu.clients.map((c) => c.grew))].join('/')}; ` +
          `timed /write rounds: ${result.roundChecks.filter((r) => r.passed).length}/${result.roundChecks.length} consistent` +
          (spec.stateless ? ' (a replayed cookie still reads its own counter)' : ''),
        met: lu.passed && result.roundChecks.every((r) => r.passed),
        gate,
      });
    }
    const failed = result.routes.reduce((n, r) => n + d.summary[id][r].non2xx + d.summary[id][r].errors, 0);
    t.push({ server: id, name: 'every request answered 2xx under load', measured: `${failed} non-2xx/errors`, met: failed === 0, gate });
  }
  return t;
}


// ---- report ------------------------------------------------------------------------------------

function gitDescribe() {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src', 'migrations'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim();
  return head ? `${head}${dirty ? ' + uncommitted changes in src/' : ''}` : 'unknown';
}

const PLATFORM_NAME = { express: 'Express', fastify: 'Fastify' };
const sectionTitle = (d) => `${PLATFORM_NAME[d.platform]} · ${d.db === 'sqlite' ? 'sqlite' : 'PostgreSQL'}`;

function dbDescription(d) {
  if (d.db === 'sqlite') {
    const st = Object.values(d.servers).find((s) => s.settings?.journal_mode)?.settings ?? {};
    const syncNames = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];
    return (
      `sqlite file on local disk, a fresh file per server start; every Nest app's DataSource from the library's \`sqliteDataSourceOptions({ driver: '${CONFIG.driver === 'better-sqlite3' ? 'better-sqlite3' : 'sqlite3'}' })\` ` +
      `(node-sqlite3 without TypeORM's verbose() tracing; "better-sqlite3" rows: \`driver: 'better-sqlite3'\`): ` +
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

const mark = (met) => (met === null ? '–' : met ? '✓' : '✗');
const us = (x) => (Number.isFinite(x) ? `${fmt(x)} µs` : '–');

/** The profile of one server on one route as coarse groups: [[group, µs per request]], and the total. */
function coarse(p) {
  if (!p || !p.requests) return null;
  const groups = new Map();
  for (const [cat, t] of p.byCategory) groups.set(coarseCategory(cat), (groups.get(coarseCategory(cat)) ?? 0) + t);
  const idle = groups.get(IDLE) ?? 0;
  // The total is the busy time: idle (the main thread waiting for I/O) is shown apart.
  return { total: (p.totalUs - idle) / p.requests, groups: Object.fromEntries([...groups].map(([g, t]) => [g, t / p.requests])) };
}
const IDLE = 'idle (waiting for I/O)';

/** "Where the microseconds go": one table per route, one column per profiled server. */
function profileTables(L, entries, routes) {
  for (const route of routes) {
    const cols = entries.filter((e) => coarse(e.profile?.[route]));
    if (cols.length === 0) continue;
    const bare = cols.find((e) => e.id === 'bare');
    const c = (e) => coarse(e.profile[route]);
    L.push(`**${ROUTE[route].label}** (µs per request; in brackets, more than bare Nest)`, '');
    L.push(`| where (main thread, self time) | ${cols.map((e) => `${e.label}${e.db ? ` (${e.db})` : ''}`).join(' | ')} |`);
    L.push(`|---|${cols.map(() => '---:').join('|')}|`);
    const cell = (e, v, b) => `${fmt(v, 1)}${bare && e !== bare && Number.isFinite(b) ? ` (${v - b >= 0 ? '+' : ''}${fmt(v - b, 1)})` : ''}`;
    for (const g of COARSE_ORDER.filter((x) => x !== IDLE)) {
      if (cols.every((e) => !(c(e).groups[g] > 0.05))) continue;
      L.push(`| ${g} | ${cols.map((e) => cell(e, c(e).groups[g] ?? 0, bare ? (c(bare).groups[g] ?? 0) : NaN)).join(' | ')} |`);
    }
    L.push(`| **total main thread, busy** | ${cols.map((e) => `**${cell(e, c(e).total, bare ? c(bare).total : NaN)}**`).join(' | ')} |`);
    L.push(`| ${IDLE} | ${cols.map((e) => fmt(c(e).groups[IDLE] ?? 0, 1)).join(' | ')} |`);
    L.push(`| CPU, all threads (this profiled run) | ${cols.map((e) => us(e.cpu?.[route])).join(' | ')} |`);
    L.push('');
  }
}

function markdown(sections, meta) {
  const L = [];
  L.push(`# Session benchmark: nestjs-django-session vs bare Nest, the hand-written limit, Django and express-session`, '');
  L.push(`Run ${meta.date} · commit ${meta.commit} · Node ${meta.node ?? process.version} · ${meta.cpu} · ${meta.pinning.note}.`, '');
  L.push(
    `autocannon, ${CONFIG.connections} connections (each with its own session, created by a /write first), on 127.0.0.1. ` +
      `${CONFIG.rounds} round${CONFIG.rounds > 1 ? 's' : ''}; in each round every server of a section is started in turn, ${CONFIG.warmup > 0 ? `warmed up (${CONFIG.warmup} s, all its routes at once)` : 'not warmed up (but by the checks of its first start)'}, driven ${CONFIG.duration} s per route, and stopped. ` +
      `Figures are medians over the rounds; ratios compare servers round by round (median of the per-round ratios). ` +
      `The targets are req/s ratios to bare Nest on the same platform, in the same rounds. ` +
      `CPU/request = the server process's CPU time (all threads, so sqlite's worker threads too; Django: all gunicorn processes, as its server reports) ÷ requests answered: steadier than req/s on a shared machine, and the unit of the "why" columns.` +
      (meta.quick ? ' **--quick run: one short round, the numbers are only indicative.**' : ''),
    '',
  );
  L.push(
    `The servers: **bare Nest** (same app, no session); **ours** (this module; one row per engine and sqlite driver); ` +
      `**limit** (bench/limit.js: a bare Nest app whose /read and /write do the session work by hand — cookie regex, one prepared statement or Redis GET, HMAC, JSON — the floor any session layer on that store pays); ` +
      `**Django 3.2** under gunicorn (bench/django/server.js, the same routes; Express sections only, it has no platform); ` +
      `**express-session + connect-typeorm** (a reference row, Express only); **ours + requestSession + Passport** (\`passport.initialize()\` + \`passport.session()\` on every request, /none routes only). ` +
      (CONFIG.redisVersion ? `The Redis servers use Redis ${CONFIG.redisVersion} at 127.0.0.1 (a key prefix of their own per server start, deleted afterwards; Redis is not pinned). ` : '') +
      'Fastify: bare Nest on Fastify needs so little CPU per request that the load generator (one core) may be what limits its req/s; the CPU/request ratios in brackets do not depend on that.',
    '',
  );
  L.push('**What runs where** (chosen to fit the time budget: everything on Express + sqlite; on Fastify and PostgreSQL, what their targets need):', '');
  for (const d of sections) {
    L.push(`- ${sectionTitle(d)}: ${Object.entries(d.servers).map(([id, r]) => `${id} (${r.routes.map((x) => ROUTE[x].label).join(', ')})`).join('; ')}`);
  }
  L.push('');
  L.push(
    `Whole run: **${meta.runtime}** (rounds ${meta.phases?.rounds ?? '–'}, profiled pass ${meta.phases?.profilePass ?? '–'}, scenarios ${meta.phases?.scenarios ?? '–'}).`,
    '',
  );
  for (const note of meta.notes ?? []) L.push(`**Note:** ${note}`, '');
  if (meta.scenarios) L.push(`**Scenarios** (10 KB sessions, 1,000,000 live rows, a soak): ${meta.scenarios}`, '');

  // -- targets at a glance
  const withTargets = sections.filter((d) => d.targets.length > 0);
  if (withTargets.length > 0) {
    L.push('## Targets', '');
    L.push('req/s ÷ bare Nest on the same platform and route, same rounds (CPU/request ratio in brackets); ✓ met, ✗ missed. Reported, never enforced.', '');
    const keys = [];
    for (const d of withTargets) for (const t of d.targets) if (!keys.some((k) => k.store === t.store && k.route === t.route)) keys.push(t);
    L.push(`| target | goal | ${withTargets.map(sectionTitle).join(' | ')} |`);
    L.push(`|---|---:|${withTargets.map(() => '---:').join('|')}|`);
    for (const k of keys) {
      const cells = withTargets.map((d) => {
        const t = d.targets.find((x) => x.store === k.store && x.route === k.route);
        return t ? `${t.met === false ? '**' : ''}${fmtRatio(t.rps)}${t.met === false ? '**' : ''} (${fmtRatio(t.cpuRatio)}) ${mark(t.met)}` : '';
      });
      L.push(`| ${k.store} ${ROUTE[k.route].label} | ≥ ${k.goal.toFixed(2)} | ${cells.join(' | ')} |`);
    }
    L.push('');
    const misses = withTargets.flatMap((d) => d.targets.filter((t) => t.met === false).map((t) => [d, t]));
    if (misses.length > 0) {
      L.push('### The misses, in microseconds', '');
      L.push(
        'CPU per request (the server is CPU-bound on its one core): what ours spends over bare Nest, what the goal allows over bare (bare ÷ goal − bare), and what ours spends over the hand-written limit of the same store (the part a leaner session layer could still save; the rest the store itself costs).',
        '',
      );
      for (const [d, t] of misses) L.push(`- ${sectionTitle(d)}, ${t.store} ${ROUTE[t.route].label}: ${fmtRatio(t.rps)} < ${t.goal.toFixed(2)}. ${targetReason(t)}.`);
      L.push('');
    }
  }

  for (const d of sections) {
    const s = d.summary;
    const ids = Object.keys(d.servers);
    L.push(`## ${sectionTitle(d)}`, '', dbDescription(d), '');
    if (d.leftOut?.length) L.push(`Left out: ${d.leftOut.map((x) => `${x.label} (${x.reason})`).join('; ')}.`, '');
    L.push(`![requests per CPU-second per route, ${sectionTitle(d)}](${d.key}.svg)`, '');
    L.push('| route | server | req/s (min–max) | p50 ms | p99 ms | CPU µs/req (off main thread) | ÷ bare, req/s (CPU/req) | ours ÷ limit, req/s | RSS MB | loop delay p99 ms |');
    L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const route of ALL_ROUTES) {
      for (const id of ids) {
        const x = s[id][route.id];
        if (!x.measured) continue;
        const vb = id !== 'bare' && d.servers.bare ? pairRatio(d, id, 'bare', route.id) : null;
        const lim = LIMIT_OF[id] && d.servers[LIMIT_OF[id]] && s[LIMIT_OF[id]][route.id].measured ? pairRatio(d, id, LIMIT_OF[id], route.id).rps : NaN;
        L.push(
          `| ${route.label} | ${d.servers[id].spec.label} | ${fmt(x.rps)} (${fmt(x.rpsMin)}–${fmt(x.rpsMax)}) | ${fmt(x.p50, 2)} | ${fmt(x.p99, 2)} | ` +
            `${fmt(x.cpu)} (${fmt(x.cpuOtherThreads)}) | ${vb ? `${fmtRatio(vb.rps)} (${fmtRatio(vb.cpu)})` : ''} | ${Number.isFinite(lim) ? fmtRatio(lim) : ''} | ${fmt(x.rssMB)} | ${fmt(x.loopP99, 1)} |`,
        );
      }
    }
    L.push('');
    if (d.targets.length > 0) {
      L.push('### Targets, with the reason in microseconds', '');
      L.push('| store | route | goal | ÷ bare, req/s (CPU) | met | CPU µs/req: ours over bare (allowed) | limit ÷ bare | ours ÷ limit | ours − limit |');
      L.push('|---|---|---:|---:|---|---:|---:|---:|---:|');
      for (const t of d.targets) {
        L.push(
          `| ${t.store}${t.server === 'ours-cached-db' && t.limitId ? ' ¹' : ''} | ${ROUTE[t.route].label} | ${t.goal.toFixed(2)} | ${fmtRatio(t.rps)} (${fmtRatio(t.cpuRatio)}) | ${mark(t.met)} | ${fmt(t.overBare)} (${fmt(t.allowedOverBare)}) | ` +
            `${t.limitId ? fmtRatio(t.limitRatio) : '–'} | ${t.limitId ? fmtRatio(t.oursVsLimit) : '–'} | ${t.limitId ? us(t.oursOverLimit) : '–'} |`,
        );
      }
      if (d.targets.some((t) => t.server === 'ours-cached-db' && t.limitId)) {
        L.push('', "¹ cached_db's limit is the Redis one (GET; GET + SET): a cached_db /write also writes the table, which the limit does not.");
      }
      L.push('');
    }
    if (d.servers.django) {
      L.push('### Django 3.2 (gunicorn) on the same routes', '');
      const ourIds = ids.filter((id) => d.servers[id].spec.group === 'ours' && d.servers[id].spec.engine === 'db');
      L.push(`| route | Django req/s | Django CPU µs/req | ${ourIds.map((id) => `${d.servers[id].spec.label} ÷ Django, req/s (CPU)`).join(' | ')} |`);
      L.push(`|---|---:|---:|${ourIds.map(() => '---:').join('|')}|`);
      for (const route of ALL_ROUTES) {
        if (!s.django[route.id].measured) continue;
        const cells = ourIds.map((id) => {
          if (!s[id][route.id].measured) return '';
          const r = pairRatio(d, id, 'django', route.id);
          return `${fmtRatio(r.rps)} (${fmtRatio(r.cpu)})`;
        });
        L.push(`| ${route.label} | ${fmt(s.django[route.id].rps)} | ${fmt(s.django[route.id].cpu)} | ${cells.join(' | ')} |`);
      }
      L.push('');
    }
    if (d.servers['express-session'] && d.servers.ours) {
      L.push('### express-session + connect-typeorm (reference)', '');
      L.push('| route | express-session req/s | ours (db engine) ÷ express-session, req/s (CPU) |', '|---|---:|---:|');
      for (const route of ALL_ROUTES) {
        if (!s['express-session'][route.id].measured || !s.ours[route.id].measured) continue;
        const r = pairRatio(d, 'ours', 'express-session', route.id);
        L.push(`| ${route.label} | ${fmt(s['express-session'][route.id].rps)} | ${fmtRatio(r.rps)} (${fmtRatio(r.cpu)}) |`);
      }
      L.push('');
    }
    if (d.servers['ours-integrations']) {
      const x = d.servers['ours-integrations'];
      L.push('### requestSession + Passport on routes without the session', '');
      L.push(
        'Ours on the db engine with `requestSession: true` (middleware gets `req.session`) and Passport on Django\'s login keys (`useDjangoSessions(passport, { findUser })`, `passport.initialize()` + `passport.session()` on every request), on `GET /none`, whose handler never takes the session. ' +
          'Without a cookie nothing is read; with a cookie, `passport.session()` asks the session for a logged-in user, which reads it: one SELECT, as with express-session (which also writes it back). That is what Passport costs, reported here rather than hidden.',
        '',
      );
      L.push('| route | req/s | ÷ bare, req/s (CPU) | SQL per request |', '|---|---:|---:|---|');
      for (const route of ALL_ROUTES) {
        if (!s['ours-integrations'][route.id].measured) continue;
        const vb = d.servers.bare ? pairRatio(d, 'ours-integrations', 'bare', route.id) : null;
        L.push(`| ${route.label} | ${fmt(s['ours-integrations'][route.id].rps)} | ${vb ? `${fmtRatio(vb.rps)} (${fmtRatio(vb.cpu)})` : '–'} | ${sqlCell(x.sql?.[route.id])} |`);
      }
      L.push('');
    }
    const counted = ids.filter((id) => d.servers[id].sql);
    if (counted.length > 0) {
      L.push('### SQL statements per request', '');
      L.push(
        `Counted by a TypeORM logger over ${CONFIG.countRequests} sequential requests per route, with a session cookie where the route has one (S = SELECT, W = INSERT/UPDATE/DELETE, O = other, e.g. BEGIN/COMMIT); servers that do not report them (Django) are not listed.`,
        '',
      );
      L.push(`| route | ${counted.map((k) => d.servers[k].spec.label).join(' | ')} |`);
      L.push(`|---|${counted.map(() => '---').join('|')}|`);
      for (const route of ROUTES) L.push(`| ${route.label} | ${counted.map((k) => sqlCell(d.servers[k].sql?.[route.id])).join(' | ')} |`);
      L.push('');
    }
    const otherOps = counted.filter((id) => (d.servers[id].spec.redis || d.servers[id].spec.engine === 'file') && d.servers[id].spec.group === 'ours');
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
    if (d.checks.length > 0) {
      L.push('### Correctness checks', '');
      L.push('| server | check | measured | passed |', '|---|---|---|---|');
      for (const t of d.checks) L.push(`| ${d.servers[t.server].spec.label} | ${t.name} | ${t.measured} | ${t.met ? 'yes' : '**no**'}${t.gate ? ' (checked)' : ''} |`);
      L.push('', '"(checked)": the bench exits non-zero when it fails. Django\'s and express-session\'s checks are reported only.', '');
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
    const profiled = ids.filter((id) => d.servers[id].profile);
    if (profiled.length > 0) {
      L.push(`### Profile of every round (--profile)`, '');
      profileTables(
        L,
        profiled.map((id) => ({ id, label: d.servers[id].spec.label, profile: d.servers[id].profile, cpu: Object.fromEntries(ALL_ROUTES.map((r) => [r.id, s[id][r.id].cpu])) })),
        ALL_ROUTES.map((r) => r.id),
      );
    }
  }

  if (meta.profilePass?.length > 0) {
    L.push('## Where the remaining microseconds go', '');
    L.push(
      'A profiled pass after the rounds: each server started once more under `node --cpu-prof` (Express, /read and /write, ' +
        `${CONFIG.duration} s each), its main thread's samples in the measured windows summed by where the function lives. ` +
        '"our code" is dist/src and its `cookie` dependency (crypto\'s HMAC runs in native code: it counts under node core); "node http" is node core (crypto, zlib, streams included) with Express/Fastify and their dependencies; ' +
        '"V8/native" is V8\'s "(program)" and native functions: code with no JavaScript on the stack, such as the JIT compiler and native addons\' callbacks (node-sqlite3 turns rows into objects on the main thread); ' +
        'the database driver includes node-sqlite3\'s JavaScript (its queries run in libuv\'s pool: off the main thread, in the CPU row but not the main-thread total) and the module\'s direct driver calls (dist/src/backends/typeorm/direct-statements.js: better-sqlite3 runs each statement synchronously inside them). ' +
        'The samples are the main thread\'s wall-clock time while busy: on a machine shared with other work they can exceed its CPU time (last row). Profiling itself slows a request by some 10–20 %.',
      '',
    );
    L.push(`Profiles: ${meta.profilePass.flatMap((e) => e.files).map((f) => `\`${f}\``).join(', ')} (Chrome DevTools → Performance → Load profile).`, '');
    profileTables(L, meta.profilePass, RW);
  }

  L.push(
    '## Reproduce',
    '',
    '```sh',
    'npm ci',
    'npm run bench                        # everything (PostgreSQL too when TEST_POSTGRES_URL is set), then bench/scenarios.js',
    'npm run bench -- --quick             # smoke run, under 3 min',
    'npm run bench -- --servers bare,ours,limit --platforms express --db sqlite   # a narrow run',
    'node bench/run.js --help             # all options (after npm run build)',
    '```',
    '',
  );
  return L.join('\n');
}

/**
 * The chart of one section: for each route and server measured on it, requests per second of the
 * server's CPU (1,000,000 ÷ its median CPU µs per request), i.e. what one fully busy core serves.
 * On a shared machine that is far steadier than the req/s a round happened to get.
 */
function chartFor(d, date = new Date().toISOString().slice(0, 10)) {
  const s = d.summary;
  const ids = Object.keys(d.servers);
  return barChart({
    title: `Sessions on NestJS — ${PLATFORM_NAME[d.platform]}, ${d.db === 'sqlite' ? 'sqlite file (WAL)' : `PostgreSQL ${d.version}`}`,
    subtitle:
      `requests per CPU-second of the server (1,000,000 ÷ its CPU µs per request, median of ${CONFIG.rounds} round${CONFIG.rounds > 1 ? 's' : ''} × ${CONFIG.duration} s) · ` +
      `${CONFIG.connections} connections · Node ${process.version} · ${date}`,
    yLabel: 'requests per CPU-second',
    routes: ALL_ROUTES.filter((route) => ids.some((id) => s[id][route.id].measured)).map((route) => ({
      label: route.label,
      bars: ids
        .filter((id) => s[id][route.id].measured)
        .map((id) => {
          const spec = d.servers[id].spec;
          return {
            server: spec.group === 'variant' ? 'variant' : id,
            label: spec.label,
            value: 1e6 / s[id][route.id].cpu,
            note: id !== 'bare' && d.servers.bare && s.bare[route.id].measured ? fmtRatio(pairRatio(d, id, 'bare', route.id).cpu) : undefined,
          };
        }),
    })),
    footnote: "above the bars: bare Nest's CPU/request ÷ this server's, round by round (Nest's CPU only, not Redis's or PostgreSQL's)",
  });
}

function printConsole(d) {
  const s = d.summary;
  const ids = Object.keys(d.servers);
  log(`\n=== ${sectionTitle(d)}: ${dbDescription(d)}`);
  const w = Math.max(...ids.map((id) => d.servers[id].spec.label.length));
  log(['route'.padEnd(15), 'server'.padEnd(w), 'req/s'.padStart(8), 'p99 ms'.padStart(7), 'CPU µs'.padStart(7), 'SQL/req'.padStart(14), '÷bare'.padStart(7), '÷limit'.padStart(7)].join(' '));
  for (const route of ALL_ROUTES) {
    for (const id of ids) {
      const x = s[id][route.id];
      if (!x.measured) continue;
      const q = d.servers[id].sql?.[route.id];
      const lim = LIMIT_OF[id] && d.servers[LIMIT_OF[id]] && s[LIMIT_OF[id]][route.id].measured ? pairRatio(d, id, LIMIT_OF[id], route.id).rps : NaN;
      log(
        [
          route.label.padEnd(15),
          d.servers[id].spec.label.padEnd(w),
          fmt(x.rps).padStart(8),
          fmt(x.p99, 2).padStart(7),
          fmt(x.cpu).padStart(7),
          (q ? `${num(q.select)}S+${num(q.write)}W+${num(q.other)}O` : '–').padStart(14),
          (id !== 'bare' && d.servers.bare ? fmtRatio(pairRatio(d, id, 'bare', route.id).rps) : '').padStart(7),
          (Number.isFinite(lim) ? fmtRatio(lim) : '').padStart(7),
        ].join(' '),
      );
    }
  }
  if (d.targets.length > 0) {
    log('\nTargets (÷ bare Nest, req/s):');
    for (const t of d.targets) log(`  [${t.met === null ? '  - ' : t.met ? '  ok' : 'MISS'}] ${t.store} ${ROUTE[t.route].label} ≥ ${t.goal}: ${fmtRatio(t.rps)} — ${targetReason(t)}`);
  }
  const failed = d.checks.filter((t) => !t.met);
  log(`Checks: ${d.checks.length - failed.length}/${d.checks.length} passed${failed.length ? `; failed: ${failed.map((t) => `${t.server}: ${t.name}${t.gate ? '' : ' (reported only)'}`).join('; ')}` : ''}`);
}

// ---- profiled pass and scenarios ---------------------------------------------------------------

/** Ours and bare once more under node --cpu-prof on /read and /write (Express), per main store. */
async function profilePass(sections, contexts, pinning) {
  const out = [];
  for (const [db, ids] of Object.entries(PROFILE_PASS)) {
    const d = sections.find((x) => x.platform === 'express' && x.db === db);
    if (!d) continue;
    for (const id of ids) {
      if (!d.servers[id]) continue;
      const spec = d.servers[id].spec;
      const result = newResult(spec, ROUTES.filter((r) => RW.includes(r.id)));
      try {
        // Warmed up (2 s) so that the JIT's compilation is not in the profile.
        await runServerOnce(spec, contexts.get(d.key), pinning, 1, result, { profile: true, checks: false, warmup: Math.max(2, CONFIG.warmup) });
      } catch (error) {
        log(`bench: profiled pass of ${spec.label} on ${db} failed: ${error.message}`);
        continue;
      }
      finishProfiles(result);
      if (!result.profile) continue;
      const trim = (p) => ({ ...p, byFunction: p.byFunction.slice(0, 30), inclusive: p.inclusive.slice(0, 20) });
      out.push({
        id,
        db,
        label: spec.label,
        files: result.profileFiles,
        profile: Object.fromEntries(Object.entries(result.profile).map(([r, p]) => [r, trim(p)])),
        cpu: Object.fromEntries(RW.map((r) => [r, median(result.rounds[r].map((x) => x.cpuUsPerReq))])),
      });
    }
  }
  return out;
}

/** bench/scenarios.js with the same --quick and --out; { status, code } */
async function runScenarios(pinning) {
  const script = path.join(BENCH, 'scenarios.js');
  if (!existsSync(script)) return { status: 'not run: bench/scenarios.js does not exist in this checkout.', code: 0 };
  const args = [script, ...(QUICK ? ['--quick'] : []), '--out', OUT];
  log(`\nbench: node ${args.map((a) => path.relative(process.cwd(), a) || a).join(' ')}`);
  // This process is pinned to the load generator's CPU: the scenarios get all of them back (they pin their own way).
  const [cmd, argv] = pinning.pinned && pinning.cpus ? ['taskset', ['-c', pinning.cpus.join(','), process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, BENCH_REDIS_URL: REDIS_URL } });
  const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
  const written = existsSync(path.join(OUT, 'scenarios.md'));
  return {
    status: `${written ? '[scenarios.md](scenarios.md)' : 'no scenarios.md written'}; \`node bench/scenarios.js${QUICK ? ' --quick' : ''}\` ${code === 0 ? 'passed its checks' : `**failed** (exit code ${code})`}.`,
    code,
  };
}

// ---- main --------------------------------------------------------------------------------------

/** What results.json keeps of a section. */
const serialize = (sections) =>
  sections.map((d) => ({
    ...d,
    servers: Object.fromEntries(
      Object.entries(d.servers).map(([k, v]) => [
        k,
        { ...v, windows: undefined, profile: v.profile ? Object.fromEntries(Object.entries(v.profile).map(([r, p]) => [r, { ...p, byFunction: p.byFunction.slice(0, 30), inclusive: p.inclusive.slice(0, 20) }])) : undefined },
      ]),
    ),
  }));

function writeReport(sections, meta) {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(path.join(OUT, 'report.md'), markdown(sections, meta));
  for (const d of sections) writeFileSync(path.join(OUT, `${d.key}.svg`), chartFor(d, meta.date.slice(0, 10)));
  writeFileSync(path.join(OUT, 'results.json'), JSON.stringify({ meta, config: CONFIG, sections: serialize(sections) }, null, 1) + '\n');
}

/** --rerender: report.md and the charts again from the run's results.json. */
function rerender() {
  const file = path.join(OUT, 'results.json');
  if (!existsSync(file)) die(`--rerender: ${file} does not exist`);
  const json = JSON.parse(readFileSync(file, 'utf8'));
  if (!json.sections) die(`--rerender: ${file} is from an older bench (no sections)`);
  Object.assign(CONFIG, json.config);
  writeFileSync(path.join(OUT, 'report.md'), markdown(json.sections, json.meta));
  for (const d of json.sections) writeFileSync(path.join(OUT, `${d.key}.svg`), chartFor(d, json.meta.date.slice(0, 10)));
  log(`bench: ${path.relative(process.cwd(), OUT)}/report.md and charts written again from results.json`);
}

const duration = (ms) => {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
};

/** Does a server apply to a section? */
function applies(spec, platform, db, firstDb) {
  return (!spec.platforms || spec.platforms.includes(platform)) && (!spec.dbs || spec.dbs.includes(db)) && (!spec.dbIndependent || db === firstDb);
}

async function main() {
  if (opt.rerender) return rerender();
  const started = Date.now();
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'index.js'))) die('dist/src/index.js is missing: run `npm run build` first (npm run bench does).');
  mkdirSync(TMP, { recursive: true });
  const pinning = setUpPinning();
  log(`bench: ${pinning.note}`);
  log(
    `bench: ${CONFIG.connections} connections; ${CONFIG.rounds} round(s), each starting every server in turn: warm-up ${CONFIG.warmup} s (all routes at once) + ${CONFIG.duration} s per route${QUICK ? ' (--quick)' : ''}; platforms ${PLATFORMS.join(', ')}`,
  );
  const pgUrl = process.env.TEST_POSTGRES_URL;
  const dbs = opt.db ? opt.db.split(',').map((x) => x.trim()) : ['sqlite', ...(pgUrl ? ['postgres'] : [])];
  const notes = [];
  if (!pgUrl && !opt.db) {
    notes.push('TEST_POSTGRES_URL is unset: PostgreSQL left out (set it to e.g. postgres://postgres@127.0.0.1:5432/test).');
    log(`bench: ${notes.at(-1)}`);
  }
  const failures = [];
  let specs = SPECS;
  // The Redis servers need a Redis: left out (with a note) when none answers, unless asked for by name.
  if (specs.some((s) => s.redis)) {
    const c = await redisClient();
    if (c) {
      const info = await c.info('server');
      CONFIG.redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
      await c.close();
    } else {
      const message = `Redis does not answer at ${REDIS_URL.replace(/\/\/[^@/]*@/, '//')} (set BENCH_REDIS_URL)`;
      if (SERVERS_GIVEN) die(`${message}; --servers asks for ${specs.filter((s) => s.redis).map((s) => s.id).join(', ')}`);
      notes.push(`${message}: ${specs.filter((s) => s.redis).map((s) => s.id).join(', ')} left out.`);
      log(`bench: ${notes.at(-1)}`);
      specs = specs.filter((s) => !s.redis);
    }
  }
  // Servers written apart from this script: left out with a note while they do not exist.
  for (const spec of specs.filter((s) => s.script && !existsSync(scriptOf(s)))) {
    notes.push(`${spec.label} left out: bench/${spec.script} does not exist in this checkout.`);
    log(`bench: ${notes.at(-1)}`);
  }
  specs = specs.filter((s) => !s.script || existsSync(scriptOf(s)));

  const sections = [];
  const contexts = new Map();
  const dbCtxs = new Map();
  for (const platform of PLATFORMS) {
    for (const db of dbs) {
      let dbCtx = dbCtxs.get(db);
      if (!dbCtx) {
        if (db === 'sqlite') dbCtx = { db };
        else if (db === 'postgres') {
          if (!pgUrl) die('--db postgres needs TEST_POSTGRES_URL');
          try {
            const pg = await preparePostgres(pgUrl);
            dbCtx = { db, url: pg.url, dbName: pg.name, version: pg.version };
          } catch (error) {
            failures.push(`postgres: cannot prepare the bench database: ${error.message}`);
            console.error(`bench: postgres: ${error.message}`);
            dbCtx = { db, failed: true };
          }
        } else die(`unknown database ${db}`);
        dbCtxs.set(db, dbCtx);
      }
      if (dbCtx.failed) continue;
      const key = `${platform}-${db}`;
      const plan = SERVERS_GIVEN ? null : PLAN[`${platform}/${db}`];
      if (!SERVERS_GIVEN && !plan) continue;
      const sectionSpecs = specs.filter(
        (s) => applies(s, platform, db, dbs[0]) && (SERVERS_GIVEN || s.group === 'variant' || plan?.servers === null || plan?.servers?.includes(s.id)),
      );
      if (sectionSpecs.length === 0) continue;
      const ctx = { ...dbCtx, platform };
      contexts.set(key, ctx);
      const leftOut = [];
      let servers;
      try {
        servers = await benchSection(ctx, sectionSpecs, plan, pinning, failures, leftOut);
      } finally {
        if (specs.some((s) => s.redis)) await deleteRedisKeys(RUN_PREFIX);
      }
      for (const x of leftOut) if (!notes.some((n) => n.startsWith(x.label))) notes.push(`${x.label} left out: ${x.reason}`);
      if (Object.keys(servers).length === 0) continue;
      const d = { key, platform, db, version: dbCtx.version, dbName: dbCtx.dbName, servers, leftOut };
      d.summary = Object.fromEntries(Object.keys(servers).map((k) => [k, summarize(servers[k])]));
      d.targets = evaluateTargets(d);
      d.checks = evaluateChecks(d);
      for (const t of d.checks) if (t.gate && !t.met) failures.push(`${sectionTitle(d)}: ${d.servers[t.server].spec.label}: ${t.name}: ${t.measured}`);
      printConsole(d);
      sections.push(d);
    }
  }
  const roundsMs = Date.now() - started;

  const t1 = Date.now();
  const profiled = PROFILE_PASS_ON && !opt.profile ? await profilePass(sections, contexts, pinning) : [];
  const profileMs = Date.now() - t1;

  const meta = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    commit: gitDescribe(),
    node: process.version,
    cpu: `${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'} (${os.cpus().length} CPUs)`,
    pinning,
    quick: QUICK,
    runtime: duration(Date.now() - started),
    phases: { rounds: duration(roundsMs), profilePass: profiled.length ? duration(profileMs) : '–', scenarios: 'not run yet' },
    notes,
    profilePass: profiled,
    scenarios: null,
  };
  writeReport(sections, meta);

  let scenarioCode = 0;
  if (!opt.scenarios) meta.scenarios = 'not run (--no-scenarios).';
  else if (SERVERS_GIVEN || opt.variant) meta.scenarios = 'not run (a narrow run: --servers or --variant).';
  else {
    const t2 = Date.now();
    const r = await runScenarios(pinning);
    meta.scenarios = r.status;
    meta.phases.scenarios = duration(Date.now() - t2);
    scenarioCode = r.code;
    if (r.code !== 0) failures.push(`bench/scenarios.js exited with ${r.code}`);
  }
  if (meta.phases.scenarios === 'not run yet') meta.phases.scenarios = '–';
  meta.runtime = duration(Date.now() - started);
  writeReport(sections, meta);
  const rel = (f) => path.relative(process.cwd(), f);
  log(`\nbench: report ${rel(path.join(OUT, 'report.md'))}; charts ${sections.map((d) => rel(path.join(OUT, `${d.key}.svg`))).join(', ')}`);
  log(`bench: whole run ${meta.runtime} (rounds ${meta.phases.rounds}, profiled pass ${meta.phases.profilePass}, scenarios ${meta.phases.scenarios})`);
  if (failures.length > 0) {
    console.error(`\nbench: FAILED\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
  if (scenarioCode !== 0) process.exit(1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
