import 'reflect-metadata';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DataSource } from 'typeorm';
import { TypeOrmSessionBackend } from '../backends/typeorm.backend.js';

const USAGE = `Usage: django-session clearsessions -d <data-source file>

  clearsessions   Deletes expired sessions from django_session (Django's manage.py clearsessions)
                  and prints how many rows went.
  -d, --dataSource  A JS module whose default (or only DataSource) export is a TypeORM DataSource
                    that lists SessionEntity, as for the TypeORM CLI.`;

/** A TypeORM DataSource, also one made by another copy of typeorm (TypeORM's own InstanceChecker test). */
function isDataSource(value: unknown): value is DataSource {
  return (
    value instanceof DataSource ||
    (typeof value === 'object' && value !== null && (value as { '@instanceof'?: unknown })['@instanceof'] === Symbol.for('DataSource'))
  );
}

/**
 * Loads the DataSource exported by `file`: its default export, else the first DataSource among its
 * named exports. A CommonJS file (`exports.default = new DataSource(...)`, as tsc compiles
 * `export default` to CommonJS) is accepted too: `import()` gives its whole `exports` object as
 * `default`, so the DataSource is at `default.default` or is one of `default`'s properties. An
 * exported `Promise<DataSource>` is awaited, as the TypeORM CLI does.
 */
export async function loadDataSource(file: string): Promise<DataSource> {
  const module = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  const cjsExports = module.default !== null && typeof module.default === 'object' && !isDataSource(module.default) ? (module.default as Record<string, unknown>) : {};
  const candidates = [module.default, cjsExports.default, ...Object.values(module), ...Object.values(cjsExports)];
  for (const candidate of candidates) {
    const value: unknown = await candidate;
    if (isDataSource(value)) return value;
  }
  throw new Error(`${file} exports no TypeORM DataSource`);
}

/** `clearsessions`: returns the number of expired rows deleted. */
export async function clearSessions(dataSource: DataSource): Promise<number> {
  const initialised = dataSource.isInitialized;
  if (!initialised) await dataSource.initialize();
  try {
    return await new TypeOrmSessionBackend(dataSource).clearExpired();
  } finally {
    if (!initialised) await dataSource.destroy();
  }
}

/** The command line (`argv` without node and the script): returns the exit code, 2 for a usage error. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const flag = rest.findIndex((a) => a === '-d' || a === '--dataSource');
  const file = flag >= 0 ? rest[flag + 1] : undefined;
  if (command !== 'clearsessions' || file === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const count = await clearSessions(await loadDataSource(file));
  process.stdout.write(`Deleted ${count} expired session${count === 1 ? '' : 's'}.\n`);
  return 0;
}

/** Runs `main` on this process's arguments and exits with its code (1 and a message on an error). */
export function run(argv: readonly string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`clearsessions failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
