/**
 * No object a user can reach prints a secret: `util.inspect` (what `console.log` uses), Nest's
 * `Logger`, `JSON.stringify`, and the messages and stacks of errors. Django prints
 * `<SessionStore object at 0x…>`; ours shows the key, flags and data, and `[secret]` for secrets.
 */
import 'reflect-metadata';
import { rm } from 'node:fs/promises';
import { inspect } from 'node:util';
import { ConsoleLogger, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  CreateDjangoSession1700000000000,
  resolveSessionOptions,
  SESSION_OPTIONS,
  SessionBackend,
  SessionCodec,
  SessionEntity,
  SessionInterceptor,
  SessionModule,
  SessionService,
} from '../../src/index.js';
import { tempSqliteFile } from '../support/app.js';

const SECRET = 'top-secret-key-that-must-never-be-printed';
const FALLBACK = 'retired-secret-that-must-never-be-printed-either';
const file = tempSqliteFile('secrets');
let app: INestApplicationContext;

beforeAll(async () => {
  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'sqlite', database: file, entities: [SessionEntity], migrations: [CreateDjangoSession1700000000000], migrationsRun: true }),
      SessionModule.forRoot({ secretKey: SECRET, secretKeyFallbacks: [FALLBACK] }),
    ],
  })
  class SecretsModule {}
  app = await NestFactory.createApplicationContext(SecretsModule, { logger: false });
});

afterAll(async () => {
  await app?.close();
  await rm(file, { force: true });
});

/** Everything a way of printing `value` can show. */
function printed(value: unknown): string[] {
  const out: string[] = [inspect(value), inspect(value, { depth: Infinity }), inspect(value, { depth: Infinity, getters: true })];
  try {
    out.push(String(JSON.stringify(value)));
  } catch (error) {
    out.push(String((error as Error).message));
  }
  // Nest's ConsoleLogger, as an app's `new Logger('x').log(session)` prints it.
  const logger = new ConsoleLogger('x', { colors: false });
  const written: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => written.push(String(chunk)) > 0) as typeof process.stdout.write;
  try {
    logger.log(value);
    new ConsoleLogger('x', { json: true }).log(value);
  } finally {
    process.stdout.write = write;
  }
  return [...out, ...written];
}

/** What a user can reach, fetched once the app runs (the table is built when the tests are collected). */
const reachable: Array<[string, () => unknown]> = [
  ['SessionService', () => app.get(SessionService)],
  ['SessionCodec', () => app.get(SessionCodec)],
  ['the configured SessionBackend', () => app.get(SessionBackend)],
  ['the resolved options (SESSION_OPTIONS)', () => app.get(SESSION_OPTIONS)],
  ['SessionInterceptor', () => app.get(SessionInterceptor)],
  ['the SessionModule instance', () => app.get(SessionModule)],
  ['a standalone SessionCodec', () => new SessionCodec({ secretKey: SECRET, secretKeyFallbacks: [FALLBACK] })],
  ['resolveSessionOptions()', () => resolveSessionOptions({ secretKey: SECRET, secretKeyFallbacks: [FALLBACK] })],
];

describe('printing never shows secretKey or a fallback key', () => {
  it.each(reachable)('%s', (_name, reach) => {
    for (const text of printed(reach())) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(FALLBACK);
    }
  });

  it('a SessionStore shows the start of its key, its flags and data instead', async () => {
    const session = await app.get(SessionService).create({ fav_color: 'blue' });
    for (const text of printed(session)) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(FALLBACK);
      // The key is a login credential: a log line shows enough to tell sessions apart, no more.
      expect(text).not.toContain(session.sessionKey!);
    }
    expect(inspect(session)).toContain(`sessionKey: '${session.sessionKey!.slice(0, 8)}…'`);
    expect(inspect(session)).toContain("fav_color: 'blue'");
    expect(inspect(session)).toMatch(/modified: true/);
    expect(JSON.stringify(session)).toBe('{"fav_color":"blue"}');
  });

  it('printing a loaded session does not mark it accessed', async () => {
    const service = app.get(SessionService);
    const session = await service.load((await service.create({ a: 1 })).sessionKey!);
    inspect(session);
    expect(session.accessed).toBe(false);
  });

  it('the secrets are still there to be used', () => {
    expect(app.get<{ secretKey: string }>(SESSION_OPTIONS).secretKey).toBe(SECRET);
    expect(app.get(SessionService).decode(new SessionCodec({ secretKey: FALLBACK }).encode({ a: 1 }))).toEqual({ a: 1 });
  });

  it('errors from a bad option name the option, not its secret value', () => {
    for (const bad of [{ secretKey: SECRET, secretKeyFallbacks: [FALLBACK, ''] }, { secretKey: SECRET, cookieName: 'bad name' }, { secretKey: SECRET, engine: 'nope' }]) {
      let error: Error | undefined;
      try {
        resolveSessionOptions(bad as never);
      } catch (e) {
        error = e as Error;
      }
      expect(error).toBeDefined();
      for (const text of [error!.message, String(error!.stack), inspect(error)]) {
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain(FALLBACK);
      }
    }
  });
});
