import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { DjangoVersion } from '../../src/index.js';
import { DEMO_SECRET } from './app.module.js';
import { createDemoApp } from './bootstrap.js';

/** `npm start`: the demo on the embedded sqlite file (PLATFORM=fastify for Fastify). */
async function main(): Promise<void> {
  const logger = new Logger('Demo');
  const settings = {
    sqlitePath: process.env.SQLITE_PATH ?? 'app.sqlite3',
    secretKey: process.env.SECRET_KEY ?? DEMO_SECRET,
    platform: process.env.PLATFORM === 'fastify' ? ('fastify' as const) : ('express' as const),
    // The Django release sharing the file (DJANGO_VERSION=3.2 ... 6.1); SessionModule checks it.
    djangoVersion: process.env.DJANGO_VERSION as DjangoVersion | undefined,
  };
  if (settings.secretKey === DEMO_SECRET) logger.warn('Using the demo SECRET_KEY: set SECRET_KEY outside a demo.');
  const app = await createDemoApp(settings);
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  logger.log(`Demo on http://${process.env.HOST ?? '127.0.0.1'}:${port}/ on ${settings.platform} (sessions and auth_user in ${settings.sqlitePath})`);
}

void main();
