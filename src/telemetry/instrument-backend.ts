import { CreateError, SessionBackendUnavailable, UpdateError } from '../session.errors.js';
import { isBackendTimeout } from '../backends/backend-timeout.js';
import type { SessionBackend } from '../backends/session-backend.js';
import type { SessionSignals } from './session-signals.js';

/** The names of the spans, metrics and attributes `SessionTelemetryModule` records. */
export const SESSION_TELEMETRY_NAMES = {
  /** The tracer's and the meter's name. */
  instrumentationScope: 'nestjs-django-session',
  /** Each span is `django_session.<operation>`: `django_session.load`, `django_session.save`... */
  spanPrefix: 'django_session.',
  /** Counter: `load()`s, by `outcome` (`hit`, `miss`, `error`, `unavailable`, `timeout`). */
  loads: 'django_session.loads',
  /** Counter: `save()`s of a session that has a key, by `outcome` (`saved`, `conflict`...). */
  saves: 'django_session.saves',
  /** Counter: `create()`s (a new key), by `outcome` (`created`...). */
  creates: 'django_session.creates',
  /** Counter: operations that failed (not `conflict`), by `operation` and `error.type`. */
  errors: 'django_session.errors',
  /** Counter: requests met by an unreachable store (`SessionBackendUnavailable`: 503 over HTTP), by `transport`. */
  unavailable: 'django_session.unavailable',
  /** Histogram (seconds): every operation's duration, by `operation` and `outcome`. */
  duration: 'django_session.operation.duration',
  /** Attributes. */
  attributes: {
    engine: 'django_session.engine',
    operation: 'django_session.operation',
    outcome: 'django_session.outcome',
    errorType: 'error.type',
    transport: 'django_session.transport',
  },
} as const;

/** What `@opentelemetry/api` gives the instrumentation (the parts it uses). */
export interface TelemetryApi {
  tracer: {
    startSpan(name: string, options?: { attributes?: Record<string, string | number | boolean>; kind?: number }): TelemetrySpan;
  };
  meter: {
    createCounter(name: string, options?: { description?: string; unit?: string }): { add(value: number, attributes?: Record<string, string>): void };
    createHistogram(name: string, options?: { description?: string; unit?: string }): { record(value: number, attributes?: Record<string, string>): void };
  };
  /** `SpanStatusCode.ERROR`. */
  errorStatus: number;
}

interface TelemetrySpan {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** Members that are not store operations: forwarded, never recorded. */
const NOT_OPERATIONS = new Set<PropertyKey>([
  'constructor',
  'isValidKey',
  'newKey',
  'onModuleInit',
  'onApplicationBootstrap',
  'onModuleDestroy',
  'beforeApplicationShutdown',
  'onApplicationShutdown',
  'toString',
  'toJSON',
]);

const { attributes: A } = SESSION_TELEMETRY_NAMES;

/**
 * `backend` with a span and metrics around each of its operations: every method an app or the
 * module calls on it (`load`, `exists`, `save`, `create`, `delete`, `clearExpired`, `ping`, and any
 * other, present or to come), but `isValidKey`/`newKey` and the lifecycle hooks. Everything else is
 * the engine's own (its properties, its `instanceof`, its `this` inside its methods). A Proxy: the
 * engine's own calls to itself (`create()` calling `save()`) stay one operation.
 */
export function instrumentBackend(backend: SessionBackend, api: TelemetryApi, signals: SessionSignals): SessionBackend {
  const engine = backend.engineName;
  const { tracer, meter } = api;
  const loads = meter.createCounter(SESSION_TELEMETRY_NAMES.loads, { description: 'Sessions read from the store' });
  const saves = meter.createCounter(SESSION_TELEMETRY_NAMES.saves, { description: 'Sessions written under their key' });
  const creates = meter.createCounter(SESSION_TELEMETRY_NAMES.creates, { description: 'Sessions stored under a new key' });
  const errors = meter.createCounter(SESSION_TELEMETRY_NAMES.errors, { description: 'Session store operations that failed' });
  const unavailable = meter.createCounter(SESSION_TELEMETRY_NAMES.unavailable, { description: 'Requests met by an unreachable session store (503)' });
  const duration = meter.createHistogram(SESSION_TELEMETRY_NAMES.duration, { description: 'Session store operation duration', unit: 's' });
  const counters: Record<string, { add(value: number, attributes?: Record<string, string>): void } | undefined> = { load: loads, save: saves, create: creates };

  signals.listen((name, payload) => {
    if (name === 'session.store_unavailable') {
      unavailable.add(1, { [A.engine]: engine, [A.transport]: (payload as { transport: string }).transport });
    }
  });

  const finish = (operation: string, span: TelemetrySpan, started: number, outcome: string, error?: unknown): void => {
    span.setAttribute(A.outcome, outcome);
    const attributes: Record<string, string> = { [A.engine]: engine, [A.operation]: operation, [A.outcome]: outcome };
    if (error !== undefined) {
      const type = error instanceof Error ? error.name : typeof error;
      span.setAttribute(A.errorType, type);
      if (outcome !== 'conflict') {
        // The class only: a driver's message may quote a key (PostgreSQL's "Key (session_key)=(…)").
        span.setStatus({ code: api.errorStatus, message: type });
        errors.add(1, { [A.engine]: engine, [A.operation]: operation, [A.errorType]: type });
      }
    }
    span.end();
    counters[operation]?.add(1, { [A.engine]: engine, [A.outcome]: outcome });
    duration.record((performance.now() - started) / 1000, attributes);
  };

  const instrumented = (operation: string, method: (...args: unknown[]) => unknown) =>
    function (this: unknown, ...args: unknown[]): unknown {
      const span = tracer.startSpan(SESSION_TELEMETRY_NAMES.spanPrefix + operation, { attributes: { [A.engine]: engine, [A.operation]: operation } });
      const started = performance.now();
      let result: unknown;
      try {
        result = method.apply(backend, args);
      } catch (error) {
        finish(operation, span, started, failureOf(error), error);
        throw error;
      }
      if (!isThenable(result)) {
        finish(operation, span, started, 'ok');
        return result;
      }
      return result.then(
        (value) => {
          finish(operation, span, started, successOf(operation, value));
          return value;
        },
        (error: unknown) => {
          finish(operation, span, started, failureOf(error), error);
          throw error;
        },
      );
    };

  const methods = new Map<PropertyKey, Function>();
  return new Proxy(backend, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || property === 'constructor') return value;
      let method = methods.get(property);
      if (method === undefined || (method as { original?: unknown }).original !== value) {
        const own = value as (...args: unknown[]) => unknown;
        method =
          typeof property === 'string' && !NOT_OPERATIONS.has(property) && !property.startsWith('_')
            ? instrumented(property, own)
            : function (this: unknown, ...args: unknown[]) {
                return own.apply(target, args);
              };
        (method as { original?: unknown }).original = value;
        methods.set(property, method);
      }
      return method;
    },
    set(target, property, value) {
      return Reflect.set(target, property, value, target);
    },
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** The outcome of an operation that succeeded. */
function successOf(operation: string, value: unknown): string {
  switch (operation) {
    case 'load':
      return value === null ? 'miss' : 'hit';
    case 'exists':
      return value === true ? 'hit' : 'miss';
    case 'save':
      return 'saved';
    case 'create':
      return 'created';
    case 'delete':
      return 'deleted';
    case 'touch':
      return 'touched';
    default:
      return 'ok';
  }
}

/** The outcome of an operation that failed. */
function failureOf(error: unknown): string {
  if (isBackendTimeout(error)) return 'timeout';
  if (error instanceof SessionBackendUnavailable) return 'unavailable';
  if (error instanceof CreateError || error instanceof UpdateError) return 'conflict';
  return 'error';
}
