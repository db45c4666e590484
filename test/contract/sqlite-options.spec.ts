/**
 * `sqliteDataSourceOptions()` (the settings the README, the demo and the bench use) on both sqlite
 * drivers: the whole storage contract on them, the PRAGMAs on every connection the module uses,
 * node-sqlite3 without TypeORM's `verbose()` tracing, and what the engine's own prepared statements
 * must keep: the app's TypeORM logger and subscribers see every statement, a write by another
 * process is read at once, no read transaction is left open, and the DataSource still closes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { DataSource, EventSubscriber, type DataSourceOptions, type Logger } from 'typeorm';
import { CreateDjangoSession1700000000000, newSessionKey, SessionCodec, SessionEntity } from '../../src/index.js';
import { sqliteDataSourceOptions } from '../../src/exports/sqlite.js';
import { TypeOrmSessionBackend } from '../../src/exports/engines.js';
import { defineBackendContract } from './backend.contract.js';

const DRIVERS = ['sqlite3', 'better-sqlite3'] as const;

for (const driver of DRIVERS) {
  defineBackendContract({
    title: `sqliteDataSourceOptions, ${driver}`,
    engine: 'sqlite',
    dataSource: ({ file }) => sqliteDataSourceOptions({ database: file!, driver }) as DataSourceOptions,
  });
}

const codec = new SessionCodec({ secretKey: 'sqlite-options-secret' });
const expiry = () => ({ date: new Date(Date.now() + 3600_000), age: 3600 });

class RecordingLogger implements Logger {
  readonly queries: string[] = [];
  readonly errors: string[] = [];
  logQuery(query: string) {
    this.queries.push(query);
  }
  logQueryError(error: string | Error, query: string) {
    this.errors.push(query);
  }
  logQuerySlow() {}
  logSchemaBuild() {}
  logMigration() {}
  log() {}
}

const seen: string[] = [];
class QuerySubscriber {
  beforeQuery(event: { query: string }) {
    seen.push(event.query);
  }
}
EventSubscriber()(QuerySubscriber);

describe.each(DRIVERS)('sqliteDataSourceOptions on %s', (driver) => {
  let dir: string;
  const open: DataSource[] = [];

  async function dataSource(file: string, extra: Partial<DataSourceOptions> = {}): Promise<DataSource> {
    const ds = new DataSource({
      ...sqliteDataSourceOptions({ database: file, driver }),
      entities: [SessionEntity],
      migrations: [CreateDjangoSession1700000000000],
      migrationsRun: true,
      ...extra,
    } as DataSourceOptions);
    open.push(ds);
    return ds.initialize();
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'djs-sqlite-options-'));
  });
  afterEach(async () => {
    for (const ds of open.splice(0)) if (ds.isInitialized) await ds.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts WAL, the busy timeout and synchronous = NORMAL on the connection', async () => {
    const ds = await dataSource(join(dir, 'a.sqlite3'));
    expect(await ds.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(await ds.query('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]); // NORMAL (sqlite's default is FULL)
    expect(Object.values((await ds.query('PRAGMA busy_timeout'))[0])).toEqual([5000]);
  });

  it('takes synchronous, busyTimeout and wal from its settings', async () => {
    const ds = new DataSource({
      ...sqliteDataSourceOptions({ database: join(dir, 'b.sqlite3'), driver, synchronous: 'FULL', busyTimeout: 1234, wal: false }),
    } as DataSourceOptions);
    open.push(ds);
    await ds.initialize();
    expect(await ds.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'delete' }]);
    expect(await ds.query('PRAGMA synchronous')).toEqual([{ synchronous: 2 }]); // FULL
    expect(Object.values((await ds.query('PRAGMA busy_timeout'))[0])).toEqual([1234]);
  });

  it('refuses bad settings with the setting’s name', () => {
    expect(() => sqliteDataSourceOptions({ database: '' })).toThrow(/"database"/);
    expect(() => sqliteDataSourceOptions({ database: 'x', driver: 'sqlite' as never })).toThrow(/"driver"/);
    expect(() => sqliteDataSourceOptions({ database: 'x', synchronous: 'SOMETIMES' as never })).toThrow(/"synchronous"/);
    expect(() => sqliteDataSourceOptions({ database: 'x', busyTimeout: -1 })).toThrow(/"busyTimeout"/);
  });

  it('the app’s TypeORM logger sees every statement of the engine, and a failing one as an error', async () => {
    const logger = new RecordingLogger();
    const ds = await dataSource(join(dir, 'c.sqlite3'), { logger });
    const backend = new TypeOrmSessionBackend(ds, codec);
    await backend.onModuleInit();
    try {
      logger.queries.length = 0;
      const key = newSessionKey();
      await backend.save(key, new Map([['n', 1]]), expiry(), true);
      await backend.save(key, new Map([['n', 2]]), expiry(), false);
      expect(await backend.load(key)).toEqual(new Map([['n', 2]]));
      await backend.delete(key);
      expect(logger.queries.map((q) => q.split(' ')[0])).toEqual(['INSERT', 'UPDATE', 'SELECT', 'DELETE']);
      // A statement that fails (the table is gone) reaches logQueryError and the caller.
      await ds.query('DROP TABLE "django_session"');
      await expect(backend.save(newSessionKey(), new Map([['n', 1]]), expiry(), true)).rejects.toThrow(/no such table/);
      expect(logger.errors).toHaveLength(1);
    } finally {
      await backend.onModuleDestroy();
    }
  });

  it('an app’s query subscriber still sees the engine’s statements', async () => {
    const ds = await dataSource(join(dir, 'd.sqlite3'), { subscribers: [QuerySubscriber] });
    const backend = new TypeOrmSessionBackend(ds, codec);
    await backend.onModuleInit();
    try {
      seen.length = 0;
      const key = newSessionKey();
      await backend.save(key, new Map([['n', 1]]), expiry(), true);
      expect(await backend.load(key)).toEqual(new Map([['n', 1]]));
      expect(seen.map((q) => q.split(' ')[0])).toEqual(['INSERT', 'SELECT']);
    } finally {
      await backend.onModuleDestroy();
    }
  });

  it('reads what another connection (Django) wrote at once, and leaves no read transaction open', async () => {
    const file = join(dir, 'e.sqlite3');
    const ds = await dataSource(file);
    const backend = new TypeOrmSessionBackend(ds, codec);
    await backend.onModuleInit();
    const other = await dataSource(file, { migrationsRun: false });
    try {
      const key = newSessionKey();
      await backend.save(key, new Map([['n', 1]]), expiry(), true);
      for (let n = 2; n <= 4; n++) {
        expect(await backend.load(key)).toEqual(new Map([['n', n - 1]]));
        await other.query('UPDATE "django_session" SET "session_data" = ? WHERE "session_key" = ?', [codec.encodeEntries(new Map([['n', n]])), key]);
      }
      expect(await backend.load(key)).toEqual(new Map([['n', 4]]));
      // A statement left open would hold a read snapshot: a TRUNCATE checkpoint could not finish.
      expect(await other.query('PRAGMA wal_checkpoint(TRUNCATE)')).toEqual([{ busy: 0, log: 0, checkpointed: 0 }]);
    } finally {
      await backend.onModuleDestroy();
    }
  });

  it('the DataSource closes after the engine ran its statements, and opens again', async () => {
    const file = join(dir, 'f.sqlite3');
    const ds = await dataSource(file);
    const backend = new TypeOrmSessionBackend(ds, codec);
    await backend.onModuleInit();
    const key = newSessionKey();
    await backend.save(key, new Map([['n', 1]]), expiry(), true);
    expect(await backend.load(key)).toEqual(new Map([['n', 1]]));
    await backend.onModuleDestroy();
    await expect(ds.destroy()).resolves.toBeUndefined();
    const again = await dataSource(file, { migrationsRun: false });
    const backend2 = new TypeOrmSessionBackend(again, codec);
    await backend2.onModuleInit();
    try {
      expect(await backend2.load(key)).toEqual(new Map([['n', 1]]));
    } finally {
      await backend2.onModuleDestroy();
    }
  });
});

describe('sqliteDataSourceOptions, node-sqlite3 tracing', () => {
  // sqlite3.verbose() patches node-sqlite3 for the whole process, so each case runs in a process of
  // its own, on the helper compiled from src/ alone: a traced connection's errors carry
  // "--> in Database#…" (the trace verbose() adds to every statement).
  const root = new URL('../..', import.meta.url).pathname;
  const probeDir = join(root, '.tmp', 'sqlite-options-probe');
  beforeAll(() => {
    mkdirSync(probeDir, { recursive: true });
    const source = readFileSync(join(root, 'src', 'sqlite-options.ts'), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    writeFileSync(join(probeDir, 'sqlite-options.mjs'), outputText);
  });
  afterAll(() => rmSync(probeDir, { recursive: true, force: true }));

  const probe = (helper: boolean) =>
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
        import { DataSource } from 'typeorm';
        import { sqliteDataSourceOptions } from './.tmp/sqlite-options-probe/sqlite-options.mjs';
        const options = ${helper} ? sqliteDataSourceOptions({ database: ':memory:', wal: false }) : { type: 'sqlite', database: ':memory:' };
        const ds = await new DataSource(options).initialize();
        try { await ds.query('SELECT * FROM missing'); } catch (e) { console.log(/--> in Database#/.test(String(e.driverError?.stack ?? e.stack)) ? 'traced' : 'untraced'); }
        await ds.destroy();`,
      ],
      { cwd: root, encoding: 'utf8' },
    ).trim();

  it('is untraced with the helper, traced with TypeORM’s own loading of sqlite3', () => {
    expect(probe(false)).toBe('traced');
    expect(probe(true)).toBe('untraced');
  });
});
