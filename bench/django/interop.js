// Django, the limit and our module read and write each other's sessions on the same table:
//
//   node bench/django/interop.js            (sqlite: a fresh file in bench/.tmp/)
//   BENCH_DB=postgres BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/DB node bench/django/interop.js
//
// Starts bench/django/server.js, bench/limit.js and bench/server.js (BENCH_KIND=ours, needs
// `npm run build`) on the same database at once, with BENCH_PAD (default 300: Django then
// compresses the data, so the limit's inflate path is used too), and passes one session around:
// each server increments it with /write and the next one must read the new counter. A session created
// by each server is read by the others. Exit code 1 on a mismatch, 3 when a server left itself out.
import { fork } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { client, readCounter } from '../lib/http.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const env = { ...process.env, BENCH_PAD: process.env.BENCH_PAD ?? '300' };
let ownFile = false;
if ((env.BENCH_DB ?? 'sqlite') === 'sqlite' && !env.BENCH_SQLITE) {
  mkdirSync(path.join(ROOT, 'bench', '.tmp'), { recursive: true });
  env.BENCH_SQLITE = path.join(ROOT, 'bench', '.tmp', `interop-${process.pid}.sqlite3`);
  ownFile = true;
}

const SERVERS = [
  ['django', 'bench/django/server.js', {}],
  ['limit', 'bench/limit.js', {}],
  ['ours', 'bench/server.js', { BENCH_KIND: 'ours' }],
];

const children = [];
async function start(name, script, extra) {
  const child = fork(path.join(ROOT, script), [], { cwd: ROOT, env: { ...env, ...extra }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const ready = await Promise.race([
    new Promise((resolve) => child.on('message', (m) => m?.type === 'ready' && resolve(m))),
    new Promise((resolve) => child.on('exit', (code) => resolve({ exited: code }))),
  ]);
  if (ready.exited !== undefined) {
    console.log(`${name} exited with ${ready.exited} before ready`);
    await stopAll();
    process.exit(ready.exited === 3 ? 3 : 1);
  }
  return { name, child, http: client(ready.port) };
}
async function stopAll() {
  await Promise.all(
    children.map((c) => (c.exitCode !== null ? null : new Promise((resolve) => (c.once('exit', resolve), c.send({ type: 'exit' }))))),
  );
}

let failed = false;
function check(what, got, expected) {
  const ok = got === expected;
  if (!ok) failed = true;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${got}${ok ? '' : ` (expected ${expected})`}`);
}

async function main() {
  const servers = [];
  // One at a time: the first one creates the table (Django's migration; the others find it there).
  for (const [name, script, extra] of SERVERS) servers.push(await start(name, script, extra));
  // One session, passed around twice: each server increments it, the next one reads it.
  let cookie;
  let counter = 0;
  for (const round of [1, 2]) {
    for (const s of servers) {
      const res = await s.http.request('POST', '/write', cookie);
      if (res.status !== 200) throw new Error(`${s.name} POST /write: ${res.status} ${res.body}`);
      counter += 1;
      check(`round ${round}: ${s.name} /write`, JSON.parse(res.body).counter, counter);
      if (res.setCookie) {
        if (cookie && res.setCookie !== cookie) check(`${s.name} kept the session key`, res.setCookie, cookie);
        cookie = res.setCookie;
      }
      for (const other of servers) check(`  ${other.name} /read after ${s.name}'s write`, await readCounter(other.http, cookie), counter);
    }
  }
  // A new session made by each server, read by all.
  for (const s of servers) {
    const res = await s.http.request('POST', '/write');
    for (const other of servers) check(`${s.name}'s new session read by ${other.name}`, await readCounter(other.http, res.setCookie), 1);
  }
  for (const s of servers) s.http.close();
  await stopAll();
  if (ownFile) for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(env.BENCH_SQLITE + suffix, { force: true });
  console.log(failed ? 'FAILED' : 'OK');
  process.exit(failed ? 1 : 0);
}

main().catch(async (error) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
