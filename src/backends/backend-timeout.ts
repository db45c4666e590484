import { SessionBackendUnavailable } from '../session.errors.js';

/** The `backendTimeout` option's default, in seconds: how long one statement or command may take. */
export const DEFAULT_BACKEND_TIMEOUT_SECONDS = 3;

/**
 * What the engines say when their store did not answer within `backendTimeout`: "The session
 * database did not answer load within 3000 ms".
 */
export function backendTimeoutError(store: string, what: string, ms: number): SessionBackendUnavailable {
  return markBackendTimeout(new SessionBackendUnavailable(`The ${store} did not answer ${what} within ${ms} ms`));
}

const timeouts = new WeakSet<object>();

/** Marks `error` as a store that did not answer in time (`isBackendTimeout()`); returns it. */
export function markBackendTimeout<E extends object>(error: E): E {
  timeouts.add(error);
  return error;
}

/** Whether `error` is the one `backendTimeoutError()` made: the store did not answer in time (telemetry's outcome `'timeout'`). */
export function isBackendTimeout(error: unknown): boolean {
  return typeof error === 'object' && error !== null && timeouts.has(error);
}

/**
 * `operation`, or a `SessionBackendUnavailable` (503 with `Retry-After`) once `ms` have passed: a
 * store that does not answer (a locked table, a hung network mount, libuv's thread pool held by
 * something else) is a request answered at once, never one that waits. The operation itself goes
 * on; a late failure of it is consumed by the race, never unhandled.
 */
export function withinBackendTimeout<T>(operation: Promise<T>, ms: number, store: string, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(backendTimeoutError(store, what, ms)), ms);
  });
  return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
}
