// Pinning for the benches: the server on one CPU, the load generator (this process) on another.
import { spawnSync } from 'node:child_process';

/** The CPUs this process may run on (`taskset -c -p`), e.g. [0, 1]; null when unknown. */
export function allowedCpus() {
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
export function setUpPinning() {
  const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!hasTaskset) return { pinned: false, note: 'taskset (util-linux) not found: server and load generator are not pinned' };
  const cpus = allowedCpus() ?? [];
  if (cpus.length < 2) return { pinned: false, note: `only ${cpus.length || 'one'} CPU available: server and load generator share it (not pinned)` };
  const [server, loader] = cpus;
  const self = spawnSync('taskset', ['-a', '-p', '-c', String(loader), String(process.pid)], { encoding: 'utf8' });
  if (self.status !== 0) return { pinned: false, note: `taskset failed (${self.stderr.trim()}): not pinned` };
  return {
    pinned: true,
    cpus,
    serverCpu: server,
    loaderCpu: loader,
    note: `server pinned to CPU ${server}, load generator (autocannon) to CPU ${loader} with taskset, of ${cpus.length} CPUs`,
  };
}
