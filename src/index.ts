/**
 * What an app uses: the module, the decorator, the session, the service, the options and errors,
 * and what a custom engine needs. The rest has an entry of its own (package.json `exports`):
 * `nestjs-django-session/auth`, `/passport`, `/websocket`, `/sqlite`, `/engines` and `/codec`.
 */
export { SessionModule } from './session.module.js';
export { SESSION_MODULE_OPTIONS } from './session.module-definition.js';
export { Session } from './session.decorator.js';
export { SessionStore, type SessionData, type AppSessionData } from './session.store.js';
export { SessionService } from './session.service.js';
export { SessionInterceptor } from './session.interceptor.js';
export { SESSION_OPTIONS } from './session.constants.js';
export { SESSION_DEFAULTS, SessionConfigError, resolveSessionOptions } from './session-options.js';
export type { SessionModuleOptions, ResolvedSessionOptions, SessionCacheOptions } from './session-options.interface.js';
export type { DjangoVersion } from './django-versions.js';
export { KeyError, SessionInterrupted, CreateError, UpdateError, SessionCookieTooLarge, SessionBackendUnavailable, SessionStoreUnavailable } from './session.errors.js';
export { SessionContextError } from './transports/index.js';
export { SessionBackend, isValidSessionKey, newSessionKey, type SessionExpiry, type SessionMap } from './backends/session-backend.js';
export type { EngineClass, EngineContext } from './backends/engine-context.js';
export type { EngineName } from './backends/engine-names.js';
export { SessionEntity } from './backends/typeorm/session.entity.js';
export { CreateDjangoSession1700000000000 } from '../migrations/1700000000000-CreateDjangoSession.js';
export { SessionCodec, type SessionCodecOptions } from './codec/session-codec.js';
