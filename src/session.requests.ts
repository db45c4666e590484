import { inspect } from 'node:util';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { SessionBackend } from './backends/session-backend.js';
import { SESSION_OPTIONS } from './session.constants.js';
import { readSessionCookie } from './session.http.js';
import type { ResolvedSessionOptions } from './session-options.interface.js';
import { SessionStore, type SessionStoreContext } from './session.store.js';

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
  /**
   * GraphQL: the worst status the errors of the operation's session-taking resolvers stand for
   * (`HttpException`'s own, 500 for any other error). The commit at the response's end reads it
   * with the HTTP status, which GraphQL keeps at 200 whatever its resolvers threw.
   */
  failedStatus?: number;
  /** The commit waits for the response's end (`res.end` wrapped once: a GraphQL operation). */
  committedAtEnd?: boolean;
}

/** What the request's cookie is read from: a request, or a WebSocket handshake's headers. */
export interface CookieCarrier {
  headers?: Record<string, string | string[] | undefined>;
}

/** @internal Whether middleware changed the data in place since it first looked (`req.session.passport.user = id`). */
export function changedInPlace(state: RequestSessionState): boolean {
  return state.facadeSnapshot !== undefined && dataSnapshot(state) !== state.facadeSnapshot;
}

/**
 * @internal The session's data as text, to tell later whether it changed in place. Python's
 * numbers that JSON lacks (NaN, ±Infinity, an int past the double range read as a bigint) are
 * written as marked text, so that JSON.stringify neither throws on them nor makes them null.
 */
export function dataSnapshot(state: RequestSessionState): string {
  return JSON.stringify(state.store.toJSON(), pythonNumbersAsText);
}

function pythonNumbersAsText(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `\u0000int:${value}`;
  return typeof value === 'number' && !Number.isFinite(value) ? `\u0000float:${value}` : value;
}

const logger = new Logger('SessionInterceptor');

/**
 * Each request's session once opened, by request object (HTTP request, or the GraphQL operation's),
 * kept off the request object for the reason below. A request belongs to one app: two apps in one
 * process never meet in it.
 */
const openedSessions = new WeakMap<object, RequestSessionState>();

/** @internal The session `SessionRequests` opened for this request, if any. */
export function openedSessionOf(request: object | null | undefined): RequestSessionState | undefined {
  return request === null || typeof request !== 'object' ? undefined : openedSessions.get(request);
}

/**
 * The read under way for each request (the resolvers of a GraphQL operation run side by side and
 * share it). Kept here rather than on the request: each property added to or looked up in vain on a
 * request object (a long prototype chain on Express) costs more than a WeakMap lookup.
 */
const reading = new WeakMap<object, Promise<RequestSessionState>>();

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

  /** How many of this app's requests have a session a guard opened that nothing took over yet. */
  private pendingGuardSessions = 0;

  constructor(
    @Inject(SESSION_OPTIONS) readonly options: ResolvedSessionOptions,
    readonly backend: SessionBackend,
  ) {}

  /** Whether one of this app's requests has a session a guard opened that nothing has taken over yet. */
  guardSessionsPending(): boolean {
    return this.pendingGuardSessions > 0;
  }

  /** The request's session state if something (a guard) opened it already. */
  openedFor(request: Record<PropertyKey, any>): RequestSessionState | undefined {
    return openedSessions.get(request);
  }

  /**
   * Opens (once per request) the session named by the request's cookie. Callers that come while
   * it is being read (the resolvers of one GraphQL operation, side by side) share that one read.
   */
  open(request: Record<PropertyKey, any>): Promise<RequestSessionState> {
    // Checked first: nothing below may throw once the read is under way, or its rejection would
    // go unobserved (and end the process).
    if (request === null || typeof request !== 'object') {
      return Promise.reject(new TypeError(`No request to open a session for (got ${request === null ? 'null' : typeof request})`));
    }
    const existing = this.openedFor(request);
    if (existing !== undefined) return Promise.resolve(existing);
    const opening = reading.get(request);
    if (opening !== undefined) return opening;
    const read = this.read(request).then(
      (opened) => {
        openedSessions.set(request, opened);
        reading.delete(request);
        return opened;
      },
      (error: unknown) => {
        reading.delete(request);
        throw error;
      },
    );
    reading.set(request, read);
    return read;
  }

  /**
   * Reads the session `carrier`'s cookie names, kept nowhere: a WebSocket message's, which is
   * read again for every message. `Store` builds the object handlers get.
   */
  async read(
    carrier: CookieCarrier,
    Store: new (context: SessionStoreContext, key: string | null, data: ReadonlyMap<string, unknown> | null) => SessionStore = SessionStore,
  ): Promise<RequestSessionState> {
    const raw = readSessionCookie(carrier, this.options.cookieName);
    // No cookie, or a value that cannot be a key of this engine: an empty session and no I/O.
    const data = this.backend.isValidKey(raw) ? await this.backend.load(raw) : null;
    return {
      store: new Store(this, raw ?? null, data),
      cookiePresent: raw !== undefined,
      committed: false,
      guardPending: false,
      intercepted: false,
    };
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
    this.pendingGuardSessions++;
    (response?.raw ?? response)?.once?.('close', () => this.releaseGuard(opened));
  }

  /** Takes over a session a guard opened; true when it was pending. */
  releaseGuard(opened: RequestSessionState): boolean {
    if (!opened.guardPending) return false;
    opened.guardPending = false;
    this.pendingGuardSessions--;
    return true;
  }
}

type Commit = (state: RequestSessionState, response: any) => Promise<void>;

/**
 * @internal Runs the response phase when the response is about to leave, whoever sends it: the
 * end of a response nothing answered for before (a route without `@Session()` under
 * `requestSession`, a GraphQL operation, whose resolvers are many and none of them the last).
 * Express (and Node's own response): wraps this response's `end()`, once; the headers can still
 * be set then. A failed save is logged: the response is written already.
 */
export function commitBeforeEnd(state: RequestSessionState, response: any, commit: Commit): void {
  if (state.committedAtEnd) return;
  state.committedAtEnd = true;
  const end = response.end;
  response.end = function (this: unknown, ...args: unknown[]) {
    if (state.committed || response.headersSent) return end.apply(response, args);
    commit(state, response).then(
      () => end.apply(response, args),
      (error: unknown) => {
        logNotSaved(error);
        end.apply(response, args);
      },
    );
    return response;
  };
}

const FASTIFY_COMMIT_HOOK = Symbol('nestjs-django-session:onSend');

/**
 * @internal Fastify's counterpart of `commitBeforeEnd`: one `onSend` hook, added once per
 * Fastify instance before it starts, that runs the response phase of any request whose session
 * is still open when its reply is sent. Each request pays one property lookup for it, so it is
 * added only where a session's commit can wait for the reply (`requestSession`, GraphQL).
 */
export function commitOnFastifySend(instance: any, requests: SessionRequests, commit: Commit): void {
  if (instance[FASTIFY_COMMIT_HOOK] === true) return;
  instance[FASTIFY_COMMIT_HOOK] = true;
  instance.addHook('onSend', async (request: any, reply: any, payload: unknown) => {
    const state = requests.openedFor(request);
    if (state !== undefined && !state.committed) await commit(state, reply).catch(logNotSaved);
    return payload;
  });
}

/** @internal Whether `commitOnFastifySend` was added to this Fastify instance. */
export function commitsOnFastifySend(instance: any): boolean {
  return instance?.[FASTIFY_COMMIT_HOOK] === true;
}

function logNotSaved(error: unknown): void {
  logger.error(`The session was not saved: ${(error as Error)?.name}`);
}
