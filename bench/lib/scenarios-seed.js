// The 1,000,000-live-row sqlite file of bench/scenarios.js: the package's own migration creates
// django_session, then ROWS unexpired rows in Django's format go in with one prepared INSERT in one
// transaction (better-sqlite3). Kept under bench/.tmp and reused while its parameters match.
//
// Seeded rows expire in 2090..2099; a server's own sessions expire within weeks, so `reset()`
// deletes those (expire_date < '2090') and the file is back to its seeded state for the next server.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

/** Bump when the seeded content changes, so an old cached file is not reused. */
const FORMAT = 1;
const SEEDED_FROM = '2090-01-01';

/** The table's DDL from the package's migration, for a given TypeORM type. */
export async function tableDdl(type) {
  const { CreateDjangoSession1700000000000 } = await import('../../dist/src/index.js');
  const sql = [];
  await new CreateDjangoSession1700000000000().up({ hasTable: async () => false, connection: { options: { type } }, query: async (q) => sql.push(q) });
  return sql;
}

/** A 32-character key, [a-z0-9], spread over the key space as random keys are (a scrambled counter). */
export function seededKey(i) {
  const bytes = createHash('sha256').update(`seeded-${i}`).digest();
  let key = '';
  for (let j = 0; j < 32; j++) key += KEY_CHARS[bytes[j] % 36];
  return key;
}
const KEY_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A real encoded session (the bench's secret and Django's default salt), as Django would store it. */
export async function seededSessionData(secretKey) {
  const { SessionCodec } = await import('../../dist/src/index.js');
  const codec = new SessionCodec({ secretKey });
  return codec.encode({ counter: 7, _auth_user_id: '42', _auth_user_backend: 'django.contrib.auth.backends.ModelBackend' });
}

/**
 * The seeded file at `file` (made, or reused when `file.json` says it has the same parameters and
 * the row count matches). Returns { file, rows, seeded: boolean, seconds, bytes }.
 */
export async function seededSqlite(file, rows, secretKey) {
  const { default: Database } = await import('better-sqlite3');
  const params = { format: FORMAT, rows, secretKey };
  const metaFile = `${file}.json`;
  if (existsSync(file) && existsSync(metaFile)) {
    try {
      const meta = JSON.parse(readFileSync(metaFile, 'utf8'));
      if (JSON.stringify(meta.params) === JSON.stringify(params)) {
        await resetSeeded(file);
        const db = new Database(file, { readonly: true, fileMustExist: true });
        const n = db.prepare('SELECT count(*) AS n FROM django_session').get().n;
        db.close();
        if (n === rows) return { file, rows, seeded: false, seconds: 0, bytes: fileBytes(file) };
      }
    } catch {
      // anything odd: seed again
    }
  }
  const t0 = performance.now();
  mkdirSync(path.dirname(file), { recursive: true });
  for (const suffix of ['', '-wal', '-shm', '-journal', '.json']) rmSync(file + suffix, { force: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  for (const sql of await tableDdl('sqlite')) db.exec(sql);
  const insert = db.prepare('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)');
  const data = await seededSessionData(secretKey);
  // Expiry dates spread over ten years from 2090 (Django's UTC text: 'YYYY-MM-DD HH:MM:SS.ffffff').
  const base = Date.UTC(2090, 0, 1);
  const span = 10 * 365 * 86400 * 1000;
  db.transaction(() => {
    for (let i = 0; i < rows; i++) {
      const iso = new Date(base + Math.floor(((i * 7919) % rows) * (span / rows))).toISOString();
      insert.run(seededKey(i), data, `${iso.slice(0, 10)} ${iso.slice(11, 23)}${String(i % 1000).padStart(3, '0')}`);
    }
  })();
  db.exec('ANALYZE');
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  writeFileSync(metaFile, JSON.stringify({ params, createdAt: new Date().toISOString() }) + '\n');
  return { file, rows, seeded: true, seconds: (performance.now() - t0) / 1000, bytes: fileBytes(file) };
}

/** Deletes the rows a server added (they expire before 2090), folds the WAL into the file; returns how many were deleted. */
export async function resetSeeded(file) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('journal_mode = WAL');
    const { changes } = db.prepare('DELETE FROM django_session WHERE expire_date < ?').run(SEEDED_FROM);
    db.pragma('wal_checkpoint(TRUNCATE)');
    return changes;
  } finally {
    db.close();
  }
}

/** Rows of django_session in a sqlite file (a server's, after it stopped). */
export async function sqliteRowCount(file) {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT count(*) AS n FROM django_session').get().n;
  } finally {
    db.close();
  }
}

function fileBytes(file) {
  try {
    return statSync(file).size;
  } catch {
    return NaN;
  }
}
