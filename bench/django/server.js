// Django 3.2 (db session engine) under gunicorn, as a bench server: started by bench/run.js like
// bench/server.js (IPC channel, same environment and routes, see its header), it
//   1. runs prepare.py (prerequisites: exit 3 with one line on stderr when Django, gunicorn or
//      psycopg2 is missing; django_session created by Django's own migration when absent),
//   2. starts gunicorn on 127.0.0.1:0: one worker process (the Node servers are one process on one
//      pinned CPU; gunicorn and its worker inherit this wrapper's CPU affinity), worker class
//      BENCH_DJANGO_WORKER (default gthread) with BENCH_DJANGO_THREADS threads (default 4): see
//      README.md for why,
//   3. waits until Django answers, then sends { type: 'ready', port, settings }.
// IPC `stats`: cpu = utime + stime of the gunicorn master and its workers (all threads; /proc), rss =
// the workers' RSS, queries = the SQL statements Django ran (an execute_wrapper, served by the
// worker on GET /__bench/stats; one worker, so one set of counters), threads and loopDelay null.
// `exit` or a lost parent: SIGTERM to gunicorn's process group, SIGKILL after 5 s; the gunicorn
// master also has PR_SET_PDEATHSIG, so nothing is left behind even if this wrapper is killed.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const HERE = import.meta.dirname;
const PYTHON = '/usr/bin/python3';
const WORKER = process.env.BENCH_DJANGO_WORKER ?? 'gthread';
const THREADS = process.env.BENCH_DJANGO_THREADS ?? '4';
const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', DJANGO_SETTINGS_MODULE: 'benchsite.settings' };

/** exit code 3: run.js leaves this server out. */
function leftOut(message) {
  console.error(`bench django: ${message}`);
  process.exit(3);
}

// ---- 1. prerequisites and the table -------------------------------------------------------------

const hasPython = spawnSync(PYTHON, ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasPython) leftOut(`${PYTHON} not found; install python3 and Django with: sh bench/django/setup.sh`);
const prepare = spawnSync(PYTHON, [path.join(HERE, 'prepare.py')], { cwd: HERE, env, encoding: 'utf8' });
if (prepare.status !== 0) {
  process.stderr.write(prepare.stderr);
  process.exit(prepare.status === 3 ? 3 : 1);
}
const prepared = JSON.parse(prepare.stdout.trim().split('\n').pop());

// ---- 2. gunicorn ---------------------------------------------------------------------------------

const args = [
  '-m', 'gunicorn',
  '--config', path.join(HERE, 'gunicorn.conf.py'),
  '--chdir', HERE,
  '--bind', '127.0.0.1:0',
  '--workers', '1',
  '--worker-class', WORKER,
  ...(WORKER === 'gthread' ? ['--threads', THREADS] : []),
  'benchsite.wsgi:application',
];
// detached: its own process group, so the whole group (master + worker) can be signalled by its id.
const gunicorn = spawn(PYTHON, args, { cwd: HERE, env: { ...env, BENCH_WRAPPER_PID: String(process.pid) }, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
let gunicornExit = null;
const gunicornExited = new Promise((resolve) => gunicorn.on('exit', (code, signal) => resolve((gunicornExit = { code, signal }))));

const portPromise = new Promise((resolve, reject) => {
  let buffered = '';
  gunicorn.stdout.setEncoding('utf8');
  gunicorn.stdout.on('data', (chunk) => {
    buffered += chunk;
    const m = /\{"port": (\d+)\}/.exec(buffered);
    if (m) resolve(Number(m[1]));
  });
  gunicornExited.then((e) => reject(new Error(`gunicorn exited with ${e.signal ?? e.code} before listening`)));
});

function get(port, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`GET ${urlPath}: ${res.statusCode} ${body.slice(0, 200)}`))));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${urlPath} timed out`)));
  });
}

// ---- /proc: CPU and RSS of gunicorn's processes ---------------------------------------------------

const TICK_US = 1e4; // USER_HZ = 100
const PAGE = 4096;
/** The pids whose parent is `ppid` (gunicorn's workers). */
function childrenOf(ppid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
/** { cpu µs (utime + stime of all its threads; with `reaped`, also of its waited-for children), rss bytes } */
function procUsage(pid, reaped = false) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields from the state (3rd) on: utime 14th -> f[11], stime f[12], cutime f[13], cstime f[14], rss f[21]
    const ticks = Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0);
    return { cpu: ticks * TICK_US, rss: Number(f[21]) * PAGE };
  } catch {
    return { cpu: 0, rss: 0 };
  }
}
function gunicornUsage() {
  const master = procUsage(gunicorn.pid, true);
  let cpu = master.cpu;
  let rss = 0;
  for (const pid of childrenOf(gunicorn.pid)) {
    const worker = procUsage(pid);
    cpu += worker.cpu;
    rss += worker.rss;
  }
  return { cpu, rss };
}

// ---- shutdown: never leave a process behind -------------------------------------------------------

let stopping = null;
function stopGunicorn() {
  stopping ??= (async () => {
    if (gunicornExit) return;
    const group = -gunicorn.pid; // the group this wrapper created (detached)
    try {
      process.kill(group, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(group, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 5000);
    await gunicornExited;
    clearTimeout(timer);
    // A worker that outlived its master (it exits by itself, but do not wait for that).
    try {
      process.kill(group, 'SIGKILL');
    } catch {
      // none left: the usual case
    }
  })();
  return stopping;
}
process.on('exit', () => {
  if (!gunicornExit) {
    try {
      process.kill(-gunicorn.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => stopGunicorn().finally(() => process.exit(0)));

// ---- 3. ready, then serve the IPC -------------------------------------------------------------------

async function main() {
  const port = await Promise.race([portPromise, new Promise((_, reject) => setTimeout(() => reject(new Error('gunicorn did not listen within 30 s')), 30_000).unref())]);
  // The worker boots after the master listens: poll until Django itself answers.
  const deadline = Date.now() + 30_000;
  let dbSettings;
  for (;;) {
    try {
      dbSettings = await get(port, '/__bench/settings');
      break;
    } catch (error) {
      if (gunicornExit) throw new Error(`gunicorn exited with ${gunicornExit.signal ?? gunicornExit.code}`);
      if (Date.now() > deadline) throw new Error(`Django did not answer within 30 s: ${error.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  gunicornExited.then((e) => {
    if (!stopping) {
      console.error(`bench django: gunicorn exited unexpectedly (${e.signal ?? e.code})`);
      process.exit(1);
    }
  });

  process.on('message', async (message) => {
    if (message?.type === 'stats') {
      try {
        const { queries } = await get(port, '/__bench/stats');
        const { cpu, rss } = gunicornUsage();
        process.send({ type: 'stats', id: message.id, cpu, threads: null, queries, redis: {}, files: {}, rss, loopDelay: null });
      } catch (error) {
        console.error(`bench django: stats: ${error.message}`);
      }
    } else if (message?.type === 'exit') {
      await stopGunicorn();
      process.exit(0);
    }
  });
  process.on('disconnect', () => stopGunicorn().finally(() => process.exit(0)));
  const settings = {
    django: prepared.django,
    server: `gunicorn ${WORKER}${WORKER === 'gthread' ? ` ×${THREADS} threads` : ''}, 1 worker`,
    ...dbSettings,
  };
  if (process.send) process.send({ type: 'ready', port, settings });
  else console.log(JSON.stringify({ type: 'ready', port, settings }));
}

main().catch(async (error) => {
  console.error(`bench django: ${error.message}`);
  await stopGunicorn();
  process.exit(1);
});
