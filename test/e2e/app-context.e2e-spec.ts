/**
 * `NestFactory.createApplicationContext()`: an app without an HTTP server — a worker, a cron
 * script, the `clearsessions -m <app module>` CLI — on the app's own module. With
 * `requestSession: true` (every Passport app) there is no request to install `req.session` on:
 * the module starts all the same and `SessionService` works, on a real SQLite file.
 */
import 'reflect-metadata';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CreateDjangoSession1700000000000, SessionEntity, SessionModule, SessionService } from '../../src/index.js';
// After the package's entry point, which loads the engines in their order.
import { clearAppSessions } from '../../src/cli/cli.js';
import { removeSqliteFile, SqliteFile, stored, tempSqliteFile, TEST_SECRET } from '../support/app.js';

/** The app's module as a worker imports it: the DataSource, and SessionModule with requestSession. */
function appModule(file: string) {
  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'sqlite', database: file, entities: [SessionEntity], migrations: [CreateDjangoSession1700000000000], migrationsRun: true }),
      SessionModule.forRoot({ secretKey: TEST_SECRET, requestSession: true }),
    ],
  })
  class WorkerAppModule {}
  return WorkerAppModule;
}

describe('an application context (no HTTP server) with requestSession: true', () => {
  const file = tempSqliteFile('app-context');
  let context: INestApplicationContext | undefined;
  afterAll(async () => {
    await context?.close();
    await removeSqliteFile(file);
  });

  it('starts, and SessionService creates, loads and changes sessions on the real table', async () => {
    context = await NestFactory.createApplicationContext(appModule(file), { logger: false, abortOnError: false });
    const sessions = context.get(SessionService);
    const created = await sessions.create({ user_id: 42 });
    const key = created.sessionKey!;
    const loaded = await sessions.load<{ user_id: number; plan: string }>(key);
    expect(loaded.get('user_id')).toBe(42);
    loaded.set('plan', 'pro');
    await loaded.save();
    const db = await SqliteFile.open(file);
    try {
      expect((await stored(db, key))?.data).toEqual({ user_id: 42, plan: 'pro' });
    } finally {
      await db.close();
    }
  });

  it('the clearsessions -m path (the CLI\'s clearAppSessions on the module) starts it and sweeps the expired rows', async () => {
    const swept = tempSqliteFile('app-context-cli');
    try {
      // The first run creates the table (the module's migration), and finds nothing to sweep.
      expect(await clearAppSessions(appModule(swept))).toEqual({ count: 0, engine: 'db', sweeps: true });
      const db = await SqliteFile.open(swept);
      try {
        await db.run("INSERT INTO django_session (session_key, session_data, expire_date) VALUES ('expiredexpiredexpiredexpired0001', 'e30', '2001-01-01 00:00:00')");
        expect(await clearAppSessions(appModule(swept))).toEqual({ count: 1, engine: 'db', sweeps: true });
        expect(await db.row('expiredexpiredexpiredexpired0001')).toBeUndefined();
      } finally {
        await db.close();
      }
    } finally {
      await removeSqliteFile(swept);
    }
  });
});
