import { inspect } from 'node:util';
import { Catch, Inject, Injectable, Logger, ServiceUnavailableException, type ArgumentsHost, type ExceptionFilter, type HttpServer } from '@nestjs/common';
import { ApplicationConfig, BaseExceptionFilter, type HttpAdapterHost } from '@nestjs/core';
import { RETRY_AFTER_SECONDS, SessionBackendUnavailable, UNAVAILABLE_MESSAGE } from './session.errors.js';
import { setHeader } from './session.http.js';
import { SessionResponses } from './session.responses.js';
import { SessionRequests } from './session.requests.js';
import { signalsFor } from './telemetry/session-signals.js';

const CATCH_METADATA = '__filterCatchExceptions__'; // @nestjs/common's @Catch()

const logger = new Logger('SessionExceptionFilter');

/**
 * Guards run before interceptors: when a guard opened the session (`forContext()`), changed it and
 * then refused the request, the interceptor never runs. This filter gives such a session the same
 * response phase (saved on a 4xx, as Django's middleware does), then hands the exception to the
 * global filter Nest would have chosen without this one (the application's own `APP_FILTER` or
 * `useGlobalFilters()` filter), or to Nest's default answer.
 *
 * A session backend that cannot be reached (`SessionBackendUnavailable`, wherever it was thrown) is
 * answered 503 with `Retry-After`, and logged without the driver's words: never a hang, a 500 or
 * a stack trace for the visitor.
 */
@Catch(SessionBackendUnavailable)
@Injectable()
export class SessionExceptionFilter extends BaseExceptionFilter {
  /** Printed by name only: what it holds reaches the whole app (and the options given to forRoot). */
  [inspect.custom](): string {
    return 'SessionExceptionFilter {}';
  }

  constructor(
    private readonly requests: SessionRequests,
    private readonly responses: SessionResponses,
    @Inject(ApplicationConfig) private readonly config: ApplicationConfig,
    applicationRef?: HttpServer,
  ) {
    super(applicationRef);
  }

  override catch(exception: unknown, host: ArgumentsHost): unknown {
    if (exception instanceof SessionBackendUnavailable) {
      logger.error(exception.message);
      const signals = signalsFor(this.requests.backend);
      if (signals !== undefined) signals.emit('session.store_unavailable', { engine: signals.engineName, message: exception.message, transport: host.getType() });
      if (host.getType() === 'http') setHeader(host.switchToHttp().getResponse(), 'Retry-After', String(RETRY_AFTER_SECONDS));
      exception = new ServiceUnavailableException(UNAVAILABLE_MESSAGE, { cause: exception });
    }
    const opened = host.getType() === 'http' ? this.requests.openedFor(host.switchToHttp().getRequest()) : undefined;
    if (opened !== undefined && this.requests.releaseGuard(opened)) {
      return this.responses.commitAfterError(opened, host.switchToHttp().getResponse(), exception).then(
        () => this.handOn(exception, host),
        (error: unknown) => this.handOn(error, host),
      );
    }
    return this.handOn(exception, host);
  }

  /** What Nest would have done had this filter not matched. */
  private handOn(exception: unknown, host: ArgumentsHost): unknown {
    const next = this.nextGlobalFilter(exception);
    if (next !== undefined) return next.catch(exception, host);
    // Over HTTP, Nest's default answer; in an RPC context a filter that returns nothing leaves the
    // exception to Nest's default handler.
    return host.getType() === 'http' ? super.catch(exception, host) : undefined;
  }

  /** The first other global filter that catches `exception`, in Nest's order (the last registered first). */
  private nextGlobalFilter(exception: unknown): ExceptionFilter | undefined {
    const filters = this.config.getGlobalFilters();
    for (let i = filters.length - 1; i >= 0; i--) {
      const filter = filters[i];
      if (filter === this || typeof filter?.catch !== 'function') continue;
      const types: Function[] =
        Reflect.getMetadata(CATCH_METADATA, Object.getPrototypeOf(filter)) ?? Reflect.getMetadata(CATCH_METADATA, filter.constructor) ?? [];
      if (types.length === 0 || types.some((type) => exception instanceof type)) return filter;
    }
    return undefined;
  }
}

/**
 * The filter of one app, as `SessionModule` registers it (`APP_FILTER`). What it catches: the
 * session store being unreachable, and otherwise nothing unless one of *this app's* guards has
 * opened a session (`forContext()`) that no interceptor has taken over yet. Nest asks
 * `exception instanceof` each filter's types, so the filter stays out of the way of other
 * exceptions while no guard's session is pending (and when it does catch one that is not its
 * business, it hands it on); and another app in the process, whose guards are its own, never
 * moves it.
 */
export function sessionExceptionFilterFor(
  requests: SessionRequests,
  responses: SessionResponses,
  config: ApplicationConfig,
  adapterHost: HttpAdapterHost | undefined,
): SessionExceptionFilter {
  class ThisAppsSessionConcern {
    static [Symbol.hasInstance](exception: unknown): boolean {
      return exception instanceof SessionBackendUnavailable || requests.guardSessionsPending();
    }
  }
  @Catch(ThisAppsSessionConcern)
  class AppSessionExceptionFilter extends SessionExceptionFilter {}
  return new AppSessionExceptionFilter(requests, responses, config, adapterHost?.httpAdapter);
}
