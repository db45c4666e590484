// A short functional load run of one bench server, as bench/run.js starts it (IPC, pinned with
// taskset: server on the first allowed CPU, this process and autocannon on the second), for checking
// bench/limit.js and bench/django/server.js on their own:
//
//   node bench/django/drive.js SERVER [--seconds 2] [--warmup 1] [--connections 10] [--routes none,read,write] [--keep-file]
//     SERVER: a path (bench/limit.js, bench/django/server.js, bench/server.js); the environment is
//     passed on (BENCH_DB, BENCH_STORE, BENCH_PG_URL, BENCH_PAD, ...). BENCH_SQLITE defaults to a
//     fresh file in bench/.tmp/.
//
// Per route: req/s, non-2xx, the server's CPU per request and statements/commands per request (its
// `stats`); after /write, every session's counter must grow by its 2xx writes (no lost update; +1 allowed:
// a response still in flight when autocannon stops is not counted).
// Exit code 1 when a check fails, 3 when the server left itself out.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { client, readCounter } from '../lib/http.js';
import { setUpPinning } from '../lib/pinning.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '10' },
    routes: { type: 'string', default: 'none,read,write' },
    'keep-file': { type: 'boolean', default: false },
  },
});
const script = path.resolve(positionals[0] ?? 'bench/limit.js');
const seconds = Number(opt.seconds);
const connections = Number(opt.connections);
const env = { ...process.env };
if ((env.BENCH_DB ?? 'sqlite') === 'sqlite' && !env.BENCH_SQLITE) {
  mkdirSync(path.join(ROOT, 'bench', '.tmp'), { recursive: true });
  env.BENCH_SQLITE = path.join(ROOT, 'bench', '.tmp', `drive-${process.pid}.sqlite3`);
}
const stateless = env.BENCH_STORE === 'signed_cookies' || env.BENCH_ENGINE === 'signed_cookies';

const pinning = setUpPinning();
console.log(pinning.note);
const [cmd, args] = pinning.pinned ? ['taskset', ['-c', String(pinning.serverCpu), process.execPath, script]] : [process.execPath, [script]];
const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
let nextId = 0;
const stats = () =>
  new Promise((resolve) => {
    const id = ++nextId;
    const on = (m) => m?.type === 'stats' && m.id === id && (child.off('message', on), resolve(m));
    child.on('message', on);
    child.send({ type: 'stats', id });
  });

let failed = false;
const fail = (message) => {
  failed = true;
  console.log(`FAIL ${message}`);
};

function load(port, route, cookies, duration = seconds) {
  const okByCookie = new Map();
  let index = 0;
  let non2xx = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}/${route}`,
        method: route === 'write' ? 'POST' : 'GET',
        connections,
        duration,
        timeout: 10,
        setupClient(c) {
          c.benchCookie = route === 'none' ? undefined : cookies[index++ % cookies.length];
          if (c.benchCookie) c.setHeaders({ cookie: c.benchCookie });
        },
      },
      (error, result) => (error ? reject(error) : resolve({ result, okByCookie, non2xx })),
    );
    instance.on('response', (c, status) => {
      if (status < 200 || status >= 300) non2xx++;
      else if (c.benchCookie) okByCookie.set(c.benchCookie, (okByCookie.get(c.benchCookie) ?? 0) + 1);
    });
  });
}

const perReq = (o, n) =>
  Object.entries(o)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${(v / n).toFixed(2)} ${k}`)
    .join(' + ') || '0';
const diff = (a = {}, b = {}) => Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - (a[k] ?? 0)]));

async function main() {
  const ready = await Promise.race([
    new Promise((resolve) => child.on('message', (m) => m?.type === 'ready' && resolve(m))),
    exited.then((code) => ({ exited: code })),
  ]);
  if (ready.exited !== undefined) {
    console.log(`server exited with ${ready.exited} before ready`);
    process.exit(ready.exited === 3 ? 3 : 1);
  }
  console.log(`${path.relative(ROOT, script)} ready on ${ready.port}: ${JSON.stringify(ready.settings)}`);
  const c = client(ready.port);
  const cookies = [];
  for (let i = 0; i < connections; i++) {
    const res = await c.request('POST', '/write');
    if (res.status !== 200 || !res.setCookie) throw new Error(`POST /write answered ${res.status} ${res.setCookie ?? 'without a cookie'}: ${res.body}`);
    cookies.push(res.setCookie);
  }
  for (const cookie of cookies) if ((await readCounter(c, cookie)) !== 1) fail(`a new session's counter is not 1`);
  const warmup = Number(opt.warmup);
  if (warmup > 0) for (const route of opt.routes.split(',')) await load(ready.port, route, cookies, warmup);
  for (const route of opt.routes.split(',')) {
    const okBefore = new Map();
    if (route === 'write' && !stateless) for (const cookie of cookies) okBefore.set(cookie, await readCounter(c, cookie));
    const before = await stats();
    const { result, okByCookie, non2xx } = await load(ready.port, route, cookies);
    const after = await stats();
    const n = result.requests.total || 1;
    const cpu = after.cpu - before.cpu;
    const rssMb = after.rss ? ` rss ${(after.rss / 2 ** 20).toFixed(0)} MB` : '';
    const loop = after.loopDelay ? ` loop p99 ${after.loopDelay.p99.toFixed(1)} ms` : '';
    console.log(
      `/${route.padEnd(5)} ${String(Math.round(result.requests.average)).padStart(6)} req/s  ${n} req  non-2xx ${non2xx + result.errors + result.timeouts}` +
        `  cpu ${(cpu / n).toFixed(0)} µs/req  sql ${perReq(diff(before.queries, after.queries), n)}  redis ${perReq(diff(before.redis, after.redis), n)}${rssMb}${loop}`,
    );
    if (non2xx + result.errors + result.timeouts > 0) fail(`/${route}: ${non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
    if (route === 'write' && !stateless) {
      for (const cookie of cookies) {
        const expected = okBefore.get(cookie) + (okByCookie.get(cookie) ?? 0);
        const got = await readCounter(c, cookie);
        // autocannon drops the responses still in flight when its time is up: at most one per connection.
        if (got !== expected && got !== expected + 1) fail(`${cookie.slice(0, 20)}…: counter ${got}, expected ${expected} (+1) (lost update?)`);
      }
      console.log(`counters after /write: ${cookies.length} sessions checked (their counter before + their 2xx writes, +1 for a response cut off at the end)`);
    }
  }
  c.close();
  child.send({ type: 'exit' });
  const code = await exited;
  if (code !== 0) fail(`server exited with ${code}`);
  if (env.BENCH_SQLITE && !process.env.BENCH_SQLITE && !opt['keep-file']) {
    for (const s of ['', '-wal', '-shm', '-journal']) rmSync(env.BENCH_SQLITE + s, { force: true });
  }
  console.log(failed ? 'FAILED' : 'OK');
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  child.kill('SIGTERM');
  process.exit(1);
});
