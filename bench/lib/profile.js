// Summarises a V8 .cpuprofile (node --cpu-prof) over a time window: self time by package, the
// hottest functions, and inclusive time of the session library's own functions.
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Which part of the stack a frame belongs to. */
export function categoryOf(frame) {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle (waiting for I/O)';
    if (functionName === '(program)') return 'V8/native (program)';
    return `native ${functionName || '(anonymous)'}`;
  }
  if (url.startsWith('node:')) return 'node core';
  const file = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const nm = file.lastIndexOf('/node_modules/');
  // TypeORM calls sqlite3.verbose(): every query then goes through this wrapper (a stack trace + util.inspect of the arguments).
  if (file.endsWith('/node_modules/sqlite3/lib/trace.js')) return 'sqlite3 verbose() trace wrapper';
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  // The module's direct driver calls: better-sqlite3's statements run natively inside them (a native
  // API function's time is the calling JavaScript function's self time), node-sqlite3's callbacks.
  if (file.includes('/dist/src/backends/typeorm/direct-statements.')) return 'direct driver calls (dist/src/backends/typeorm/direct-statements.js)';
  if (file.includes('/dist/src/')) return 'nestjs-django-session (dist/src)';
  if (file.includes('/dist/migrations/')) return 'nestjs-django-session (dist/src)';
  if (file.includes('/bench/')) return 'bench app';
  return path.relative(ROOT, file) || file;
}

function shortFrame(frame) {
  const file = frame.url ? (frame.url.startsWith('file://') ? decodeURIComponent(new URL(frame.url).pathname) : frame.url) : '';
  const nm = file.lastIndexOf('/node_modules/');
  const where = nm >= 0 ? file.slice(nm + 14) : file.startsWith(ROOT) ? path.relative(ROOT, file) : file;
  return `${frame.functionName || '(anonymous)'}${where ? ` ${where}:${frame.lineNumber + 1}` : ''}`;
}

/**
 * @param profile parsed .cpuprofile
 * @param fromUs, toUs window in the profile's clock (µs, CLOCK_MONOTONIC = process.hrtime)
 */
export function summarise(profile, fromUs = -Infinity, toUs = Infinity) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map(); // node id -> µs
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    if (t < fromUs || t > toUs) continue;
    // The sample's weight is the time until the next sample.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (dt <= 0) continue;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const byCategory = new Map();
  const byFunction = new Map();
  const inclusive = new Map(); // library function -> µs
  for (const [id, us] of self) {
    const frame = nodes.get(id).callFrame;
    const cat = categoryOf(frame);
    byCategory.set(cat, (byCategory.get(cat) ?? 0) + us);
    const key = shortFrame(frame);
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    // Inclusive time of our own functions: each counted once per sample.
    const seen = new Set();
    for (let p = id; p !== undefined; p = parent.get(p)) {
      const f = nodes.get(p).callFrame;
      if (categoryOf(f) !== 'nestjs-django-session (dist/src)') continue;
      const k = shortFrame(f);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
  return { totalUs: total, byCategory: sorted(byCategory), byFunction: sorted(byFunction), inclusive: sorted(inclusive) };
}

/** The coarse groups of the report's "where the microseconds go", in display order. */
export const COARSE_ORDER = [
  'our code (nestjs-django-session, cookie)',
  'TypeORM',
  'database/Redis driver',
  'Nest + rxjs',
  'node http + Express/Fastify',
  'GC',
  'V8/native',
  'other packages',
  'bench app',
  'idle (waiting for I/O)',
];

const DRIVERS = new Set([
  'direct driver calls (dist/src/backends/typeorm/direct-statements.js)',
  'sqlite3',
  'sqlite3 verbose() trace wrapper',
  'better-sqlite3',
  'bindings',
  'file-uri-to-path',
  'pg',
  'pg-protocol',
  'pg-pool',
  'pg-types',
  'pg-connection-string',
  'pgpass',
  'postgres-array',
  'postgres-bytea',
  'postgres-date',
  'postgres-interval',
  'redis',
  '@redis/client',
  'cluster-key-slot',
  'generic-pool',
]);
const NEST = new Set(['rxjs', 'reflect-metadata', 'iterare', 'tslib', 'uid', 'load-esm', 'fast-safe-stringify', '@lukeed/csprng']);
const HTTP = new Set([
  'node core',
  'express',
  'router',
  'body-parser',
  'finalhandler',
  'send',
  'serve-static',
  'fastify',
  'find-my-way',
  'light-my-request',
  'avvio',
  'fast-json-stringify',
  'fast-querystring',
  'fast-decode-uri-component',
  'secure-json-parse',
  'safe-regex2',
  'ret',
  'toad-cache',
  'process-warning',
  'abstract-logging',
  'pino',
  'rfdc',
  'content-type',
  'qs',
  'side-channel',
  'type-is',
  'raw-body',
  'on-finished',
  'on-headers',
  'mime-types',
  'mime-db',
  'media-typer',
  'etag',
  'fresh',
  'debug',
  'ms',
  'depd',
  'proxy-addr',
  'forwarded',
  'ipaddr.js',
  'accepts',
  'negotiator',
  'parseurl',
  'encodeurl',
  'escape-html',
  'vary',
  'statuses',
  'http-errors',
  'iconv-lite',
  'setprototypeof',
  'toidentifier',
  'merge-descriptors',
  'safe-buffer',
  'safer-buffer',
  'inherits',
  'range-parser',
  'content-disposition',
  'ee-first',
  'unpipe',
  'bytes',
  'destroy',
  'methods',
  'utils-merge',
  'path-to-regexp',
  'cookie-signature',
  'is-promise',
  'math-intrinsics',
  'es-errors',
  'object-inspect',
  'call-bound',
  'get-intrinsic',
  'function-bind',
  'dunder-proto',
  'gopd',
  'has-symbols',
  'hasown',
  'es-object-atoms',
  'es-define-property',
  'get-proto',
  'call-bind-apply-helpers',
]);

/** The coarse group of a category of `categoryOf`. */
export function coarseCategory(category) {
  if (category === 'nestjs-django-session (dist/src)' || category === 'cookie') return COARSE_ORDER[0];
  if (category === 'typeorm') return 'TypeORM';
  if (DRIVERS.has(category)) return 'database/Redis driver';
  if (category.startsWith('@nestjs/') || NEST.has(category)) return 'Nest + rxjs';
  if (HTTP.has(category) || category.startsWith('@fastify/')) return 'node http + Express/Fastify';
  if (category === 'GC') return 'GC';
  // Socket writes of the response.
  if (/^native (writev|write\w*String|writeBuffer)$/.test(category)) return 'node http + Express/Fastify';
  if (category === 'V8/native (program)' || category.startsWith('native ')) return 'V8/native';
  if (category === 'idle (waiting for I/O)') return category;
  if (category === 'bench app') return 'bench app';
  return 'other packages';
}
