import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule, DEMO_SECRET } from './app.module.js';

/** `npm start`: the demo on the embedded sqlite file (PLATFORM=fastify for Fastify). */
async function main(): Promise<void> {
  const logger = new Logger('Demo');
  const settings = { sqlitePath: process.env.SQLITE_PATH ?? 'app.sqlite3', secretKey: process.env.SECRET_KEY ?? DEMO_SECRET };
  if (settings.secretKey === DEMO_SECRET) logger.warn('Using the demo SECRET_KEY: set SECRET_KEY outside a demo.');
  let app;
  if (process.env.PLATFORM === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    app = await NestFactory.create(AppModule.forRoot(settings), new FastifyAdapter());
  } else {
    app = await NestFactory.create(AppModule.forRoot(settings));
  }
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  logger.log(`Demo on http://${process.env.HOST ?? '127.0.0.1'}:${port}/ (sessions in ${settings.sqlitePath})`);
}

void main();
