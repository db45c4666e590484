import { ForbiddenException, Inject, Injectable, Logger, type CanActivate, type ExecutionContext, type OnModuleInit } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { OPENS_NO_SESSION } from '../session.constants.js';
import { SessionService } from '../session.service.js';
import { csrfFailure, SAFE_METHODS } from './csrf-check.js';
import { CSRF_OPTIONS, type ResolvedCsrfOptions } from './csrf-options.js';
import { attachCsrfSession, openCsrfState, writeCsrfCookie } from './csrf-state.js';
import { CSRF_EXEMPT_METADATA, CSRF_TOKEN_PARAM_METADATA, csrfHttpOf } from './csrf.decorators.js';

/**
 * A CSRF check failed: Django's 403, with Django's reason as the message (`exception.reason`).
 * Catch it with an exception filter for a page of your own (Django's `CSRF_FAILURE_VIEW`).
 */
export class CsrfFailure extends ForbiddenException {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const logger = new Logger('django.security.csrf');

/**
 * Django's `CsrfViewMiddleware` as a global guard (`CsrfModule` registers it): on each HTTP
 * request (and GraphQL operation over HTTP) it reads the visitor's secret, and refuses an unsafe
 * method (anything but GET, HEAD, OPTIONS, TRACE) whose token does not match it, or whose Origin
 * (or, on HTTPS without an Origin, Referer) is not trusted — unless the handler is `@CsrfExempt()`.
 * WebSocket messages and microservice messages are not checked (no cookie-borne form posts there).
 */
@Injectable()
export class CsrfGuard implements CanActivate, OnModuleInit {
  private sessions?: SessionService;
  /** In cookie mode the session is never opened here: `SessionInterceptor` need not run on every route for this guard. */
  readonly [OPENS_NO_SESSION]: boolean;

  constructor(
    @Inject(CSRF_OPTIONS) private readonly options: ResolvedCsrfOptions,
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
  ) {
    this[OPENS_NO_SESSION] = !options.useSessions;
  }

  onModuleInit(): void {
    if (!this.options.useSessions) return;
    try {
      this.sessions = this.moduleRef.get(SessionService, { strict: false });
    } catch {
      throw new Error('CsrfModule: `useSessions` keeps the CSRF secret in the session: import SessionModule.forRoot() as well');
    }
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType<string>() === 'graphql' && !this.options.graphql) return true;
    // Elsewhere (a WebSocket message, a GraphQL subscription over a socket) there is nothing to check.
    const http = csrfHttpOf(context);
    if (http === undefined) return true;
    const { request, response } = http;
    if (request === null || typeof request !== 'object') return true;
    const safe = SAFE_METHODS.has(String(request.method).toUpperCase());
    const exempt = this.reflector.getAllAndOverride<boolean>(CSRF_EXEMPT_METADATA, [context.getHandler(), context.getClass()]) === true;
    const state = openCsrfState(request, this.options);
    state.response ??= response;
    // useSessions: the session is read where the secret is needed — an unsafe request's check, a
    // handler taking @CsrfToken() — and otherwise by getCsrfToken() from the handler's own session.
    if (this.sessions !== undefined && state.session === undefined && ((!safe && !exempt) || this.reflector.get<boolean>(CSRF_TOKEN_PARAM_METADATA, context.getHandler()) === true)) {
      attachCsrfSession(state, await this.sessions.forContext(context));
    }
    if (safe || exempt) return true;
    if (state.verdict === undefined) state.verdict = csrfFailure(request, state);
    if (state.verdict === null) return true;
    logger.warn(`Forbidden (${state.verdict}): ${String(request.url ?? '').split('?')[0]}`);
    // Django's rejection goes through process_response too: a replaced cookie is sent with it.
    writeCsrfCookie(state, response);
    throw new CsrfFailure(state.verdict);
  }
}
