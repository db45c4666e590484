import { Inject, Injectable, type ExecutionContext, type OnModuleInit, type OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { SessionBackend } from './backends/session-backend.interface.js';
import { TypeOrmSessionBackend } from './backends/typeorm.backend.js';
import { SessionCodec, type SessionDict } from './codec/session-codec.js';
import { REQUEST_SESSION, SESSION_OPTIONS } from './session.constants.js';
import { decodeLogged, releaseDefaultCodec, setDefaultCodec, useDjangoDateText } from './session.entity.js';
import { readSessionCookie } from './session.http.js';
import type { ResolvedSessionOptions } from './session-options.interface.js';
import { isValidSessionKey, SessionStore, type SessionData, type SessionEngine } from './session.store.js';

/** What the request carries once its session is opened. */
export interface RequestSession {
  readonly store: SessionStore;
  /** Whether the request sent a session cookie at all (valid or not): an emptied session then deletes it. */
  readonly cookiePresent: boolean;
  /** Set once the response phase ran, so a handler's stream of values commits once. */
  committed: boolean;
  /** Opened by a guard (`forContext()`) and not yet taken over by the interceptor or the filter. */
  guardPending: boolean;
  /** A `SessionInterceptor` answers for it (another one on the same route then stands aside). */
  intercepted: boolean;
}

let pendingGuardSessions = 0;

/** @internal Whether some request's guard opened a session that nothing has taken over yet. */
export function guardSessionsPending(): boolean {
  return pendingGuardSessions > 0;
}

/**
 * Sessions outside the request cycle — Django's `SessionStore(session_key=...)` and
 * `manage.py clearsessions` — and the guard helper `forContext()`.
 *
 * @example
 * ```ts
 * const session = await sessions.load(key);   // SessionStore bound to that key
 * session.set('plan', 'pro');
 * await session.save();
 * await sessions.clearExpired();              // number of rows deleted
 * ```
 */
@Injectable()
export class SessionService implements SessionEngine, OnModuleInit, OnApplicationShutdown {
  readonly codec: SessionCodec;
  /** @internal Whether `SessionInterceptor` runs before every route of the app (see `SessionRoutes`). */
  interceptsEveryRoute = false;
  #backend: SessionBackend | null = null;

  constructor(
    @Inject(SESSION_OPTIONS) readonly options: ResolvedSessionOptions,
    private readonly moduleRef: ModuleRef,
  ) {
    this.codec = new SessionCodec({
      secretKey: options.secretKey,
      secretKeyFallbacks: options.secretKeyFallbacks,
      salt: options.salt,
      legacyDecode: options.legacyDecode,
    });
  }

  /** The storage backend (Django's db backend on the configured TypeORM DataSource). */
  get backend(): SessionBackend {
    if (this.#backend === null) throw new Error('SessionService is used before the Nest application was initialised');
    return this.#backend;
  }

  onModuleInit(): void {
    // Resolved here, not injected: the DataSource's name is only known once options are (forRootAsync).
    const token = getDataSourceToken(this.options.dataSource);
    let dataSource: DataSource;
    try {
      dataSource = this.moduleRef.get<DataSource>(token as string, { strict: false });
    } catch {
      throw new Error(
        `nestjs-django-session: no TypeORM DataSource ${this.options.dataSource ? `named "${this.options.dataSource}"` : '(default)'} ` +
          'was found. Import TypeOrmModule.forRoot({ ..., entities: [SessionEntity] }) in the same application.',
      );
    }
    useDjangoDateText(dataSource);
    const backend = new TypeOrmSessionBackend(dataSource);
    backend.prepare();
    this.#backend = backend;
    setDefaultCodec(this.codec);
  }

  onApplicationShutdown(): void {
    releaseDefaultCodec(this.codec);
  }

  /** Django's `SessionStore(session_key=key)`: the session stored under `key` (empty and keyless if none is live). */
  async load<T extends SessionData = SessionData>(sessionKey: string): Promise<SessionStore<T>> {
    return new SessionStore<T>(this, sessionKey, isValidSessionKey(sessionKey) ? await this.loadData(sessionKey) : null);
  }

  /** A new session holding `data`, saved at once under a fresh key (`session.sessionKey`). */
  async create<T extends SessionData = SessionData>(data: Partial<T> = {}): Promise<SessionStore<T>> {
    const store = new SessionStore<T>(this, null, null);
    store.update(data);
    await store.save();
    return store;
  }

  /** Whether a row exists for `sessionKey` (expired or not). */
  exists(sessionKey: string): Promise<boolean> {
    return isValidSessionKey(sessionKey) ? this.backend.exists(sessionKey) : Promise.resolve(false);
  }

  /** Deletes expired sessions (`manage.py clearsessions`); returns how many rows went. */
  clearExpired(): Promise<number> {
    return this.backend.clearExpired();
  }

  /** `session_data` for `data`, signed with `secretKey` (Django's `SessionStore().encode()`). */
  encode(data: SessionDict): string {
    return this.codec.encode(data);
  }

  /** The dictionary in `sessionData`; `{}` (and a logged warning) when its signature does not verify. */
  decode(sessionData: string): SessionDict {
    return decodeLogged(this.codec, sessionData).data;
  }

  /**
   * The request's session, for a guard (guards run before interceptors, so `@Session()` is not yet
   * filled in). The same object then reaches the handler's `@Session()` and is saved after it.
   *
   * @example
   * ```ts
   * @Injectable()
   * export class MemberGuard implements CanActivate {
   *   constructor(private readonly sessions: SessionService) {}
   *   async canActivate(context: ExecutionContext) {
   *     return (await this.sessions.forContext(context)).has('member_id');
   *   }
   * }
   * ```
   */
  async forContext<T extends SessionData = SessionData>(context: ExecutionContext): Promise<SessionStore<T>> {
    const http = context.switchToHttp();
    const opened = await this.openRequest(http.getRequest());
    if (!opened.committed && !opened.intercepted && !opened.guardPending) {
      // Opened before any interceptor (by a guard): if the guard refuses, only
      // SessionExceptionFilter can still save the session; it engages while such a session is pending. The interceptor or the filter releases it, and so does
      // the end of the response (a refusal answered by the route's own exception filter).
      opened.guardPending = true;
      pendingGuardSessions++;
      const response = http.getResponse();
      (response?.raw ?? response)?.once?.('close', () => this.releaseGuard(opened));
    }
    return opened.store as SessionStore<T>;
  }

  /** @internal Takes over a session a guard opened; true when it was pending. */
  releaseGuard(opened: RequestSession): boolean {
    if (!opened.guardPending) return false;
    opened.guardPending = false;
    pendingGuardSessions--;
    return true;
  }

  /** @internal The request's session if something (a guard) opened it already. */
  openedFor(request: Record<PropertyKey, any>): RequestSession | undefined {
    return request[REQUEST_SESSION] as RequestSession | undefined;
  }

  /** @internal Opens (once per request) the session named by the request's cookie. */
  async openRequest(request: Record<PropertyKey, any>): Promise<RequestSession> {
    const existing = this.openedFor(request);
    if (existing !== undefined) return existing;
    const raw = readSessionCookie(request, this.options.cookieName);
    // No cookie, or a value that cannot be a key: an empty session and no query.
    const data = isValidSessionKey(raw) ? await this.loadData(raw) : null;
    const opened: RequestSession = { store: new SessionStore(this, raw ?? null, data), cookiePresent: raw !== undefined, committed: false, guardPending: false, intercepted: false };
    request[REQUEST_SESSION] = opened;
    return opened;
  }

  /** The live row's data, in its stored key order; null when there is none; empty when it does not verify (key kept, as Django). */
  private async loadData(sessionKey: string): Promise<Map<string, unknown> | null> {
    const sessionData = await this.backend.load(sessionKey);
    if (sessionData === null) return null;
    const { data, keys } = decodeLogged(this.codec, sessionData);
    return new Map((keys ?? Object.keys(data)).map((key) => [key, data[key]]));
  }
}
