import 'reflect-metadata';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LoggerService, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { TypeOrmSessionBackend } from '../backends/typeorm/typeorm.backend.js';
import { SessionService } from '../session.service.js';

const USAGE = `Usage: django-session clearsessions (-m <app module file> | -d <data-source file>)

  clearsessions     Deletes expired sessions (Django's manage.py clearsessions) and prints how many went.
  -m, --module      A JS module exporting the Nest module that imports SessionModule (its default
                    export, else AppModule, else the only class exported): the configured engine is
                    swept, whichever it is.
  -d, --dataSource  A JS module whose default (or only DataSource) export is a TypeORM DataSource
                    that lists SessionEntity, as for the TypeORM CLI: sweeps django_session (db engine).`;

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

/** The Nest module `file` exports: its default export, else `AppModule`, else its only exported class. */
export async function loadAppModule(file: string): Promise<Function> {
  const module = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  const cjsExports = typeof module.default === 'object' && module.default !== null ? (module.default as Record<string, unknown>) : {};
  const all = { ...cjsExports, ...module };
  const classes = Object.values(all).filter((v): v is Function => typeof v === 'function');
  const chosen = [all.default, cjsExports.default, all.AppModule].find((v): v is Function => typeof v === 'function') ?? (classes.length === 1 ? classes[0] : undefined);
  if (chosen === undefined) throw new Error(`${file} exports no Nest module (export it as default or as AppModule)`);
  return chosen;
}

/**
 * What the app says while it starts (its warnings and errors), on stderr: stdout carries the
 * command's answer alone, for the scripts and cron jobs that read it.
 */
const stderrLogger: LoggerService = {
  log: () => undefined,
  warn: (message: unknown, ...params: unknown[]) => writeLog('WARN', message, params),
  error: (message: unknown, ...params: unknown[]) => writeLog('ERROR', message, params),
};

function writeLog(level: string, message: unknown, params: unknown[]): void {
  // Nest passes the context (a logger's name) as the last string parameter.
  const context = typeof params.at(-1) === 'string' ? `[${String(params.at(-1))}] ` : '';
  process.stderr.write(`${level} ${context}${message instanceof Error ? message.message : String(message)}\n`);
}

/** `clearsessions` on the engine an app configures: starts the app's modules (no HTTP server), sweeps, closes. */
export async function clearAppSessions(appModule: Function): Promise<{ count: number; engine: string; sweeps: boolean }> {
  // abortOnError: false, so that a module that cannot start rejects here ("clearsessions failed: ...")
  // instead of Nest ending the process on its own.
  const app = await NestFactory.createApplicationContext(appModule as Type, { logger: stderrLogger, abortOnError: false });
  try {
    const sessions = app.get(SessionService, { strict: false });
    const { engineName, sweepsExpired } = sessions.backend;
    return { count: await sessions.clearExpired(), engine: engineName, sweeps: sweepsExpired };
  } finally {
    await app.close();
  }
}

/** The command line (`argv` without node and the script): returns the exit code, 2 for a usage error. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const valueOf = (...names: string[]) => {
    const at = rest.findIndex((a) => names.includes(a));
    return at >= 0 ? rest[at + 1] : undefined;
  };
  const dataSourceFile = valueOf('-d', '--dataSource');
  const moduleFile = valueOf('-m', '--module');
  if (command !== 'clearsessions' || (dataSourceFile === undefined) === (moduleFile === undefined)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (moduleFile !== undefined) {
    const { count, engine, sweeps } = await clearAppSessions(await loadAppModule(moduleFile));
    // Django's cache and signed_cookies engines have a no-op clear_expired(): say so rather than "0".
    if (!sweeps) process.stdout.write(`The ${engine} engine expires sessions by itself: nothing to clear.\n`);
    else process.stdout.write(`Deleted ${count} expired session${count === 1 ? '' : 's'}.\n`);
    return 0;
  }
  const count = await clearSessions(await loadDataSource(dataSourceFile!));
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
