#!/usr/bin/env node
// `node bench/scenarios.js`: how the cost grows with the work (issue "Speed"), next to bench/run.js.
//   1. a 10 KB session next to the small one: /read and /write, per server (big ÷ small);
//   2. 1,000,000 live rows in django_session next to an empty table: /read (1M ÷ empty);
//   3. a soak: POST /write creating a new session per request at full rate for 2 minutes, the
//      server's RSS and event-loop delay sampled every 5 s (growth after warm-up: a possible leak?).
// Fails (exit 1) only on a correctness check: a non-2xx response, a lost write, an SQL statement
// count that differs between the small and the big session or the empty and the full table.
// Flags: node bench/scenarios.js --help
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setUpPinning } from './lib/pinning.js';
import { ensurePostgresDatabase, pgClient } from './lib/postgres.js';
import { fmt, median } from './lib/stats.js';
import {
  BENCH,
  ROOT,
  SCRIPTS,
  ServerUnavailable,
  autocannonLoad,
  closedLoop,
  warmUp,
  countStatements,
  createSessions,
  deleteRedisKeys,
  linearFit,
  readCounters,
  redisClient,
  scriptExists,
  startServer,
} from './lib/scenarios-common.js';
import { resetSeeded, seededSqlite, sqliteRowCount } from './lib/scenarios-seed.js';
import { renderMarkdown, sizeChart, soakChart } from './lib/scenarios-report.js';

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    only: { type: 'string' },
    servers: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    rows: { type: 'string', default: '1000000' },
    soak: { type: 'string' },
    'soak-drivers': { type: 'string' },
    connections: { type: 'string', default: '10' },
    rerender: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (opt.help) {
  console.log(`node bench/scenarios.js [options]   (after npm run build)
  --quick               smoke run, under a minute: 1 round of 1 s, fewer servers (no Django, no limit
                        server in scenario 2), a 10 s soak;
                        report in bench/.tmp/results-quick
  --out DIR             where scenarios.md, scenarios.json and the charts go (default bench/results)
  --only LIST           size,rows,soak (default all three)
  --servers LIST        scenario 1's servers: ours,ours-bs3,ours-cache,bare,limit-sqlite3,limit-redis,django
                        (default: all that can run here; --quick: ours,ours-cache,bare,limit-sqlite3)
  --rounds N            rounds of scenarios 1 and 2 (default 3 and 2; --quick 1)
  --duration S          seconds per measurement (default 1)
  --rows N              live rows of scenario 2 (default 1000000; the seeded file is cached in bench/.tmp)
  --soak S              soak seconds (default 120; --quick 10)
  --soak-drivers LIST   sqlite,better-sqlite3 (default sqlite)
  --connections N       concurrent clients (default 10)
  --rerender            no run: scenarios.md and the charts again from scenarios.json in --out
Environment: BENCH_REDIS_URL (default redis://127.0.0.1:6379); TEST_POSTGRES_URL or BENCH_PG_URL adds
PostgreSQL to scenario 2, in databases of its own: djs_scenarios_1m (the seeded rows, kept between runs
like the sqlite file; DROP DATABASE djs_scenarios_1m to reclaim the space) and djs_scenarios_empty.
The seeded sqlite file is bench/.tmp/scenarios-live-<rows>.sqlite3 (about 330 MB for 1,000,000 rows).`);
  process.exit(0);
}

const QUICK = opt.quick;
const CONFIG = {
  quick: QUICK,
  connections: Number(opt.connections),
  /** Rounds of scenario 1 (the median of 3 shrugs off one disturbed round) and of scenario 2 (steadier). */
  rounds: Number(opt.rounds ?? (QUICK ? 1 : 3)),
  rowsRounds: Number(opt.rounds ?? (QUICK ? 1 : 2)),
  duration: Number(opt.duration ?? 1),
  /** Warm-up after each start, read and write at once: this many requests per route. */
  warmup: QUICK ? 300 : 1000,
  countRequests: QUICK ? 10 : 20,
  pad: 10240,
  rows: Number(opt.rows),
  soakSeconds: Number(opt.soak ?? (QUICK ? 10 : 120)),
  soakSampleMs: 5000,
  soakWarmupS: QUICK ? 5 : 30,
  soakDrivers: (opt['soak-drivers'] ?? 'sqlite').split(',').map((s) => s.trim()),
  sync: 'NORMAL',
  secret: 'bench-secret',
};
const ONLY = new Set((opt.only ?? 'size,rows,soak').split(',').map((s) => s.trim()));
for (const s of ONLY) if (!['size', 'rows', 'soak'].includes(s)) die(`--only takes size, rows, soak; got ${s}`);
for (const n of ['connections', 'rounds', 'duration', 'rows', 'soakSeconds']) if (!(CONFIG[n] > 0)) die(`${n} must be a positive number`);
for (const d of CONFIG.soakDrivers) if (!['sqlite', 'better-sqlite3'].includes(d)) die(`--soak-drivers takes sqlite, better-sqlite3; got ${d}`);
const OUT = path.resolve(opt.out ?? (QUICK ? path.join(BENCH, '.tmp', 'results-quick') : path.join(BENCH, 'results')));
const TMP = path.join(BENCH, '.tmp');
/** The per-start sqlite files (fresh each time, removed after). */
const WORK = path.join(TMP, 'scenarios');
const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN_PREFIX = `djs-scen-${process.pid}-${randomBytes(3).toString('hex')}`;
const PG_URL = process.env.BENCH_PG_URL ?? process.env.TEST_POSTGRES_URL;

function die(message) {
  console.error(`bench:scenarios: ${message}`);
  process.exit(1);
}
const log = (...a) => console.log(...a);

/**
 * Servers. script: which bench server; env: its own environment; store: where sessions live
 * (sqlite: the BENCH_SQLITE file's django_session table, so its rows and sizes can be read back).
 */
const SERVERS = {
  ours: { label: 'ours, db engine (node-sqlite3)', pgLabel: 'ours, db engine (PostgreSQL, pg)', script: 'server', env: { BENCH_KIND: 'ours', BENCH_DRIVER: 'sqlite' }, store: 'sqlite', color: 'ours' },
  'ours-bs3': { label: 'ours, db engine (better-sqlite3)', script: 'server', env: { BENCH_KIND: 'ours', BENCH_DRIVER: 'better-sqlite3' }, store: 'sqlite', color: 'variant' },
  'ours-cache': { label: 'ours, cache engine (Redis)', script: 'server', env: { BENCH_KIND: 'ours', BENCH_ENGINE: 'cache' }, store: 'redis', color: 'ours-cache' },
  bare: { label: 'bare Nest', script: 'server', env: { BENCH_KIND: 'bare' }, store: 'none', color: 'bare' },
  'limit-sqlite3': { label: 'limit (node-sqlite3)', pgLabel: 'limit (PostgreSQL, pg)', script: 'limit', env: { BENCH_STORE: 'sqlite3', BENCH_DRIVER: 'sqlite' }, store: 'sqlite', color: 'express-session' },
  'limit-bs3': { label: 'limit (better-sqlite3)', script: 'limit', env: { BENCH_STORE: 'better-sqlite3', BENCH_DRIVER: 'better-sqlite3' }, store: 'sqlite', color: 'ours-file' },
  'limit-redis': { label: 'limit (Redis)', script: 'limit', env: { BENCH_STORE: 'redis' }, store: 'redis', color: 'ours-cached-db' },
  django: { label: 'Django (gunicorn)', script: 'django', env: {}, store: 'sqlite', color: 'ours-signed-cookies' },
};
const SIZE_DEFAULT = QUICK ? ['ours', 'ours-cache', 'bare', 'limit-sqlite3'] : ['ours', 'ours-bs3', 'ours-cache', 'bare', 'limit-sqlite3', 'limit-redis', 'django'];
const ROWS_DEFAULT = QUICK ? ['ours', 'ours-bs3'] : ['ours', 'ours-bs3', 'limit-sqlite3'];
const ROUTES = {
  read: { id: 'read', label: '/read', method: 'GET', path: '/read' },
  write: { id: 'write', label: '/write', method: 'POST', path: '/write' },
};

const failures = [];
const notes = [];
const fail = (message) => {
  failures.push(message);
  console.error(`  FAILED: ${message}`);
};

/** Per start: a fresh sqlite file (none of the server's leftovers survive). */
function freshSqlite(name) {
  mkdirSync(WORK, { recursive: true });
  const file = path.join(WORK, `${name.replace(/\W/g, '_')}.sqlite3`);
  removeSqlite(file);
  return file;
}
function removeSqlite(file) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}

/** The environment of one start of `id`, on a sqlite file (or BENCH_PG_URL), with a Redis prefix of its own. */
function serverEnv(id, { sqlite, pgUrl, pad, tag }) {
  const s = SERVERS[id];
  const env = {
    BENCH_DB: pgUrl ? 'postgres' : 'sqlite',
    BENCH_SYNC: CONFIG.sync,
    BENCH_DRIVER: 'sqlite',
    BENCH_ENGINE: 'db',
    BENCH_REDIS_URL: REDIS_URL,
    BENCH_REDIS_PREFIX: `${RUN_PREFIX}-${tag}`,
    ...s.env,
  };
  if (pgUrl) {
    env.BENCH_PG_URL = pgUrl;
    if (s.script === 'limit') env.BENCH_STORE = 'postgres';
  } else env.BENCH_SQLITE = sqlite;
  // Always set: a BENCH_PAD in this process's environment must not pad the small runs.
  env.BENCH_PAD = String(pad ?? 0);
  return env;
}

/** Starts `id`; null (and a note) when the server says it cannot run here (exit code 3). */
async function start(id, env, pinning, unavailable) {
  try {
    return await startServer({ script: SCRIPTS[SERVERS[id].script], env, pinning, name: id });
  } catch (error) {
    if (error instanceof ServerUnavailable) {
      unavailable.set(id, error.message);
      log(`  ${SERVERS[id].label}: left out: ${error.message}`);
      return null;
    }
    throw error;
  }
}

/** One timed autocannon window: req/s, CPU µs per request, non-2xx. */
async function measure(server, route, cookies, seconds) {
  const s0 = await server.stats();
  const t0 = process.hrtime.bigint();
  const { result: r, okByCookie } = await autocannonLoad(server.port, route, seconds, cookies, CONFIG.connections);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const s1 = await server.stats();
  const requests = r.requests.total;
  return {
    // Share of one core the server used: well below 1 means it waited (for I/O, or for a CPU on a busy machine).
    serverBusy: (s1.cpu - s0.cpu) / wallUs,
    rps: requests / r.duration,
    cpuUs: (s1.cpu - s0.cpu) / Math.max(1, requests),
    sqlPerReq: ['select', 'write', 'other'].reduce((a, k) => a + (s1.queries?.[k] ?? 0) - (s0.queries?.[k] ?? 0), 0) / Math.max(1, requests),
    requests,
    non2xx: r.non2xx,
    errors: r.errors,
    p50: r.latency.p50,
    p99: r.latency.p99,
    okByCookie,
  };
}

function checkWindow(what, m) {
  if (m.non2xx > 0 || m.errors > 0) fail(`${what}: ${m.non2xx} non-2xx responses, ${m.errors} errors`);
}

/** The largest session_data in a server's sqlite file (after it stopped): is the big session big? */
async function maxSessionData(file) {
  try {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT max(length(session_data)) AS n FROM django_session').get().n ?? NaN;
    } finally {
      db.close();
    }
  } catch {
    return NaN;
  }
}

// ---- 1. a 10 KB session -----------------------------------------------------------------------

async function scenarioSize(pinning, ids) {
  log(`\n== 1. a ${fmt(CONFIG.pad)}-character pad in the session next to the small one: ${ids.join(', ')}`);
  const result = Object.fromEntries(ids.map((id) => [id, { small: { rounds: [], sql: null, storedBytes: NaN }, big: { rounds: [], sql: null, storedBytes: NaN } }]));
  const unavailable = new Map();
  for (let round = 1; round <= CONFIG.rounds; round++) {
    const order = ids.map((_, i) => ids[(i + round - 1) % ids.length]);
    for (const id of order) {
      if (unavailable.has(id) || result[id].failed) continue;
      // Alternate small/big first, so neither always runs on a warmer machine.
      for (const size of round % 2 ? ['small', 'big'] : ['big', 'small']) {
        if (unavailable.has(id)) break;
        try {
          await sizeOnce(id, size, round, pinning, result[id][size], unavailable);
        } catch (error) {
          result[id].failed = error.message;
          fail(`size/${id}/${size}: ${error.message}`);
          break;
        }
      }
    }
  }
  for (const [id, reason] of unavailable) {
    result[id].leftOut = reason;
    notes.push(`${SERVERS[id].label}: left out: ${reason}`);
  }
  // Summary and checks.
  for (const id of ids) {
    const r = result[id];
    if (r.leftOut || r.failed) continue;
    for (const size of ['small', 'big']) {
      r[size].summary = Object.fromEntries(
        Object.keys(ROUTES).map((route) => {
          const xs = r[size].rounds.map((x) => x[route]);
          return [route, { rps: median(xs.map((x) => x.rps)), cpuUs: median(xs.map((x) => x.cpuUs)), p99: median(xs.map((x) => x.p99)) }];
        }),
      );
    }
    r.ratio = Object.fromEntries(
      Object.keys(ROUTES).map((route) => {
        // Round by round (small and big ran back to back), then the median.
        const pairs = r.small.rounds.map((s, i) => [s[route], r.big.rounds[i]?.[route]]).filter(([, b]) => b);
        return [route, { rps: median(pairs.map(([s, b]) => b.rps / s.rps)), cpuUs: median(pairs.map(([s, b]) => b.cpuUs / s.cpuUs)) }];
      }),
    );
    // The same statements for a big session as for a small one.
    if (r.small.sql && r.big.sql) {
      for (const route of Object.keys(ROUTES)) {
        const a = r.small.sql[route];
        const b = r.big.sql[route];
        if (sqlDiffers(id, a, b)) {
          fail(`size/${id} ${ROUTES[route].label}: SQL per request ${sqlText(a)} with the small session, ${sqlText(b)} with the big one`);
        }
      }
    }
    if (r.big.storedBytes < CONFIG.pad / 4) {
      notes.push(`${SERVERS[id].label}: the big session's stored session_data is only ${fmt(r.big.storedBytes)} bytes: BENCH_PAD may not be supported by this server.`);
    }
  }
  return result;
}

/**
 * Do two statement counts differ? SELECTs and writes always count; "other" statements too, except
 * on Django, whose gthread worker opens a connection per thread (its set-up statements land on
 * whichever request a new thread serves first).
 */
const sqlDiffers = (id, a, b) => a.select !== b.select || a.write !== b.write || (id !== 'django' && a.other !== b.other) || b.errors > 0;
/** Wall time of a start's phases, for the log: "start 0.8, checks 0.2, …". */
function phases() {
  let last = Date.now();
  const list = [];
  return {
    mark(name) {
      const now = Date.now();
      list.push(`${name} ${((now - last) / 1000).toFixed(1)}`);
      last = now;
    },
    text: () => list.join(', '),
  };
}
const sqlText = (q) => (q ? `${fmt(q.select, 1)}S+${fmt(q.write, 1)}W+${fmt(q.other, 1)}O${q.errors ? ` (${q.errors} errors)` : ''}` : '–');

async function sizeOnce(id, size, round, pinning, out, unavailable) {
  const tag = `size-${id}-${size}-r${round}`;
  const sqlite = freshSqlite(tag);
  const env = serverEnv(id, { sqlite, pad: size === 'big' ? CONFIG.pad : 0, tag });
  const t0 = Date.now();
  const ph = phases();
  const server = await start(id, env, pinning, unavailable);
  if (!server) return;
  ph.mark('start');
  let stored = NaN;
  let line = null;
  try {
    const cookies = await createSessions(server.port, CONFIG.connections, { bare: id === 'bare' });
    if (!out.sql) {
      out.sql = {};
      for (const route of Object.values(ROUTES)) out.sql[route.id] = await countStatements(server, route, cookies, CONFIG.countRequests);
    }
    ph.mark('sessions');
    await warmUp(server.port, Object.values(ROUTES), cookies, CONFIG.warmup);
    ph.mark('warm-up');
    const sample = { round };
    sample.read = await measure(server, ROUTES.read, cookies, CONFIG.duration);
    checkWindow(`size/${id}/${size} /read round ${round}`, sample.read);
    const before = id === 'bare' ? null : await readCounters(server.port, cookies);
    sample.write = await measure(server, ROUTES.write, cookies, CONFIG.duration);
    checkWindow(`size/${id}/${size} /write round ${round}`, sample.write);
    if (before) {
      const after = await readCounters(server.port, cookies);
      // A response still in flight when autocannon stops is done by the server but not counted: +1 at most.
      const bad = cookies
        .map((c, i) => ({ ok: sample.write.okByCookie.get(c) ?? 0, grew: after[i] - before[i] }))
        .filter((x) => x.grew < x.ok || x.grew > x.ok + 1);
      sample.writeCheck = bad.length === 0;
      if (bad.length > 0) fail(`size/${id}/${size} round ${round}: lost or phantom writes (${bad.map((x) => `${x.ok} answered 2xx, counter grew ${x.grew}`).join('; ')})`);
    }
    for (const k of ['read', 'write']) delete sample[k].okByCookie;
    out.rounds.push(sample);
    ph.mark('measured');
    line =
      `  ${SERVERS[id].label.padEnd(34)} ${size.padEnd(5)} round ${round}: /read ${fmt(sample.read.rps).padStart(6)} req/s ${fmt(sample.read.cpuUs).padStart(5)} µs CPU; ` +
      `/write ${fmt(sample.write.rps).padStart(6)} req/s ${fmt(sample.write.cpuUs).padStart(5)} µs CPU`;
  } finally {
    await server.stop();
    ph.mark('stop');
    if (SERVERS[id].store === 'sqlite') stored = await maxSessionData(sqlite);
    removeSqlite(sqlite);
    if (SERVERS[id].store === 'redis') await deleteRedisKeys(REDIS_URL, env.BENCH_REDIS_PREFIX);
    ph.mark('clean-up');
  }
  if (line) log(`${line} (${((Date.now() - t0) / 1000).toFixed(1)} s: ${ph.text()})`);
  if (Number.isFinite(stored)) out.storedBytes = Number.isFinite(out.storedBytes) ? Math.max(out.storedBytes, stored) : stored;
}

// ---- 2. 1,000,000 live rows ---------------------------------------------------------------------

async function scenarioRows(pinning, ids) {
  log(`\n== 2. /read with ${fmt(CONFIG.rows)} live rows in django_session next to an empty table: ${ids.join(', ')}`);
  const seedFile = path.join(TMP, `scenarios-live-${CONFIG.rows}.sqlite3`);
  const seed = await seededSqlite(seedFile, CONFIG.rows, CONFIG.secret);
  log(
    seed.seeded
      ? `  seeded ${fmt(CONFIG.rows)} rows in ${fmt(seed.seconds, 1)} s (${fmt(seed.bytes / 1e6)} MB, better-sqlite3, one transaction, one prepared INSERT)`
      : `  reusing ${path.relative(ROOT, seedFile)} (${fmt(CONFIG.rows)} rows, ${fmt(seed.bytes / 1e6)} MB)`,
  );
  const result = {
    seed: { file: path.relative(ROOT, seedFile), rows: CONFIG.rows, seeded: seed.seeded, seconds: seed.seconds, bytes: seed.bytes },
    servers: Object.fromEntries(ids.map((id) => [id, { empty: { rounds: [], sql: null }, full: { rounds: [], sql: null } }])),
  };
  const unavailable = new Map();
  const targets = [{ db: 'sqlite' }];
  let pg = null;
  if (PG_URL) {
    try {
      pg = await preparePostgres(PG_URL);
      result.postgres = { version: pg.version, rows: CONFIG.rows, seeded: pg.seeded, seconds: pg.seconds };
      targets.push({ db: 'postgres' });
      for (const id of ids) result.servers[`${id}@pg`] = { empty: { rounds: [], sql: null }, full: { rounds: [], sql: null } };
    } catch (error) {
      notes.push(`PostgreSQL left out of scenario 2: ${error.message}`);
    }
  } else notes.push('Scenario 2 ran on sqlite only: TEST_POSTGRES_URL / BENCH_PG_URL is unset.');
  for (let round = 1; round <= CONFIG.rowsRounds; round++) {
    for (const target of targets) {
      // Only the db engines and the limit server on a table take part on PostgreSQL (one driver).
      const list = target.db === 'postgres' ? ids.filter((id) => id === 'ours' || id === 'limit-sqlite3') : ids;
      const order = list.map((_, i) => list[(i + round - 1) % list.length]);
      for (const id of order) {
        const key = target.db === 'postgres' ? `${id}@pg` : id;
        if (unavailable.has(id) || result.servers[key].failed) continue;
        for (const table of round % 2 ? ['empty', 'full'] : ['full', 'empty']) {
          if (unavailable.has(id)) break;
          try {
            await rowsOnce(id, key, table, round, target.db === 'postgres' ? pg : null, seedFile, pinning, result.servers[key][table], unavailable);
          } catch (error) {
            result.servers[key].failed = error.message;
            fail(`rows/${key}/${table}: ${error.message}`);
            break;
          }
        }
      }
    }
  }
  for (const [id, reason] of unavailable) notes.push(`${SERVERS[id].label}: left out of scenario 2: ${reason}`);
  for (const [key, r] of Object.entries(result.servers)) {
    const id = key.replace(/@pg$/, '');
    if (unavailable.has(id)) r.leftOut = unavailable.get(id);
    if (r.leftOut || r.failed || r.empty.rounds.length === 0) continue;
    for (const table of ['empty', 'full']) {
      const xs = r[table].rounds;
      r[table].summary = { rps: median(xs.map((x) => x.rps)), cpuUs: median(xs.map((x) => x.cpuUs)), p99: median(xs.map((x) => x.p99)) };
    }
    const pairs = r.empty.rounds.map((e, i) => [e, r.full.rounds[i]]).filter(([, f]) => f);
    r.ratio = { rps: median(pairs.map(([e, f]) => f.rps / e.rps)), cpuUs: median(pairs.map(([e, f]) => f.cpuUs / e.cpuUs)) };
    const a = r.empty.sql;
    const b = r.full.sql;
    if (a && b && sqlDiffers(id, a, b)) {
      fail(`rows/${key} /read: SQL per request ${sqlText(a)} on the empty table, ${sqlText(b)} with ${fmt(CONFIG.rows)} rows`);
    }
  }
  if (pg) await pg.cleanup();
  // How sqlite runs the db engine's own /read statement on the seeded table.
  const select = result.servers.ours?.full.sql?.statements?.find(([sql]) => /^\s*SELECT/i.test(sql))?.[0];
  if (select) result.seed.plan = await queryPlan(seedFile, select);
  return result;
}

async function rowsOnce(id, key, table, round, pg, seedFile, pinning, out, unavailable) {
  const tag = `rows-${key}-${table}-r${round}`;
  let sqlite = null;
  let pgUrl = null;
  if (pg) {
    pgUrl = table === 'full' ? pg.fullUrl : pg.emptyUrl;
    if (table === 'empty') await pg.emptyReset();
  } else sqlite = table === 'full' ? seedFile : freshSqlite(tag);
  const env = serverEnv(id, { sqlite, pgUrl, tag });
  const t0 = Date.now();
  const server = await start(id, env, pinning, unavailable);
  if (!server) return;
  try {
    const cookies = await createSessions(server.port, CONFIG.connections);
    if (!out.sql) out.sql = await countStatements(server, ROUTES.read, cookies, CONFIG.countRequests);
    await warmUp(server.port, [ROUTES.read], cookies, CONFIG.warmup);
    const m = await measure(server, ROUTES.read, cookies, CONFIG.duration);
    checkWindow(`rows/${key}/${table} /read round ${round}`, m);
    // Every session still reads back: the counter its one /write set.
    const counters = await readCounters(server.port, cookies);
    if (counters.some((c) => c !== 1)) fail(`rows/${key}/${table}: counters after /read load ${counters.join(',')} (each session was written once)`);
    delete m.okByCookie;
    out.rounds.push({ round, ...m });
    log(
      `  ${(pg ? SERVERS[id].pgLabel : SERVERS[id].label).padEnd(34)} ${table === 'full' ? `${fmt(CONFIG.rows)} rows` : 'empty'.padEnd(14)} round ${round}: ` +
        `/read ${fmt(m.rps).padStart(6)} req/s ${fmt(m.cpuUs).padStart(5)} µs CPU (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
  } finally {
    await server.stop();
    if (sqlite && table === 'empty') removeSqlite(sqlite);
  }
  if (table === 'full') {
    // The server wrote its sessions into the seeded table (there are now rows + connections), then they go.
    const n = pg ? await pg.fullCount() : await sqliteRowCount(seedFile);
    out.rowsSeen = n;
    if (n !== CONFIG.rows + CONFIG.connections) fail(`rows/${key}: ${fmt(n)} rows in the seeded table after the run, expected ${fmt(CONFIG.rows)} + ${CONFIG.connections}`);
    const deleted = pg ? await pg.fullReset() : await resetSeeded(seedFile);
    if (deleted !== CONFIG.connections) fail(`rows/${key}: ${deleted} rows of the run deleted from the seeded table, expected ${CONFIG.connections}`);
  }
}

/** EXPLAIN QUERY PLAN of a statement (its ? parameters bound to NULL) on the seeded file. */
async function queryPlan(file, sql) {
  try {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const params = (sql.match(/\?/g) ?? []).map(() => null);
      return { sql, plan: db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((r) => r.detail) };
    } finally {
      db.close();
    }
  } catch (error) {
    return { sql, error: error.message };
  }
}

/**
 * PostgreSQL for scenario 2: two databases of the run's own (never the shared `test` database's
 * tables): djs_scenarios_1m with the seeded rows (kept between runs while the count matches) and
 * djs_scenarios_empty, whose tables are dropped before each start.
 */
async function preparePostgres(url) {
  const { url: fullUrl, version } = await ensurePostgresDatabase(url, 'djs_scenarios_1m');
  const { url: emptyUrl } = await ensurePostgresDatabase(url, 'djs_scenarios_empty');
  const { seededSessionData, tableDdl } = await import('./lib/scenarios-seed.js');
  const c = await pgClient(fullUrl);
  const t0 = Date.now();
  let seeded = false;
  try {
    const has = (await c.query("SELECT to_regclass('public.django_session') AS t")).rows[0].t !== null;
    const n = has ? Number((await c.query("SELECT count(*) AS n FROM django_session WHERE expire_date >= '2090-01-01'")).rows[0].n) : -1;
    if (has) await c.query("DELETE FROM django_session WHERE expire_date < '2090-01-01'");
    if (n !== CONFIG.rows) {
      seeded = true;
      await c.query('DROP TABLE IF EXISTS django_session, migrations, typeorm_metadata CASCADE');
      for (const sql of await tableDdl('postgres')) await c.query(sql);
      const data = await seededSessionData(CONFIG.secret);
      // md5 in hex: 32 characters of [0-9a-f], valid session keys; expiry spread over ten years from 2090.
      await c.query(
        `INSERT INTO django_session (session_key, session_data, expire_date)
         SELECT md5('seeded-' || i), $1, timestamptz '2090-01-01 00:00:00+00' + (i * 315.36) * interval '1 second'
         FROM generate_series(1, ${Number(CONFIG.rows)}) AS i`,
        [data],
      );
      await c.query('ANALYZE django_session');
    }
  } finally {
    await c.end();
  }
  const seconds = (Date.now() - t0) / 1000;
  log(`  PostgreSQL: ${seeded ? `seeded ${fmt(CONFIG.rows)} rows in ${fmt(seconds, 1)} s (generate_series)` : `reusing djs_scenarios_1m (${fmt(CONFIG.rows)} rows)`}`);
  return {
    version,
    seeded,
    seconds,
    fullUrl,
    emptyUrl,
    async emptyReset() {
      const e = await pgClient(emptyUrl);
      try {
        await e.query('DROP TABLE IF EXISTS django_session, migrations, typeorm_metadata CASCADE');
      } finally {
        await e.end();
      }
    },
    async fullCount() {
      const f = await pgClient(fullUrl);
      try {
        return Number((await f.query('SELECT count(*) AS n FROM django_session')).rows[0].n);
      } finally {
        await f.end();
      }
    },
    async fullReset() {
      const f = await pgClient(fullUrl);
      try {
        return (await f.query("DELETE FROM django_session WHERE expire_date < '2090-01-01'")).rowCount;
      } finally {
        await f.end();
      }
    },
    async cleanup() {
      await this.emptyReset();
    },
  };
}

// ---- 3. soak ------------------------------------------------------------------------------------

async function scenarioSoak(pinning) {
  const result = {};
  for (const driver of CONFIG.soakDrivers) {
    const id = driver === 'sqlite' ? 'ours' : 'ours-bs3';
    log(`\n== 3. soak: ${CONFIG.soakSeconds} s of POST /write without a cookie (a new session, an INSERT, per request) on ${SERVERS[id].label}`);
    try {
      result[id] = await soakOnce(id, pinning);
    } catch (error) {
      fail(`soak/${id}: ${error.message}`);
      result[id] = { failed: error.message };
    }
  }
  return result;
}

async function soakOnce(id, pinning) {
  const tag = `soak-${id}`;
  const sqlite = freshSqlite(tag);
  const env = serverEnv(id, { sqlite, tag });
  const server = await startServer({ script: SCRIPTS.server, env, pinning, name: id });
  const samples = [];
  let load;
  let rows = NaN;
  let rowsError = null;
  try {
    let prev = await server.stats({ reset: true });
    samples.push({ t: 0, rss: prev.rss, loopDelay: null, rps: 0, cpuShare: 0, ok: 0 });
    let prevOk = 0;
    let prevT = 0;
    const sampleAt = async (tMs, counts) => {
      const s = await server.stats({ reset: true });
      const dt = (tMs - prevT) * 1000;
      const sample = {
        t: Math.round(tMs / 100) / 10,
        rss: s.rss,
        rssFrom: s.rssFrom,
        loopDelay: s.loopDelay ?? null,
        rps: ((counts.ok - prevOk) * 1e6) / dt,
        cpuShare: (s.cpu - prev.cpu) / dt,
        cpuUs: (s.cpu - prev.cpu) / Math.max(1, counts.ok - prevOk),
        ok: counts.ok,
      };
      samples.push(sample);
      log(
        `  ${fmt(sample.t, 1).padStart(5)} s: RSS ${fmt(sample.rss / 2 ** 20, 1).padStart(6)} MiB, loop delay p99 ${sample.loopDelay ? fmt(sample.loopDelay.p99, 1) : '–'} ms, ` +
          `${fmt(sample.rps).padStart(5)} req/s, ${fmt(sample.cpuUs)} µs CPU/req, ${fmt(counts.ok)} sessions so far`,
      );
      prev = s;
      prevOk = counts.ok;
      prevT = tMs;
    };
    load = await closedLoop(server.port, {
      method: 'POST',
      path: '/write',
      seconds: CONFIG.soakSeconds,
      connections: CONFIG.connections,
      sampleMs: CONFIG.soakSampleMs,
      onSample: sampleAt,
    });
    // The last sample: the end of the load, every request answered.
    await sampleAt(load.wallMs, load);
  } finally {
    // Counted while the server still has the file open (every answered /write is committed; WAL lets this read).
    try {
      rows = existsSync(sqlite) ? await sqliteRowCount(sqlite) : NaN;
    } catch (error) {
      rowsError = error.message;
    }
    await server.stop();
  }
  removeSqlite(sqlite);
  if (!Number.isFinite(rows)) throw new Error(`cannot count the rows of ${path.relative(ROOT, sqlite)}: ${rowsError ?? 'the file is gone (removed by something else during the run?)'}`);
  const r = { id, seconds: CONFIG.soakSeconds, wallMs: load.wallMs, requests: load.total, ok: load.ok, non2xx: load.non2xx, errors: load.errors, statuses: load.statuses, rows, samples };
  if (load.non2xx > 0 || load.errors > 0) fail(`soak/${id}: ${load.non2xx} non-2xx responses (${JSON.stringify(load.statuses)}), ${load.errors} errors`);
  if (rows !== load.ok) fail(`soak/${id}: ${fmt(rows)} rows in django_session, ${fmt(load.ok)} responses 2xx (each created one session)`);
  r.analysis = analyseSoak(samples);
  log(
    `  ${fmt(load.ok)} sessions created (${fmt(load.ok / (load.wallMs / 1000))} req/s), ${fmt(rows)} rows in the table; ` +
      `RSS ${fmt(r.analysis.rssAtWarmup / 2 ** 20, 1)} MiB at ${r.analysis.warmupS} s → ${fmt(r.analysis.rssEnd / 2 ** 20, 1)} MiB at the end: ${r.analysis.verdict}`,
  );
  return r;
}

/** Growth after the warm-up: RSS at warm-up vs at the end, least-squares slope of the samples after it. */
function analyseSoak(samples) {
  const series = samples.filter((s) => s.t > 0);
  const warmupS = CONFIG.soakWarmupS;
  const after = series.filter((s) => s.t >= warmupS);
  const atWarmup = after[0] ?? series.at(-1);
  const last = series.at(-1);
  const MiB = 2 ** 20;
  const fit = linearFit(
    after.map((s) => s.t),
    after.map((s) => s.rss / MiB),
  );
  // RSS saws up and down by tens of MiB as V8 grows its heap and collects it, so single samples
  // say little. What a leak lifts is the floor: the lowest RSS (just after a collection) of the
  // second half of the samples after the warm-up vs that of the first half. Also reported: the
  // median of the first three vs the last three samples, and the least-squares slope.
  const half = Math.floor(after.length / 2);
  const floorFirst = Math.min(...after.slice(0, half).map((s) => s.rss));
  const floorLast = Math.min(...after.slice(half).map((s) => s.rss));
  const floorGrowthMiB = (floorLast - floorFirst) / MiB;
  const firstRss = median(after.slice(0, 3).map((s) => s.rss));
  const lastRss = median(after.slice(-3).map((s) => s.rss));
  const growthMiB = (lastRss - firstRss) / MiB;
  const slopeMiBPerMin = fit.slope * 60;
  const spanS = last.t - atWarmup.t;
  // Noise: how far the floor of a healthy busy Node process drifts.
  const noiseMiB = Math.max(8, (atWarmup.rss / MiB) * 0.05);
  const sign = (x) => (x >= 0 ? '+' : '');
  const figures =
    `RSS floor ${sign(floorGrowthMiB)}${fmt(floorGrowthMiB, 1)} MiB from the first to the second half of the ${fmt(spanS)} s after warm-up, ` +
    `median of the last three samples ${sign(growthMiB)}${fmt(growthMiB, 1)} MiB vs the first three, slope ${fmt(slopeMiBPerMin, 2)} MiB/min (R² ${fmt(fit.r2, 2)}); noise taken as ±${fmt(noiseMiB, 1)} MiB`;
  let verdict;
  let possibleLeak = false;
  if (after.length < 6 || spanS < 25) verdict = `too short to judge (${after.length} samples after the ${warmupS} s warm-up)`;
  else if (floorGrowthMiB > noiseMiB && slopeMiBPerMin > 0) {
    possibleLeak = true;
    verdict = `POSSIBLE LEAK: ${figures}`;
  } else verdict = `no growth beyond noise (${figures})`;
  const delays = series.map((s) => s.loopDelay).filter(Boolean);
  return {
    warmupS,
    rssStart: samples[0].rss,
    rssAtWarmup: atWarmup.rss,
    rssEnd: last.rss,
    rssMax: Math.max(...series.map((s) => s.rss)),
    rssFloorFirst: floorFirst,
    rssFloorLast: floorLast,
    floorGrowthMiB,
    rssFirstMedian: firstRss,
    rssLastMedian: lastRss,
    growthMiB,
    slopeMiBPerMin,
    r2: fit.r2,
    noiseMiB,
    possibleLeak,
    verdict,
    loopDelayP99Max: delays.length ? Math.max(...delays.map((d) => d.p99)) : NaN,
    loopDelayMax: delays.length ? Math.max(...delays.map((d) => d.max)) : NaN,
    rpsFirst: series[0]?.rps,
    rpsLast: last?.rps,
  };
}

// ---- main ---------------------------------------------------------------------------------------

/** The report and charts from `results`; returns the chart file names. */
function writeReport(meta, config, results) {
  mkdirSync(OUT, { recursive: true });
  const ctx = { CONFIG: config, SERVERS, ROUTES, meta, results };
  const charts = [];
  if (results.size && Object.values(results.size).some((r) => r.ratio)) {
    writeFileSync(path.join(OUT, 'scenarios-size.svg'), sizeChart(ctx));
    charts.push('scenarios-size.svg');
  }
  if (results.soak && Object.values(results.soak).some((r) => r.samples)) {
    writeFileSync(path.join(OUT, 'scenarios-soak.svg'), soakChart(ctx));
    charts.push('scenarios-soak.svg');
  }
  meta.charts = charts;
  writeFileSync(path.join(OUT, 'scenarios.md'), renderMarkdown(ctx));
  return charts;
}

async function main() {
  if (opt.rerender) {
    const file = path.join(OUT, 'scenarios.json');
    if (!existsSync(file)) die(`--rerender: ${file} does not exist`);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    Object.assign(CONFIG, json.config);
    // The soak's analysis again from its samples (the way it is judged may have changed).
    for (const r of Object.values(json.results.soak ?? {})) if (r.samples) r.analysis = analyseSoak(r.samples);
    writeReport(json.meta, CONFIG, json.results);
    writeFileSync(file, JSON.stringify(json, null, 1) + '\n');
    log(`bench:scenarios: ${path.relative(process.cwd(), path.join(OUT, 'scenarios.md'))} and charts written again from scenarios.json`);
    return;
  }
  const started = Date.now();
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'index.js'))) die('dist/src/index.js is missing: run `npm run build` first.');
  mkdirSync(TMP, { recursive: true });
  const pinning = setUpPinning();
  log(`bench:scenarios: ${pinning.note}`);
  log(
    `bench:scenarios: ${CONFIG.connections} connections; ${CONFIG.rounds} round(s) (scenario 1) and ${CONFIG.rowsRounds} (scenario 2) of ${CONFIG.duration} s per measurement; ` +
      `${CONFIG.soakSeconds} s soak${QUICK ? ' (--quick)' : ''}`,
  );

  // Which servers can run here.
  const redisUp = await redisClient(REDIS_URL).then(async (c) => {
    if (!c) return false;
    await c.close();
    return true;
  });
  const available = (id) => {
    const s = SERVERS[id];
    if (s.script !== 'server' && !scriptExists(s.script)) return `${path.relative(ROOT, SCRIPTS[s.script])} does not exist`;
    if (s.store === 'redis' && !redisUp) return `Redis does not answer at ${REDIS_URL.replace(/\/\/[^@/]*@/, '//')}`;
    return null;
  };
  const pick = (list, scenario) =>
    list.filter((id) => {
      if (!SERVERS[id]) die(`unknown server ${id} (known: ${Object.keys(SERVERS).join(', ')})`);
      const why = available(id);
      if (why) notes.push(`${SERVERS[id].label}: left out of ${scenario}: ${why}.`);
      return !why;
    });
  const sizeIds = pick(opt.servers ? opt.servers.split(',').map((s) => s.trim()) : SIZE_DEFAULT, 'scenario 1');
  const rowsIds = pick(ROWS_DEFAULT, 'scenario 2');

  const results = { size: null, rows: null, soak: null };
  const timing = {};
  const time = async (name, fn) => {
    const t = Date.now();
    try {
      results[name] = await fn();
    } finally {
      timing[name] = (Date.now() - t) / 1000;
      await deleteRedisKeys(REDIS_URL, RUN_PREFIX);
    }
  };
  if (ONLY.has('size')) await time('size', () => scenarioSize(pinning, sizeIds));
  if (ONLY.has('rows')) await time('rows', () => scenarioRows(pinning, rowsIds));
  if (ONLY.has('soak')) await time('soak', () => scenarioSoak(pinning));

  const seconds = Math.round((Date.now() - started) / 1000);
  const meta = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    commit: spawnSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || 'unknown',
    node: process.version,
    cpu: `${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'} (${os.cpus().length} CPUs)`,
    pinning: pinning.note,
    runtime: `${Math.floor(seconds / 60)} min ${seconds % 60} s`,
    timing,
    notes,
    failures,
  };
  const charts = writeReport(meta, CONFIG, results);
  writeFileSync(path.join(OUT, 'scenarios.json'), JSON.stringify({ meta, config: CONFIG, results }, null, 1) + '\n');
  log(`\nbench:scenarios: report ${path.relative(process.cwd(), path.join(OUT, 'scenarios.md'))}${charts.length ? `; charts ${charts.join(', ')}` : ''}`);
  log(`bench:scenarios: whole run ${meta.runtime} (${Object.entries(timing).map(([k, v]) => `${k} ${fmt(v)} s`).join(', ')})`);
  if (failures.length > 0) {
    console.error(`\nbench:scenarios: FAILED\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
}

main().catch(async (error) => {
  console.error(error);
  await deleteRedisKeys(REDIS_URL, RUN_PREFIX).catch(() => undefined);
  process.exit(1);
});
