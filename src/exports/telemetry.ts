/**
 * `nestjs-django-session/telemetry`: the session's events (Django's signals) and OpenTelemetry.
 * Events are sent through `@nestjs/event-emitter` when the app imports `EventEmitterModule`;
 * `SessionTelemetryModule` adds spans and metrics (`@opentelemetry/api`). See docs/telemetry.md.
 */
export {
  SESSION_EVENTS,
  type SessionEventName,
  type SessionEventBase,
  type SessionEventPayloads,
  type UserLoggedInEvent,
  type UserLoggedOutEvent,
  type UserLoginFailedEvent,
  type SessionCreatedEvent,
  type SessionKeyCycledEvent,
  type SessionFlushedEvent,
  type SessionSuspiciousEvent,
  type SessionStoreUnavailableEvent,
} from '../telemetry/session-events.js';
export { SessionTelemetryModule, type SessionTelemetryOptions } from '../telemetry/telemetry.module.js';
export { SESSION_TELEMETRY_NAMES } from '../telemetry/instrument-backend.js';
export { userLoginFailed } from '../auth/django-login.js';
