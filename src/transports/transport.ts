import type { ExecutionContext } from '@nestjs/common';
import type { RequestSessionState, SessionRequests } from '../session.requests.js';

/** The response phase run when an exchange's response leaves (`SessionInterceptor.commitAtEnd`). */
export type CommitAtEnd = (state: RequestSessionState, response: any) => Promise<void>;

/**
 * Where a visitor's request comes from — an HTTP request, a GraphQL operation, a WebSocket
 * message — as far as its session goes: where the session opened for it is kept, and how a guard
 * opens it before any interceptor runs. One implementation per transport, chosen by
 * `context.getType()` in `transports/index.ts`.
 */
export interface SessionTransport {
  /** The session opened for this context (by `SessionInterceptor`, or a guard), if any. */
  sessionOf(context: ExecutionContext): RequestSessionState | undefined;
  /**
   * Opens (or joins) the context's session before the interceptor — for a guard
   * (`SessionService.forContext()`) — and arranges its response phase. Never throws: a context it
   * cannot serve rejects with `SessionContextError`.
   */
  open(context: ExecutionContext, requests: SessionRequests, commitAtEnd: CommitAtEnd): Promise<RequestSessionState>;
}

/**
 * A session was asked for where none can be: a context type without one (a microservice's
 * `'rpc'` message), or a context missing what its transport needs (a GraphQL context without the
 * HTTP request, a WebSocket client without a handshake). Never a crash: the caller gets this error.
 */
export class SessionContextError extends Error {
  override name = 'SessionContextError';
}

/** Whether `value` can carry a session (an object: a request, a client). */
export function isCarrier(value: unknown): value is Record<PropertyKey, any> {
  return value !== null && typeof value === 'object';
}
