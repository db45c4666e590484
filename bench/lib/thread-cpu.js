// CPU time of a bench server's own threads, for its `stats` answer (bench/server.js, bench/limit.js).
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (µs) of the main thread and of all other threads (libuv's pool runs node-sqlite3's
 * queries, zlib...; V8 has GC helpers), from /proc on Linux; null elsewhere.
 */
export function threadCpu() {
  try {
    const tick = 1e6 / 100; // USER_HZ is 100 on Linux
    let main = 0;
    let others = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const us = (Number(fields[11]) + Number(fields[12])) * tick; // utime + stime
      if (Number(tid) === process.pid) main += us;
      else others += us;
    }
    return { main, others };
  } catch {
    return null;
  }
}
