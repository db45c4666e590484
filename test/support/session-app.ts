/**
 * A small listening Nest app for suites that choose their own store (PostgreSQL, MariaDB, a
 * private Redis): `POST /visit` counts visits in the session (`{ write: true }` writes).
 */
import 'reflect-metadata';
import { Body, Controller, HttpCode, Module, Post, type INestApplication, type LoggerService, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { CreateDjangoSession1700000000000, Session, SessionEntity, SessionModule, type SessionModuleOptions, type SessionStore } from '../../src/index.js';

@Controller()
class VisitController {
  @Post('visit')
  @HttpCode(200)
  visit(@Session() session: SessionStore, @Body() body: { write?: boolean }) {
    const visits = Number(session.get('visits', 0));
    if (body?.write) session.set('visits', visits + 1);
    return { visits };
  }
}

/** What else a suite's app has: its own controllers (beside `POST /visit`), and a logger to capture what it logs. */
export interface VisitAppExtras {
  controllers?: Type[];
  logger?: LoggerService;
}

/** Starts the app on 127.0.0.1 (port 0) with `session` options, on `typeorm` when given. */
export async function startVisitApp(
  session: SessionModuleOptions,
  typeorm?: TypeOrmModuleOptions,
  { controllers = [], logger }: VisitAppExtras = {},
): Promise<{ app: INestApplication; url: string }> {
  @Module({
    imports: [
      ...(typeorm
        ? [TypeOrmModule.forRoot({ ...typeorm, entities: [SessionEntity], migrations: [CreateDjangoSession1700000000000], migrationsRun: true, logging: false } as TypeOrmModuleOptions)]
        : []),
      SessionModule.forRoot(session),
    ],
    controllers: [VisitController, ...controllers],
  })
  class VisitAppModule {}
  const app = await NestFactory.create(VisitAppModule, { logger: logger ?? false, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}
