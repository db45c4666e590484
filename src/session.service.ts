import { inspect, type InspectOptions } from 'node:util';
import { Inject, Injectable, type ExecutionContext, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { SessionBackend } from './backends/session-backend.js';
import { releaseDefaultCodec, setDefaultCodec } from './codec/running-codecs.js';
import { SessionCodec, type SessionDict } from './codec/session-codec.js';
import { decodeLogged } from './codec/suspicious-session.js';
import { SESSION_OPTIONS } from './session.constants.js';
import type { ResolvedSessionOptions } from './session-options.interface.js';
import { SessionResponses } from './session.responses.js';
import { SessionRequests } from './session.requests.js';
import { SessionStore, type AppSessionData } from './session.store.js';
import { transportOf } from './transports/index.js';

/**
 * Sessions outside the request cycle — Django's `SessionStore(session_key=...)` and
 * `manage.py clearsessions` — and the guard helper `forContext()`, on the configured engine.
 *
 * @example
 * ```ts
 * const session = await sessions.load(key);   // SessionStore bound to that key
 * session.set('plan', 'pro');
 * await session.save();
 * await sessions.clearExpired();              // number of sessions deleted
 * ```
 */
@Injectable()
export class SessionService implements OnModuleInit, OnApplicationShutdown {
  /** What printing the service shows: the engine and the options, secrets as `[secret]`. */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    return `SessionService ${inspect({ engine: this.backend.engineName, options: this.options }, options)}`;
  }

  constructor(
    @Inject(SESSION_OPTIONS) readonly options: ResolvedSessionOptions,
    /** Signs and reads `session_data` with the configured secrets. */
    readonly codec: SessionCodec,
    /** The configured engine (also injectable as `SessionBackend`). */
    readonly backend: SessionBackend,
    private readonly requests: SessionRequests,
    /** The response phase of a session committed when its response leaves (a GraphQL operation's). */
    private readonly responses: SessionResponses,
  ) {}

  onModuleInit(): void {
    setDefaultCodec(this.codec);
  }

  onApplicationShutdown(): void {
    releaseDefaultCodec(this.codec);
  }

  /** Django's `SessionStore(session_key=key)`: the session stored under `key` (empty and keyless if none is live). */
  async load<T extends object = AppSessionData>(sessionKey: string): Promise<SessionStore<T>> {
    const data = this.backend.isValidKey(sessionKey) ? await this.backend.load(sessionKey) : null;
    return new SessionStore<T>(this, sessionKey, data);
  }

  /** A new session holding `data`, saved at once under a fresh key (`session.sessionKey`). */
  async create<T extends object = AppSessionData>(data: Partial<T> = {}): Promise<SessionStore<T>> {
    const store = new SessionStore<T>(this, null, null);
    store.update(data);
    await store.save();
    return store;
  }

  /** Whether a session is stored under `sessionKey` (expired or not, where the engine keeps those). */
  exists(sessionKey: string): Promise<boolean> {
    return this.backend.isValidKey(sessionKey) ? this.backend.exists(sessionKey) : Promise.resolve(false);
  }

  /**
   * Deletes expired sessions (`manage.py clearsessions`); resolves to how many went. 0 on engines
   * whose store expires sessions itself (`backend.sweepsExpired` is false: cache, signed cookies).
   */
  clearExpired(): Promise<number> {
    return this.backend.clearExpired();
  }

  /**
   * A health signal: resolves when the configured engine's store answers (one real lookup),
   * rejects with its error otherwise; `SessionBackendUnavailable` when Redis cannot be reached.
   *
   * @example
   * ```ts
   * // With @nestjs/terminus: () => this.sessions.ping().then(() => ({ sessions: { status: 'up' } }))
   * @Get('health') async health() { await this.sessions.ping(); return { sessions: 'up' }; }
   * ```
   */
  ping(): Promise<void> {
    return this.backend.ping();
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
   * The session of the request a guard is looking at (guards run before interceptors, so
   * `@Session()` is not yet filled in): the same object then reaches the handler's `@Session()`
   * and is saved by the same rules. On every transport the module serves:
   *
   * - HTTP: the request's session (a change is saved also when the guard refuses with a 4xx);
   * - GraphQL: the operation's HTTP request's session, shared by its resolvers and committed once
   *   when the response leaves;
   * - WebSocket: the message's session (its handshake cookie's), which the handler's `@Session()`
   *   gets and which is saved after the handler (`SessionModule` runs its interceptor around
   *   guarded gateway handlers) — never created: no cookie can be sent (`SocketSessionError`).
   *
   * Any other context (a microservice's `'rpc'`) rejects with `SessionContextError`, as does a
   * context missing what its transport needs (a GraphQL context without `req`).
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
  async forContext<T extends object = AppSessionData>(context: ExecutionContext): Promise<SessionStore<T>> {
    const opened = await transportOf(context).open(context, this.requests, this.responses.commitAtEnd);
    return opened.store as SessionStore<T>;
  }
}
