import { CacheSessionBackend } from './cache/cache.backend.js';
import { CachedDbSessionBackend } from './cache/cached-db.backend.js';
import { FileSessionBackend } from './file/file.backend.js';
import type { EngineClass } from './session-backend.js';
import { SignedCookieSessionBackend } from './signed-cookies/signed-cookies.backend.js';
import { TypeOrmSessionBackend } from './typeorm/typeorm.backend.js';

/**
 * The built-in engines, by the name the `engine` option (Django's `SESSION_ENGINE`) gives them.
 * A new engine is one file (a `SessionBackend` subclass with a static `fromContext()`) and one
 * line here.
 */
export const ENGINES = {
  db: TypeOrmSessionBackend,
  cache: CacheSessionBackend,
  cached_db: CachedDbSessionBackend,
  signed_cookies: SignedCookieSessionBackend,
  file: FileSessionBackend,
} as const satisfies Record<string, EngineClass>;

/** A built-in engine's name: `'db'`, `'cache'`, `'cached_db'`, `'signed_cookies'` or `'file'`. */
export type EngineName = keyof typeof ENGINES;
