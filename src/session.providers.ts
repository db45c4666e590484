import { Logger, type Provider } from '@nestjs/common';
import { APP_FILTER, ApplicationConfig, HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { ENGINE_LOADERS } from './backends/engines.js';
import { SessionBackend } from './backends/session-backend.js';
import { codecFor } from './codec/codec-for.js';
import { SessionCodec } from './codec/session-codec.js';
import { SESSION_OPTIONS } from './session.constants.js';
import { sessionExceptionFilterFor } from './session.filter.js';
import { SessionInterceptor } from './session.interceptor.js';
import { SESSION_MODULE_OPTIONS } from './session.module-definition.js';
import { deprecatedOptionWarnings, optionWarnings, resolveSessionOptions } from './session-options.js';
import type { ResolvedSessionOptions, SessionModuleOptions } from './session-options.interface.js';
import { RequestSessionInstaller } from './integrations/request-session.js';
import { SessionRequests } from './session.requests.js';
import { SessionResponses } from './session.responses.js';
import { SessionRoutes } from './session.routes.js';
import { SessionService } from './session.service.js';
import { SessionSignals } from './telemetry/session-signals.js';
import { SESSION_TELEMETRY, type SessionTelemetryHook } from './telemetry/telemetry-hook.js';

/**
 * The configured engine: a built-in one by name, the app's `SessionBackend` subclass (created by
 * Nest, with its dependencies injected), or the app's instance as is.
 */
export async function backendFor(options: ResolvedSessionOptions, codec: SessionCodec, moduleRef: ModuleRef): Promise<SessionBackend> {
  const { engine } = options;
  if (typeof engine === 'string') return (await ENGINE_LOADERS[engine]()).fromContext({ options, codec, moduleRef });
  if (engine instanceof SessionBackend) return engine;
  return moduleRef.create(engine);
}

/**
 * The engine the module's sessions use: `backendFor()`'s, reporting to the module's signals, and
 * instrumented when the app imports `SessionTelemetryModule` (else used as it is).
 */
async function instrumentedBackendFor(
  options: ResolvedSessionOptions,
  codec: SessionCodec,
  moduleRef: ModuleRef,
  signals: SessionSignals,
  telemetry: SessionTelemetryHook | undefined,
): Promise<SessionBackend> {
  const backend = await backendFor(options, codec, moduleRef);
  signals.attach(backend, codec);
  if (telemetry === undefined || telemetry === null) return backend;
  const instrumented = telemetry.instrument(backend, signals);
  signals.attach(instrumented);
  return instrumented;
}

/** Everything `SessionModule` provides; the module file only wires these. */
export const SESSION_PROVIDERS: Provider[] = [
  {
    provide: SESSION_OPTIONS,
    useFactory: (options: SessionModuleOptions) => {
      const resolved = resolveSessionOptions(options);
      const logger = new Logger('SessionModule');
      for (const message of deprecatedOptionWarnings(options)) logger.warn(message);
      for (const { level, message } of optionWarnings(resolved)) logger[level](message);
      return resolved;
    },
    inject: [SESSION_MODULE_OPTIONS],
  },
  // Signs `session_data` with the configured secrets.
  { provide: SessionCodec, useFactory: (options: ResolvedSessionOptions) => codecFor(options), inject: [SESSION_OPTIONS] },
  SessionSignals,
  {
    provide: SessionBackend,
    useFactory: instrumentedBackendFor,
    inject: [SESSION_OPTIONS, SessionCodec, ModuleRef, SessionSignals, { token: SESSION_TELEMETRY, optional: true }],
  },
  SessionRequests,
  SessionResponses,
  SessionService,
  SessionInterceptor,
  SessionRoutes,
  RequestSessionInstaller,
  {
    provide: APP_FILTER,
    useFactory: sessionExceptionFilterFor,
    inject: [SessionRequests, SessionResponses, ApplicationConfig, { token: HttpAdapterHost, optional: true }],
  },
];
