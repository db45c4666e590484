import type { EngineName } from './engine-names.js';
import type { EngineClass } from './engine-context.js';

export { ENGINE_NAMES, isEngineName, type EngineName } from './engine-names.js';

/**
 * How each built-in engine is loaded: only the configured one is, when the module starts (an app
 * on `signed_cookies` never loads the TypeORM statements or the Redis adapter). A new engine is
 * one file (a `SessionBackend` subclass with a static `fromContext()`), its name above and one
 * line here.
 */
export const ENGINE_LOADERS: Readonly<Record<EngineName, () => Promise<EngineClass>>> = {
  db: async () => (await import('./typeorm/typeorm.backend.js')).TypeOrmSessionBackend,
  cache: async () => (await import('./cache/cache.backend.js')).CacheSessionBackend,
  cached_db: async () => (await import('./cache/cached-db.backend.js')).CachedDbSessionBackend,
  signed_cookies: async () => (await import('./signed-cookies/signed-cookies.backend.js')).SignedCookieSessionBackend,
  file: async () => (await import('./file/file.backend.js')).FileSessionBackend,
};
