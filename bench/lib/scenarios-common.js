// Shared pieces of bench/scenarios.js: starting a bench server (bench/server.js, bench/limit.js,
// bench/django/server.js: the same IPC protocol as bench/run.js speaks), loading it with
// autocannon, an exact closed-loop load for the soak, Redis clean-up, RSS from /proc, a linear fit.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import autocannon from 'autocannon';
import { client } from './http.js';
import { spawnServer } from './server-process.js';

export const BENCH = path.resolve(import.meta.dirname, '..');
export const ROOT = path.resolve(BENCH, '..');

/** A timer that does not keep the process alive. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());

/** The server scripts; `limit` and `django` are optional (another part of the bench adds them). */
export const SCRIPTS = {
  server: path.join(BENCH, 'server.js'),
  limit: path.join(BENCH, 'limit.js'),
  django: path.join(BENCH, 'django', 'server.js'),
};
export const scriptExists = (name) => existsSync(SCRIPTS[name]);

export { EXIT_UNAVAILABLE, ServerUnavailable } from './server-process.js';

/** Resident set size of a process in bytes (VmRSS in /proc/<pid>/status), or NaN. */
export function procRss(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Starts one bench server as bench/run.js does (bench/lib/server-process.js); rejects with
 * ServerUnavailable when it leaves itself out (exit code 3). Its `stats()` fills in `rss` from /proc
 * when the server does not send it.
 */
export async function startServer({ script = SCRIPTS.server, env, pinning, name }) {
  const server = await spawnServer({ script, env: { ...process.env, ...env }, pinning, cwd: ROOT, name });
  const stats = server.stats.bind(server);
  server.stats = async (extra = {}) => {
    const s = await stats(extra);
    if (!Number.isFinite(s.rss)) {
      s.rss = procRss(server.pid);
      s.rssFrom = 'proc';
    }
    return s;
  };
  return server;
}

/** One session per connection, each created by a POST /write; returns the cookies. */
export async function createSessions(port, n, { bare = false } = {}) {
  const cookies = [];
  const c = client(port);
  try {
    for (let i = 0; i < n; i++) {
      const res = await c.request('POST', '/write');
      if (res.status !== 200) throw new Error(`POST /write answered ${res.status}: ${res.body.slice(0, 300)}`);
      if (res.setCookie) cookies.push(res.setCookie);
      else if (bare) cookies.push(`sessionid=${randomBytes(16).toString('hex')}`); // same size as a real one
      else throw new Error('POST /write set no cookie');
    }
  } finally {
    c.close();
  }
  return cookies;
}

/** The counters of the sessions (GET /read each). */
export async function readCounters(port, cookies) {
  const c = client(port);
  try {
    const out = [];
    for (const cookie of cookies) {
      const res = await c.request('GET', '/read', cookie);
      if (res.status !== 200) throw new Error(`GET /read answered ${res.status}: ${res.body.slice(0, 300)}`);
      out.push(JSON.parse(res.body).counter);
    }
    return out;
  } finally {
    c.close();
  }
}

/** N sequential requests on the sessions: the SQL statements per request (server's counters before and after). */
export async function countStatements(server, route, cookies, n) {
  const c = client(server.port);
  try {
    const before = await server.stats({ texts: true });
    for (let i = 0; i < n; i++) {
      const res = await c.request(route.method, route.path, cookies[i % cookies.length]);
      if (res.status !== 200) throw new Error(`${route.method} ${route.path} answered ${res.status}: ${res.body.slice(0, 300)}`);
    }
    const after = await server.stats({ texts: true });
    const q = (k) => ((after.queries?.[k] ?? 0) - (before.queries?.[k] ?? 0)) / n;
    // The statement texts run in between (bench/server.js sends them with `texts`), per request.
    const beforeTexts = new Map(before.texts ?? []);
    const statements = (after.texts ?? []).map(([sql, count]) => [sql, (count - (beforeTexts.get(sql) ?? 0)) / n]).filter(([, x]) => x > 0);
    return { select: q('select'), write: q('write'), other: q('other'), errors: q('errors'), statements };
  } finally {
    c.close();
  }
}

/**
 * Warm-up: `perRoute` requests of each route, spread over one keep-alive client per cookie, all at
 * once (autocannon rounds a run up to whole seconds; this takes as long as the requests do).
 * Throws on a non-2xx answer.
 */
export async function warmUp(port, routes, cookies, perRoute) {
  await Promise.all(
    cookies.map(async (cookie, i) => {
      const c = client(port);
      try {
        const n = Math.ceil(perRoute / cookies.length);
        for (let k = 0; k < n; k++) {
          for (const route of routes) {
            const res = await c.request(route.method, route.path, cookie);
            if (res.status < 200 || res.status >= 300) throw new Error(`warm-up: ${route.method} ${route.path} answered ${res.status}: ${res.body.slice(0, 300)}`);
          }
        }
      } finally {
        c.close();
      }
    }),
  );
}

/**
 * One autocannon run (each connection keeps its own session cookie): requests, req/s, non-2xx,
 * errors, and the 2xx responses per cookie (for the lost-update check). `seconds` may be
 * { amount: N } instead: N requests in all (a warm-up shorter than autocannon's whole seconds).
 */
export function autocannonLoad(port, route, seconds, cookies, connections) {
  const okByCookie = new Map();
  let index = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}${route.path}`,
        method: route.method,
        connections,
        pipelining: 1,
        ...(typeof seconds === 'object' ? { amount: seconds.amount } : { duration: seconds }),
        timeout: 10,
        setupClient(c) {
          const cookie = cookies?.length ? cookies[index++ % cookies.length] : undefined;
          c.benchCookie = cookie;
          if (cookie) c.setHeaders({ cookie });
        },
      },
      (error, result) => (error ? reject(error) : resolve({ result, okByCookie })),
    );
    instance.on('response', (c, status) => {
      if (status >= 200 && status < 300 && c.benchCookie) okByCookie.set(c.benchCookie, (okByCookie.get(c.benchCookie) ?? 0) + 1);
    });
  });
}

/**
 * A closed loop of `connections` keep-alive clients sending `method path` without a cookie until
 * `seconds` have passed; every request sent is answered before it returns (so the number of 2xx
 * is exact, unlike a load generator that drops its in-flight requests when the time is up).
 * `onSample(elapsedMs, counts)` is awaited every `sampleMs` while the load runs (not at the end).
 */
export async function closedLoop(port, { method, path: urlPath, seconds, connections, sampleMs, onSample }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const counts = { total: 0, ok: 0, non2xx: 0, errors: 0, statuses: {} };
  const t0 = Date.now();
  const end = t0 + seconds * 1000;
  const one = () =>
    new Promise((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          counts.total++;
          if (res.statusCode >= 200 && res.statusCode < 300) counts.ok++;
          else {
            counts.non2xx++;
            counts.statuses[res.statusCode] = (counts.statuses[res.statusCode] ?? 0) + 1;
          }
          resolve();
        });
      });
      req.on('error', () => {
        counts.total++;
        counts.errors++;
        resolve();
      });
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.end();
    });
  const workers = Array.from({ length: connections }, async () => {
    while (Date.now() < end) await one();
  });
  let sampling = true;
  // Samples while the load runs; the caller takes the last one at the end (after every answer).
  const sampler = (async () => {
    let next = t0 + sampleMs;
    while (sampling && next < end) {
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, 250)));
      if (sampling && Date.now() >= next) {
        await onSample?.(next - t0, { ...counts });
        next += sampleMs;
      }
    }
  })();
  await Promise.all(workers);
  const wallMs = Date.now() - t0;
  sampling = false;
  await sampler;
  agent.destroy();
  return { ...counts, wallMs };
}

// ---- Redis (the cache engine): the run's own clean-up -------------------------------------------

export async function redisClient(url) {
  const { createClient } = await import('redis');
  const c = createClient({ url, disableOfflineQueue: true, socket: { connectTimeout: 2000, reconnectStrategy: false } });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.ping();
    return c;
  } catch {
    try {
      await c.destroy?.(); // throws ClientClosedError when it never connected
    } catch {
      // closed already
    }
    return null;
  }
}

/** Deletes the keys under `prefix` (SCAN MATCH + DEL: Redis is shared, never FLUSHDB); returns how many. */
export async function deleteRedisKeys(url, prefix) {
  const c = await redisClient(url);
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

// ---- statistics ----------------------------------------------------------------------------------

/** Least-squares line through (x, y): { slope, intercept, r2 }. */
export function linearFit(xs, ys) {
  const n = xs.length;
  if (n < 2) return { slope: NaN, intercept: NaN, r2: NaN };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  const slope = sxx === 0 ? NaN : sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: sxx === 0 || syy === 0 ? 0 : (sxy * sxy) / (sxx * syy) };
}
