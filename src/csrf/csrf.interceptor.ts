import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { tap } from 'rxjs';
import { OPENS_NO_SESSION } from '../session.constants.js';
import { CSRF_OPTIONS, type ResolvedCsrfOptions } from './csrf-options.js';
import { csrfStateOf, finishCsrfResponse } from './csrf-state.js';
import { csrfHttpOf } from './csrf.decorators.js';

/**
 * Django's `process_response` for the CSRF cookie: after the handler (or its error), a login on
 * the request's session rotates the secret, and a secret used or rotated goes out in the cookie,
 * with `Vary: Cookie` (once per request: a GraphQL operation's first resolver done sends it).
 * Nothing to do with `useSessions` (the session carries the secret) or outside HTTP and GraphQL.
 */
@Injectable()
export class CsrfInterceptor implements NestInterceptor {
  /** It only looks at a session something else opened (a login to rotate on). */
  readonly [OPENS_NO_SESSION] = true;

  constructor(@Inject(CSRF_OPTIONS) private readonly options: ResolvedCsrfOptions) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (this.options.useSessions) return next.handle();
    const http = csrfHttpOf(context);
    const state = csrfStateOf(http?.request);
    if (state === undefined) return next.handle();
    const finish = () => finishCsrfResponse(state, http!.request, http!.response);
    return next.handle().pipe(tap({ next: finish, error: finish, complete: finish }));
  }
}
