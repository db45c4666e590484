import { inspect } from 'node:util';
import {
  HttpException,
  Injectable,
  Logger,
  RequestMethod,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { catchError, concatMap, from, Observable, throwError } from 'rxjs';
import { SESSION_PARAM_METADATA } from './session.constants.js';
import { SessionInterrupted, UpdateError } from './session.errors.js';
import { addVaryCookie, appendSetCookie, deletedSessionCookie, headersSent, makeCacheControlPrivate, sessionCookie } from './session.http.js';
import { changedInPlace, SessionRequests, type RequestSessionState } from './session.requests.js';

const HTTP_CODE_METADATA = '__httpCode__'; // @nestjs/common's @HttpCode()
const METHOD_METADATA = 'method'; // @nestjs/common's @Get()/@Post()...

const logger = new Logger('SessionInterceptor');

/**
 * Django's `SessionMiddleware` as an interceptor: opens the session before the handler and,
 * before the response leaves, saves it and sets or deletes the cookie by Django's rules.
 * Put in place by `SessionModule` itself: on every handler that takes `@Session()`, and globally
 * when anything else may use the session (see `SessionRoutes`). The `protected` methods are the
 * points to override.
 */
@Injectable()
export class SessionInterceptor implements NestInterceptor {
  /** Printed by name only: what it holds reaches the whole app (and the options given to forRoot). */
  [inspect.custom](): string {
    return 'SessionInterceptor {}';
  }

  private readonly usesSession = new WeakMap<Function, boolean>();

  constructor(protected readonly requests: SessionRequests) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest();
    const already = this.requests.openedFor(request);
    // Another SessionInterceptor (the global one, around a @Session() handler's own) answers for it.
    if (already?.intercepted) return next.handle();
    // A guard may have opened it through SessionService.forContext() even where no handler takes it.
    if (already === undefined && !this.shouldOpen(context)) return next.handle();
    const response = http.getResponse();
    return from(this.requests.open(request)).pipe(
      concatMap((opened) => {
        opened.intercepted = true;
        this.requests.releaseGuard(opened); // from here on, this interceptor answers for it
        return next.handle().pipe(
          concatMap((value) => from(this.commit(opened, response, this.successStatus(context, response)).then(() => value))),
          catchError((error: unknown) =>
            from(this.commit(opened, response, statusOf(error))).pipe(concatMap(() => throwError(() => error))),
          ),
        );
      }),
    );
  }

  /**
   * Whether to open the session before this handler: when it takes `@Session()`, or always under
   * `saveEveryRequest` (Django then saves every request that has a session).
   */
  protected shouldOpen(context: ExecutionContext): boolean {
    if (this.requests.options.saveEveryRequest) return true;
    const handler = context.getHandler();
    let uses = this.usesSession.get(handler);
    if (uses === undefined) {
      uses = Reflect.getMetadata(SESSION_PARAM_METADATA, context.getClass(), handler.name) === true;
      this.usesSession.set(handler, uses);
    }
    return uses;
  }

  /** Django's `SessionMiddleware.process_response`. */
  protected async commit(opened: RequestSessionState, response: any, status: number): Promise<void> {
    const { store, cookiePresent } = opened;
    if (opened.committed) return;
    opened.committed = true;
    await store.settle();
    const { options } = this.requests;
    const accessed = store.accessed;
    // Middleware using req.session (passport) changes nested values in place without saying so.
    const modified = store.modified || changedInPlace(opened);
    const empty = store.isEmpty();
    // 5xx: nothing is saved and no session cookie is set (the handler failed; its changes are not kept).
    const saves = (modified || options.saveEveryRequest) && !empty && status < 500;
    if (headersSent(response)) return this.commitAfterSend(opened, saves);
    let vary = accessed;
    if (cookiePresent && empty) {
      // The session was emptied (flush, or an unknown key): make the browser forget the cookie.
      // Django does this whatever the status: the row is gone either way.
      appendSetCookie(response, deletedSessionCookie(options));
      vary = true;
    } else if (saves) {
      const maxAge = store.getExpireAtBrowserClose() ? null : store.getExpiryAge();
      try {
        await store.save();
      } catch (error) {
        if (error instanceof UpdateError) throw new SessionInterrupted();
        throw error;
      }
      appendSetCookie(response, sessionCookie(options, store.sessionKey!, maxAge));
      if (options.privateCacheControl) makeCacheControlPrivate(response);
      vary = true;
    }
    if (vary) addVaryCookie(response);
  }

  /**
   * The handler sent the response itself (`@Res()` without `passthrough`): no header can be set
   * any more. A session the browser already has a cookie for is still saved; a new one is not
   * (nobody could ever send its key back), and that is logged rather than left as an orphan row.
   */
  private async commitAfterSend({ store }: RequestSessionState, saves: boolean): Promise<void> {
    if (!saves) return;
    if (store.sessionKey === null) {
      logger.warn('A new session was not saved: the handler sent the response itself (@Res()), so its cookie could not be set');
      return;
    }
    if (this.requests.backend.keyHoldsData) {
      // signed_cookies: the change would live only in a cookie that can no longer be sent.
      logger.warn('The session was not saved: the handler sent the response itself (@Res()), and this engine keeps the session in the cookie');
      return;
    }
    try {
      await store.save();
    } catch (error) {
      if (!(error instanceof UpdateError)) throw error;
      logger.warn(`The session was not saved: ${new SessionInterrupted().message}`);
    }
  }

  /** @internal The response phase for a response sent without this interceptor (`requestSession`: a route without `@Session()`, a redirect made by middleware). */
  commitAtEnd(opened: RequestSessionState, response: any): Promise<void> {
    const status = response?.statusCode;
    return this.commit(opened, response, typeof status === 'number' ? status : 200);
  }

  /** @internal The response phase for a request that failed before the handler (a guard refused). */
  commitAfterError(opened: RequestSessionState, response: any, error: unknown): Promise<void> {
    return this.commit(opened, response, statusOf(error));
  }

  /**
   * The status a handler's return value will be sent with: the response's, which Nest sets before
   * interceptors run and a handler may change (`@Res({ passthrough: true })`), else `@HttpCode()`
   * or the method's default.
   */
  protected successStatus(context: ExecutionContext, response?: any): number {
    const current = response?.statusCode;
    if (typeof current === 'number' && current !== 200) return current;
    const handler = context.getHandler();
    const code = Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined;
    if (code !== undefined) return code;
    return Reflect.getMetadata(METHOD_METADATA, handler) === RequestMethod.POST ? 201 : 200;
  }
}

function statusOf(error: unknown): number {
  return error instanceof HttpException ? error.getStatus() : 500;
}
