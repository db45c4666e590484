import type { SessionBackend } from '../backends/session-backend.js';
import type { SessionSignals } from './session-signals.js';

/** @internal The DI token of `SessionTelemetryModule`'s instrumentation, which `SessionModule` asks for (optionally) when it makes its engine. */
export const SESSION_TELEMETRY = 'nestjs-django-session:telemetry';

/** @internal What `SessionTelemetryModule` provides under `SESSION_TELEMETRY`. */
export interface SessionTelemetryHook {
  /** The engine as the module's sessions use it: spans and metrics around each of its operations. */
  instrument(backend: SessionBackend, signals: SessionSignals): SessionBackend;
}
