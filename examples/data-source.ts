import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { CreateDjangoSession1700000000000, SessionEntity } from '../src/index.js';

/**
 * The DataSource the TypeORM CLI and `clearsessions` use in this repository (`npm run
 * migration:run`, `npm run clearsessions`): the demo's sqlite file, `SQLITE_PATH` or `app.sqlite3`.
 * Your app has its own; point the commands at it with `-d`.
 */
export default new DataSource({
  type: 'sqlite',
  database: process.env.SQLITE_PATH ?? 'app.sqlite3',
  entities: [SessionEntity],
  migrations: [CreateDjangoSession1700000000000],
  enableWAL: true,
  busyTimeout: 5000,
});
