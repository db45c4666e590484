#!/usr/bin/env node
import 'reflect-metadata';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { DataSource } from 'typeorm';
import { TypeOrmSessionBackend } from '../backends/typeorm.backend.js';

const USAGE = `Usage: django-session clearsessions -d <data-source file>

  clearsessions   Deletes expired sessions from django_session (Django's manage.py clearsessions)
                  and prints how many rows went.
  -d, --dataSource  A JS module whose default (or only DataSource) export is a TypeORM DataSource
                    that lists SessionEntity, as for the TypeORM CLI.`;

/** Loads the DataSource exported by `file` (default export, or the first DataSource export). */
export async function loadDataSource(file: string): Promise<DataSource> {
  const module = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  const candidates = [module.default, ...Object.values(module)];
  const found = candidates.find((c): c is DataSource => c instanceof DataSource || (c as DataSource)?.options?.type !== undefined);
  if (found === undefined) throw new Error(`${file} exports no TypeORM DataSource`);
  return found;
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

async function main(argv: string[]): Promise<number> {
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

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`clearsessions failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
