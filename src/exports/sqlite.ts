/** `nestjs-django-session/sqlite`: safe and fast TypeORM settings for an embedded sqlite file. */
export {
  sqliteDataSourceOptions,
  type SqliteSessionDataSourceSettings,
  type SqliteSessionDataSourceOptions,
  type SqliteSynchronous,
} from '../sqlite-options.js';
