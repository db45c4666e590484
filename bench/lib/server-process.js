// A bench server as a child process (bench/server.js, bench/limit.js, bench/django/server.js all
// speak this IPC protocol: { type: 'ready', port, settings } once listening; { type: 'stats', id, ... }
// answered with the same id; { type: 'exit' }), used by bench/run.js and bench/scenarios.js.
import { spawn } from 'node:child_process';

/** Exit code of a server that cannot run here (e.g. Django not installed): "left out", not a failure. */
export const EXIT_UNAVAILABLE = 3;

/** A server that left itself out (exit code 3), with its reason (its last line on stderr). */
export class ServerUnavailable extends Error {}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * Starts `node [nodeArgs] script` (pinned with taskset to the server CPU when `pinning.pinned`), its
 * stderr passed on; resolves when it listens, rejects with ServerUnavailable when it exits with
 * code 3 and with an Error when it exits otherwise or does not listen in time (90 s).
 */
export async function spawnServer({ script, env, pinning, cwd, name, nodeArgs = [], listenTimeoutMs = 90_000 }) {
  const argv = [...nodeArgs, script];
  const [cmd, args] = pinning?.pinned ? ['taskset', ['-c', String(pinning.serverCpu), process.execPath, ...argv]] : [process.execPath, argv];
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  // stderr goes on to ours; its tail is kept for the reason of an early exit.
  let stderrTail = '';
  child.stderr.on('data', (chunk) => {
    process.stderr.write(chunk);
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4000);
  });
  const pending = new Map();
  let nextId = 0;
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exited = { code, signal }))));
  child.on('message', (m) => {
    const waiting = pending.get(m?.id);
    if (waiting !== undefined && m.type === waiting.type) {
      pending.delete(m.id);
      waiting.resolve(m);
    }
  });
  /** Sends `message` with a fresh id; resolves with the server's answer of type `answerType` with that id. */
  const ask = (message, answerType, timeoutMs = 10_000) => {
    if (exited) return Promise.reject(new Error(`server ${name} exited (${exited.signal ?? exited.code})`));
    const id = ++nextId;
    return new Promise((resolve, reject) => {
      pending.set(id, { type: answerType, resolve });
      child.send({ ...message, id });
      exitPromise.then(() => pending.has(id) && (pending.delete(id), reject(new Error(`server ${name} exited`))));
      setTimeout(() => pending.has(id) && (pending.delete(id), reject(new Error(`server ${name} did not answer ${message.type}`))), timeoutMs).unref();
    });
  };
  const ready = await Promise.race([
    new Promise((resolve) => child.on('message', (m) => m?.type === 'ready' && resolve(m))),
    exitPromise.then(async (e) => {
      await sleep(50); // the last of stderr
      return { failed: `exited with ${e.signal ?? e.code} before listening`, code: e.code };
    }),
    sleep(listenTimeoutMs).then(() => ({ failed: `did not listen within ${listenTimeoutMs / 1000} s` })),
  ]);
  if (ready.failed) {
    if (!exited) child.kill('SIGKILL'); // our own child, by its handle
    const reason = stderrTail.trim().split('\n').filter(Boolean).at(-1) ?? ready.failed;
    if (ready.code === EXIT_UNAVAILABLE) throw new ServerUnavailable(reason);
    throw new Error(`server ${name} ${ready.failed}: ${reason}`);
  }
  return {
    port: ready.port,
    settings: ready.settings,
    pid: child.pid,
    /** The server's stats; `extra` goes with the request (e.g. `{ texts: true }`, `{ reset: true }`). */
    stats(extra = {}) {
      return ask({ type: 'stats', ...extra }, 'stats');
    },
    ask,
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
