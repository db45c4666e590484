import { inspect } from 'node:util';
import {
  HttpException,
  Injectable,
  RequestMethod,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { catchError, concatMap, from, Observable, throwError, type Subscription } from 'rxjs';
import { SESSION_PARAM_METADATA } from './session.constants.js';
import { isWsException, messageSessionOf, SocketSessionError, socketSessionMessage } from './integrations/websocket.js';
import { SessionRequests, type RequestSessionState } from './session.requests.js';
import { saveOrInterrupted, SessionResponses, statusOf } from './session.responses.js';
import { graphqlTransport } from './transports/graphql.js';
import { openMessageSession } from './transports/websocket.js';

const HTTP_CODE_METADATA = '__httpCode__'; // @nestjs/common's @HttpCode()
const METHOD_METADATA = 'method'; // @nestjs/common's @Get()/@Post()...

/**
 * Django's `SessionMiddleware` as an interceptor: opens the session before the handler and,
 * before the response leaves, saves it and sets or deletes the cookie by Django's rules.
 * Put in place by `SessionModule` itself: on every handler that takes `@Session()`, and globally
 * when anything else may use the session (see `SessionRoutes`). The `protected` methods are the
 * points to override.
 *
 * The same rules where a Nest app meets a visitor other than through a controller:
 *
 * - GraphQL resolvers (`@nestjs/graphql`, Apollo or Mercurius): an operation is one HTTP request,
 *   whatever the number of its resolvers. They share one read of the session, and its commit
 *   waits for the HTTP response (Express: `res.end`; Fastify: an `onSend` hook), so it runs once,
 *   after the whole operation, with its `Set-Cookie` on that response. GraphQL answers 200 when a
 *   resolver throws, so the status the commit goes by is the worse of the HTTP status and what
 *   the errors thrown by resolvers that took the session stand for: an `HttpException` its
 *   status; a `GraphQLError` (or Mercurius's `ErrorWithProps`) — what GraphQL throws for the
 *   client to read, as an HttpException is over HTTP — 400, unless it asks for an HTTP status of
 *   500 or more; any other error 500. At 500 or more nothing of the operation is saved (its resolvers share one
 *   session, so one that failed discards the changes of all, as a 500 discards a request's).
 *   Errors of resolvers that did not take the session do not count: they could not change it.
 * - WebSocket gateways (`@SubscribeMessage()`): see `integrations/websocket.ts`. Read for each
 *   message from the handshake's cookie; a stored session's changes are saved after the handler
 *   (not after an error other than a `WsException` or an `HttpException` below 500); what would
 *   need a new cookie fails with `SocketSessionError`.
 */
@Injectable()
export class SessionInterceptor implements NestInterceptor {
  /** Printed by name only: what it holds reaches the whole app (and the options given to forRoot). */
  [inspect.custom](): string {
    return 'SessionInterceptor {}';
  }

  private readonly usesSession = new WeakMap<Function, boolean>();
  /** The status each handler answers with when it succeeds (`@HttpCode()`, or Nest's 201 for POST, else 200). */
  private readonly handlerStatus = new WeakMap<Function, number>();
  constructor(
    protected readonly requests: SessionRequests,
    protected readonly responses: SessionResponses,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    switch (context.getType<string>()) {
      case 'http':
        return this.interceptRequest(context, next);
      case 'graphql':
        return this.interceptResolver(context, next);
      case 'ws':
        return this.interceptMessage(context, next);
      default:
        return next.handle();
    }
  }

  private interceptRequest(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest();
    const already = this.requests.openedFor(request);
    // Another SessionInterceptor (the global one, around a @Session() handler's own) answers for it.
    if (already?.intercepted) return next.handle();
    // A guard may have opened it through SessionService.forContext() even where no handler takes it.
    if (already === undefined && !this.shouldOpen(context)) return next.handle();
    const response = http.getResponse();
    // What `from(open).pipe(concatMap(() => handle().pipe(concatMap(commit), catchError(commit))))`
    // does, without the half-dozen subscribers rxjs would build per request: each value waits for
    // the commit, in order; an error commits with its status first; an error of the commit ends it.
    return new Observable<unknown>((subscriber) => {
      let handled: Subscription | undefined;
      let queue: Promise<void> = Promise.resolve();
      let ended = false;
      const fail = (error: unknown) => {
        if (ended) return;
        ended = true;
        handled?.unsubscribe();
        subscriber.error(error);
      };
      this.requests.open(request).then((opened) => {
        if (subscriber.closed) return;
        opened.intercepted = true;
        this.requests.releaseGuard(opened); // from here on, this interceptor answers for it
        handled = next.handle().subscribe({
          next: (value) => {
            queue = queue.then(() =>
              this.commit(opened, response, this.successStatus(context, response)).then(() => {
                if (!ended) subscriber.next(value);
              }, fail),
            );
          },
          error: (error: unknown) => {
            queue = queue.then(() => this.commit(opened, response, statusOf(error)).then(() => fail(error), fail));
          },
          complete: () => {
            queue = queue.then(() => {
              if (ended) return;
              ended = true;
              subscriber.complete();
            });
          },
        });
      }, fail)
        // Whatever throws while setting up the handler's stream reaches the subscriber, as in rxjs.
        .catch(fail);
      return () => handled?.unsubscribe();
    });
  }

  /**
   * A GraphQL resolver: opens (or joins) the session of the operation's HTTP request, and leaves
   * the commit to the response's end. Idempotent, so a global SessionInterceptor and the
   * resolver's own may both run (and a guard's `forContext()` before them).
   */
  private interceptResolver(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.shouldOpen(context)) return next.handle();
    return from(graphqlTransport.open(context, this.requests, this.responses.commitAtEnd)).pipe(
      concatMap((opened) =>
        next.handle().pipe(
          catchError((error: unknown) => {
            opened.failedStatus = Math.max(opened.failedStatus ?? 0, resolverStatusOf(error));
            return throwError(() => error);
          }),
        ),
      ),
    );
  }

  /**
   * A WebSocket message to a handler that takes `@Session()`, or whose guard opened the message's
   * session (`forContext()`): the session is read from the handshake's cookie for each message (a
   * logout over HTTP shows at the next one), and saved after the handler when changed — never
   * created, as no cookie can be sent (`SocketSessionError`). `saveEveryRequest` does not apply:
   * it renews the cookie, which a socket cannot.
   */
  private interceptMessage(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const guarded = messageSessionOf(context);
    // Another SessionInterceptor (the global one, around the handler's own) answers for it.
    if (guarded?.intercepted) return next.handle();
    if (guarded === undefined && !this.takesSession(context)) return next.handle();
    return from(guarded === undefined ? openMessageSession(context, this.requests) : Promise.resolve(guarded)).pipe(
      concatMap((opened) => {
        opened.intercepted = true; // from here on, this interceptor answers for it
        return next.handle().pipe(
          concatMap((value) => from(this.commitMessage(opened, 200).then(() => value))),
          catchError((error: unknown) =>
            from(this.commitMessage(opened, messageStatusOf(error))).pipe(concatMap(() => throwError(() => error))),
          ),
        );
      }),
    );
  }

  /**
   * A WebSocket message's response phase: the stored session saved when modified, unless the
   * handler failed (`status` 500 or more). A session with no key, or on an engine whose key is the
   * data, would need a new cookie: refused, nothing stored.
   */
  protected async commitMessage(opened: RequestSessionState, status: number): Promise<void> {
    if (opened.committed) return;
    opened.committed = true;
    const { store } = opened;
    await store.settle();
    if (!store.modified || store.isEmpty() || status >= 500) return;
    if (this.requests.backend.keyHoldsData) {
      throw new SocketSessionError(socketSessionMessage('Saving a session whose engine keeps it in the cookie (signed_cookies)'));
    }
    await saveOrInterrupted(store); // SocketSessionStore: refuses a session without a key (a new one)
  }

  /**
   * Whether to open the session before this handler: when it takes `@Session()`, or always under
   * `saveEveryRequest` (Django then saves every request that has a session).
   */
  protected shouldOpen(context: ExecutionContext): boolean {
    return this.requests.options.saveEveryRequest || this.takesSession(context);
  }

  /** Whether the handler takes `@Session()`. */
  private takesSession(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    let uses = this.usesSession.get(handler);
    if (uses === undefined) {
      uses = Reflect.getMetadata(SESSION_PARAM_METADATA, context.getClass(), handler.name) === true;
      this.usesSession.set(handler, uses);
    }
    return uses;
  }

  /**
   * Django's `SessionMiddleware.process_response` (see `SessionResponses.commit`): the point to
   * override for what happens after a handler.
   */
  protected commit(opened: RequestSessionState, response: any, status: number): Promise<void> {
    return this.responses.commit(opened, response, status);
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
    let status = this.handlerStatus.get(handler);
    if (status === undefined) {
      const code = Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined;
      status = code ?? (Reflect.getMetadata(METHOD_METADATA, handler) === RequestMethod.POST ? 201 : 200);
      this.handlerStatus.set(handler, status);
    }
    return status;
  }
}

/**
 * What a resolver's error stands for: an `HttpException` its status; an error GraphQL means the
 * client to read (`GraphQLError`, Mercurius's `ErrorWithProps`: an object `extensions`) 400, or
 * the HTTP status it asks for (`extensions.http.status`, `statusCode`) when 500 or more; else 500.
 */
function resolverStatusOf(error: unknown): number {
  if (error instanceof HttpException) return error.getStatus();
  const shaped = error as { extensions?: { http?: { status?: unknown } }; statusCode?: unknown } | null;
  if (shaped !== null && typeof shaped === 'object' && shaped.extensions !== null && typeof shaped.extensions === 'object') {
    const asked = [shaped.extensions.http?.status, shaped.statusCode].find((s): s is number => typeof s === 'number' && s >= 500);
    return asked ?? 400;
  }
  return 500;
}

/** What a gateway handler's error stands for: a `WsException` is the client's (400), as is an `HttpException` below 500. */
function messageStatusOf(error: unknown): number {
  return isWsException(error) ? 400 : statusOf(error);
}
