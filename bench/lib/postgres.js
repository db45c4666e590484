// The benches' own PostgreSQL databases on a shared server (bench/run.js, sweep.js, scenarios.js,
// inprocess.js): created when missing, never dropped, so nothing else on the server is touched.

/** A connected pg client (the caller ends it). */
export async function pgClient(url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/**
 * Makes sure the database `name` exists on the server of `url` (connecting to `url`'s own database
 * to create it); returns its URL, its name and the server's version.
 */
export async function ensurePostgresDatabase(url, name) {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`the bench's PostgreSQL database name (BENCH_POSTGRES_DB, BENCH_SWEEP_PG_DB) must be a plain identifier, got ${name}`);
  const admin = await pgClient(url);
  try {
    if ((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 0) await admin.query(`CREATE DATABASE ${name}`);
    const version = (await admin.query('SHOW server_version')).rows[0].server_version;
    const own = new URL(url);
    own.pathname = `/${name}`;
    return { url: own.toString(), name, version };
  } finally {
    await admin.end();
  }
}
