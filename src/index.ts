export { SessionModule } from './session.module.js';
export { SESSION_MODULE_OPTIONS } from './session.module-definition.js';
export { Session } from './session.decorator.js';
export { SessionStore, type SessionData } from './session.store.js';
export { SessionService } from './session.service.js';
export { SessionInterceptor } from './session.interceptor.js';
export { SESSION_OPTIONS } from './session.constants.js';
export { SESSION_DEFAULTS, SessionConfigError, resolveSessionOptions } from './session-options.js';
export type { SessionModuleOptions, ResolvedSessionOptions, SessionCacheOptions } from './session-options.interface.js';
export type { DjangoVersion } from './django-versions.js';
export { KeyError, SessionInterrupted, CreateError, UpdateError, SessionCookieTooLarge, SessionStoreUnavailable } from './session.errors.js';
export {
  SessionBackend,
  isValidSessionKey,
  newSessionKey,
  type EngineClass,
  type EngineContext,
  type SessionExpiry,
  type SessionMap,
} from './backends/session-backend.js';
export { ENGINES, type EngineName } from './backends/engines.js';
export { SessionEntity } from './backends/typeorm/session.entity.js';
export { useDjangoDateText } from './backends/typeorm/django-date-text.js';
export { SWEEP_BATCH_ROWS } from './backends/typeorm/statements.js';
export { TypeOrmSessionBackend, type SessionRow } from './backends/typeorm/typeorm.backend.js';
export { SignedCookieSessionBackend, SIGNED_COOKIES_SALT } from './backends/signed-cookies/signed-cookies.backend.js';
export { FileSessionBackend } from './backends/file/file.backend.js';
export { CacheSessionBackend, SessionCacheEntries, CACHE_KEY_PREFIX } from './backends/cache/cache.backend.js';
export { CachedDbSessionBackend, CACHED_DB_KEY_PREFIX } from './backends/cache/cached-db.backend.js';
export { adaptRedisClient, isRedisClient, type SessionRedis } from './backends/cache/redis-client.js';
export { CACHE_SERIALIZERS, type CacheSerializer } from './codec/cache-serializers.js';
export { CreateDjangoSession1700000000000 } from '../migrations/1700000000000-CreateDjangoSession.js';
export { SessionCodec, MAX_SESSION_DEPTH, DEFAULT_MAX_DECODED_BYTES, type SessionCodecOptions, type SessionDict, type DecodeStatus } from './codec/session-codec.js';
export { login, logout, getUser, updateSessionAuthHash, sessionAuthHash, AUTH_SESSION_KEYS, MODEL_BACKEND, verifyDjangoPassword, PasswordHashersBusy, makeDjangoPassword, DJANGO_PBKDF2_ITERATIONS, type DjangoAuthUser, type DjangoAuthKeys, type DjangoLoginOptions, type DjangoGetUserOptions, type DjangoUserLookup, type MakeDjangoPasswordOptions, type VerifyDjangoPasswordOptions } from './auth/index.js';
export { SocketSessionStore, SocketSessionError, rememberSessionHandshake } from './integrations/websocket.js';
export { SessionContextError } from './transports/index.js';
export { DjangoPassportSerializer, DjangoSessionManager, DjangoSessionStrategy, useDjangoSessions, type DjangoPassportOptions, type PassportInstance } from './integrations/passport.js';
export { sqliteDataSourceOptions, type SqliteSessionDataSourceSettings, type SqliteSessionDataSourceOptions, type SqliteSynchronous } from './sqlite-options.js';
