/**
 * The db engine's fast path (src/backends/typeorm/direct-statements.ts) reads two fields TypeORM
 * does not document: the sqlite drivers' `driver.databaseConnection` and PostgreSQL's
 * `driver.master` (its pg Pool). Where they are missing or changed, the engine quietly falls back
 * to TypeORM's query runner: still correct, 30-60% slower. These tests fail instead, on every
 * driver the fast path serves, when the TypeORM installed stops having them.
 */
import { DataSource, EventSubscriber, type DataSourceOptions } from 'typeorm';
import { runDirect, type StatementLimit } from '../../src/backends/typeorm/direct-statements.js';
import { tempSqliteFile } from '../support/app.js';
import { describeWith } from '../support/env.js';

const limit: StatementLimit = { ms: 5_000, error: () => new Error('too slow') };

async function fastPathAnswers(options: DataSourceOptions): Promise<unknown> {
  const dataSource = await new DataSource(options).initialize();
  try {
    const result = await runDirect(dataSource, 'SELECT 41 + 1 AS answer', [], true, limit);
    return result?.records;
  } finally {
    await dataSource.destroy();
  }
}

describe("the db engine's fast path finds the driver's connection where TypeORM keeps it", () => {
  it.each(['sqlite', 'better-sqlite3'] as const)("%s: driver.databaseConnection is the driver's database, and the statement runs on it", async (type) => {
    const file = tempSqliteFile(`direct-${type}`);
    await expect(fastPathAnswers({ type, database: file } as DataSourceOptions)).resolves.toEqual([{ answer: 42 }]);
  });

  it('falls back (undefined) where something watches queries: a subscriber', async () => {
    @EventSubscriber()
    class Watcher {}
    const dataSource = await new DataSource({ type: 'sqlite', database: ':memory:', subscribers: [Watcher] }).initialize();
    try {
      expect(runDirect(dataSource, 'SELECT 1', [], true, limit)).toBeUndefined();
    } finally {
      await dataSource.destroy();
    }
  });
});

describeWith(['postgres'], "the db engine's fast path on PostgreSQL", ({ postgres }) => {
  it("driver.master is pg's Pool, and the statement runs through it", async () => {
    await expect(fastPathAnswers({ type: 'postgres', url: postgres })).resolves.toEqual([{ answer: 42 }]);
  });
});
