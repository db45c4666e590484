import { inspect } from 'node:util';
import { Inject, Injectable } from '@nestjs/common';
import { SessionBackend } from './backends/session-backend.js';
import { REQUEST_SESSION, SESSION_OPTIONS } from './session.constants.js';
import { readSessionCookie } from './session.http.js';
import type { ResolvedSessionOptions } from './session-options.interface.js';
import { SessionStore } from './session.store.js';

/** What a request carries once its session is opened: the store and the response phase's flags. */
export interface RequestSessionState {
  readonly store: SessionStore;
  /** Whether the request sent a session cookie at all (valid or not): an emptied session then deletes it. */
  readonly cookiePresent: boolean;
  /** Set once the response phase ran, so a handler's stream of values commits once. */
  committed: boolean;
  /** Opened by a guard (`forContext()`) and not yet taken over by the interceptor or the filter. */
  guardPending: boolean;
  /** A `SessionInterceptor` answers for it (another one on the same route then stands aside). */
  intercepted: boolean;
  /** `req.session` (the `requestSession` option): the data as JSON when middleware first looked at it. */
  facadeSnapshot?: string;
}

/** @internal Whether middleware changed the data in place since it first looked (`req.session.passport.user = id`). */
export function changedInPlace(state: RequestSessionState): boolean {
  return state.facadeSnapshot !== undefined && JSON.stringify(state.store.toJSON()) !== state.facadeSnapshot;
}

let pendingGuardSessions = 0;

/** @internal Whether some request's guard opened a session that nothing has taken over yet. */
export function guardSessionsPending(): boolean {
  return pendingGuardSessions > 0;
}

/**
 * @internal The session of each request: opened once (by the interceptor, or earlier by a guard)
 * from the request's cookie, and kept on the request until its response phase.
 */
@Injectable()
export class SessionRequests {
  /** Printed by name only: what it holds reaches the whole app (and the options given to forRoot). */
  [inspect.custom](): string {
    return 'SessionRequests {}';
  }

  constructor(
    @Inject(SESSION_OPTIONS) readonly options: ResolvedSessionOptions,
    readonly backend: SessionBackend,
  ) {}

  /** The request's session state if something (a guard) opened it already. */
  openedFor(request: Record<PropertyKey, any>): RequestSessionState | undefined {
    return request[REQUEST_SESSION] as RequestSessionState | undefined;
  }

  /** Opens (once per request) the session named by the request's cookie. */
  async open(request: Record<PropertyKey, any>): Promise<RequestSessionState> {
    const existing = this.openedFor(request);
    if (existing !== undefined) return existing;
    const raw = readSessionCookie(request, this.options.cookieName);
    // No cookie, or a value that cannot be a key of this engine: an empty session and no I/O.
    const data = this.backend.isValidKey(raw) ? await this.backend.load(raw) : null;
    const opened: RequestSessionState = {
      store: new SessionStore(this, raw ?? null, data),
      cookiePresent: raw !== undefined,
      committed: false,
      guardPending: false,
      intercepted: false,
    };
    request[REQUEST_SESSION] = opened;
    return opened;
  }

  /**
   * Marks a session a guard opened before any interceptor: if the guard refuses, only
   * `SessionExceptionFilter` can still save it; it engages while such a session is pending. The
   * interceptor or the filter releases it, and so does the end of the response (a refusal
   * answered by the route's own exception filter).
   */
  holdForGuard(opened: RequestSessionState, response: any): void {
    if (opened.committed || opened.intercepted || opened.guardPending) return;
    opened.guardPending = true;
    pendingGuardSessions++;
    (response?.raw ?? response)?.once?.('close', () => this.releaseGuard(opened));
  }

  /** Takes over a session a guard opened; true when it was pending. */
  releaseGuard(opened: RequestSessionState): boolean {
    if (!opened.guardPending) return false;
    opened.guardPending = false;
    pendingGuardSessions--;
    return true;
  }
}
