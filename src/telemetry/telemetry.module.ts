import { Global, Module, type DynamicModule } from '@nestjs/common';
import { SessionConfigError } from '../session.errors.js';
import { instrumentBackend, SESSION_TELEMETRY_NAMES, type TelemetryApi } from './instrument-backend.js';
import { SESSION_TELEMETRY, type SessionTelemetryHook } from './telemetry-hook.js';

/** Options of `SessionTelemetryModule.forRoot()`. */
export interface SessionTelemetryOptions {
  /** Where spans go. Default: the global one (`trace.getTracerProvider()`: what the OpenTelemetry SDK registered, else a no-op). */
  tracerProvider?: { getTracer(name: string, version?: string): unknown };
  /** Where metrics go. Default: the global one (`metrics.getMeterProvider()`). */
  meterProvider?: { getMeter(name: string, version?: string): unknown };
}

interface OpenTelemetryApi {
  trace: { getTracer(name: string, version?: string): TelemetryApi['tracer'] };
  metrics: { getMeter(name: string, version?: string): TelemetryApi['meter'] };
  SpanStatusCode: { ERROR: number };
}

/** `@opentelemetry/api`, imported when the module starts (an optional peer: never a static import). */
async function importOpenTelemetry(): Promise<OpenTelemetryApi> {
  const name = '@opentelemetry/api';
  try {
    return (await import(name)) as OpenTelemetryApi;
  } catch (error) {
    throw new SessionConfigError(
      `SessionTelemetryModule needs @opentelemetry/api (npm install @opentelemetry/api): ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
  }
}

/** The instrumentation, made from the API the app installed. */
async function telemetryHook(options: SessionTelemetryOptions = {}): Promise<SessionTelemetryHook> {
  if (options === null || typeof options !== 'object') throw new SessionConfigError('SessionTelemetryModule.forRoot() takes an options object');
  if (options.tracerProvider !== undefined && typeof options.tracerProvider?.getTracer !== 'function') {
    throw new SessionConfigError('SessionTelemetryModule option "tracerProvider" must be an OpenTelemetry TracerProvider (with getTracer())');
  }
  if (options.meterProvider !== undefined && typeof options.meterProvider?.getMeter !== 'function') {
    throw new SessionConfigError('SessionTelemetryModule option "meterProvider" must be an OpenTelemetry MeterProvider (with getMeter())');
  }
  const otel = await importOpenTelemetry();
  const scope = SESSION_TELEMETRY_NAMES.instrumentationScope;
  const api: TelemetryApi = {
    tracer: (options.tracerProvider?.getTracer(scope) as TelemetryApi['tracer'] | undefined) ?? otel.trace.getTracer(scope),
    meter: (options.meterProvider?.getMeter(scope) as TelemetryApi['meter'] | undefined) ?? otel.metrics.getMeter(scope),
    errorStatus: otel.SpanStatusCode.ERROR,
  };
  return { instrument: (backend, signals) => instrumentBackend(backend, api, signals) };
}

/**
 * OpenTelemetry for `SessionModule`: a span per session store operation (`django_session.load`,
 * `django_session.save`...) with the engine and the outcome, and metrics (loads, saves, creates,
 * errors, 503s, durations) on the meter `nestjs-django-session`. Import it next to
 * `SessionModule.forRoot()`; it needs `@opentelemetry/api` (an optional peer). Without an
 * OpenTelemetry SDK registered, the API's no-op tracer and meter record nothing and cost next to
 * nothing; without this module, the engine is not wrapped at all.
 *
 * @example
 * ```ts
 * @Module({ imports: [TypeOrmModule.forRoot({ ... }), SessionModule.forRoot({ secretKey }), SessionTelemetryModule.forRoot()] })
 * export class AppModule {}
 * ```
 */
@Global()
@Module({})
export class SessionTelemetryModule {
  static forRoot(options: SessionTelemetryOptions = {}): DynamicModule {
    return {
      module: SessionTelemetryModule,
      global: true,
      providers: [{ provide: SESSION_TELEMETRY, useFactory: () => telemetryHook(options) }],
      exports: [SESSION_TELEMETRY],
    };
  }
}
