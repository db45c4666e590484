export { SessionModule } from './session.module.js';
export { SESSION_MODULE_OPTIONS } from './session.module-definition.js';
export { Session } from './session.decorator.js';
export { SessionStore, type SessionData } from './session.store.js';
export { SessionService } from './session.service.js';
export { SessionInterceptor } from './session.interceptor.js';
export { SESSION_OPTIONS } from './session.constants.js';
export { SESSION_DEFAULTS, SessionConfigError, resolveSessionOptions } from './session-options.js';
export type { SessionModuleOptions, ResolvedSessionOptions, SessionCacheOptions } from './session-options.interface.js';
export { KeyError, SessionInterrupted, CreateError, UpdateError, SessionCookieTooLarge } from './session.errors.js';
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
export { TypeOrmSessionBackend, type SessionRow } from './backends/typeorm/typeorm.backend.js';
export { SignedCookieSessionBackend, SIGNED_COOKIES_SALT } from './backends/signed-cookies/signed-cookies.backend.js';
export { FileSessionBackend } from './backends/file/file.backend.js';
export { CreateDjangoSession1700000000000 } from '../migrations/1700000000000-CreateDjangoSession.js';
export { SessionCodec, type SessionCodecOptions, type SessionDict } from './codec/session-codec.js';
