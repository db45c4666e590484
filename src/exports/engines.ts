/**
 * `nestjs-django-session/engines`: the built-in engines' classes and what they are made of, for
 * subclassing or using one outside the module. Importing this loads every engine (the module
 * itself loads only the configured one).
 */
import { CacheSessionBackend } from '../backends/cache/cache.backend.js';
import { CachedDbSessionBackend } from '../backends/cache/cached-db.backend.js';
import type { EngineClass } from '../backends/engine-context.js';
import type { EngineName } from '../backends/engine-names.js';
import { FileSessionBackend } from '../backends/file/file.backend.js';
import { SignedCookieSessionBackend } from '../backends/signed-cookies/signed-cookies.backend.js';
import { TypeOrmSessionBackend } from '../backends/typeorm/typeorm.backend.js';

/** The built-in engines' classes, by the name the `engine` option gives them. */
export const ENGINES = Object.freeze({
  db: TypeOrmSessionBackend,
  cache: CacheSessionBackend,
  cached_db: CachedDbSessionBackend,
  signed_cookies: SignedCookieSessionBackend,
  file: FileSessionBackend,
} as const satisfies Record<EngineName, EngineClass>);

export { ENGINE_NAMES, type EngineName } from '../backends/engine-names.js';
export { TypeOrmSessionBackend, type SessionRow } from '../backends/typeorm/typeorm.backend.js';
export { useDjangoDateText } from '../backends/typeorm/django-date-text.js';
export { SWEEP_BATCH_ROWS } from '../backends/typeorm/statements.js';
export { SignedCookieSessionBackend, SIGNED_COOKIES_SALT } from '../backends/signed-cookies/signed-cookies.backend.js';
export { FileSessionBackend } from '../backends/file/file.backend.js';
export { CacheSessionBackend, SessionCacheEntries, CACHE_KEY_PREFIX } from '../backends/cache/cache.backend.js';
export { CachedDbSessionBackend, CACHED_DB_KEY_PREFIX } from '../backends/cache/cached-db.backend.js';
export { adaptRedisClient, isRedisClient, type SessionRedis } from '../backends/cache/redis-client.js';
