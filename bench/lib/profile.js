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
