import { SessionStoreUnavailable } from '../session.errors.js';

/**
 * What the engines say when their store did not answer within `storeTimeout`: "The session
 * database did not answer load within 3000 ms".
 */
export function storeTimeoutError(store: string, what: string, ms: number): SessionStoreUnavailable {
  return new SessionStoreUnavailable(`The ${store} did not answer ${what} within ${ms} ms`);
}

/**
 * `operation`, or a `SessionStoreUnavailable` (503 with `Retry-After`) once `ms` have passed: a
 * store that does not answer (a locked table, a hung network mount, libuv's thread pool held by
 * something else) is a request answered at once, never one that waits. The operation itself goes
 * on; a late failure of it is consumed by the race, never unhandled.
 */
export function withinStoreTimeout<T>(operation: Promise<T>, ms: number, store: string, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(storeTimeoutError(store, what, ms)), ms);
  });
  return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
}
