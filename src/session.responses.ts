import { HttpException, Injectable, Logger } from '@nestjs/common';
import { SessionInterrupted, UpdateError } from './session.errors.js';
import { addVaryCookie, appendSetCookie, deletedSessionCookie, headersSent, makeCacheControlPrivate, sessionCookie } from './session.http.js';
import { changedInPlace, SessionRequests, type RequestSessionState } from './session.requests.js';
import type { SessionStore } from './session.store.js';
import type { CommitAtEnd } from './transports/transport.js';

const logger = new Logger('SessionInterceptor');

/**
 * The response phase of Django's `SessionMiddleware` (`process_response`): after the handler,
 * saves a modified session and sets or deletes the cookie by Django's rules. Run by
 * `SessionInterceptor` after a handler, at the response's end where no interceptor ran (see
 * `commitAtEnd`), and by `SessionExceptionFilter` when a guard refused the request. Below the
 * interceptor and the transports: nothing here knows how a session was opened.
 */
@Injectable()
export class SessionResponses {
  constructor(private readonly requests: SessionRequests) {}

  /** Django's `SessionMiddleware.process_response`: saves the session and sets or deletes its cookie, by the response's status. */
  async commit(opened: RequestSessionState, response: any, status: number): Promise<void> {
    const { store, cookiePresent } = opened;
    if (opened.committed) return;
    opened.committed = true;
    if (store.hasPendingIO) await store.settle();
    const { options } = this.requests;
    const accessed = store.accessed;
    // Middleware using req.session (passport) changes nested values in place without saying so.
    const modified = store.modified || changedInPlace(opened);
    const empty = store.isEmpty();
    // 5xx: nothing is saved and no session cookie is set (the handler failed; its changes are not kept).
    const saves = (modified || options.saveEveryRequest) && !empty && status < 500;
    if (headersSent(response)) return this.commitAfterSend(opened, saves);
    let vary = accessed;
    if (cookiePresent && empty) {
      // The session was emptied (flush, or an unknown key): make the browser forget the cookie.
      // Django does this whatever the status: the row is gone either way.
      appendSetCookie(response, deletedSessionCookie(options));
      vary = true;
    } else if (saves) {
      const maxAge = store.getExpireAtBrowserClose() ? null : store.getExpiryAge();
      await saveOrInterrupted(store);
      appendSetCookie(response, sessionCookie(options, store.sessionKey!, maxAge));
      if (options.privateCacheControl) makeCacheControlPrivate(response);
      vary = true;
    } else if (options.touchAfter !== null && !empty && status < 500 && (await store.touchIfDue())) {
      // touchAfter: the stored expiry was extended without a save; the cookie's Max-Age follows it.
      appendSetCookie(response, sessionCookie(options, store.sessionKey!, store.getExpireAtBrowserClose() ? null : store.getExpiryAge()));
      if (options.privateCacheControl) makeCacheControlPrivate(response);
      vary = true;
    }
    if (vary) addVaryCookie(response);
  }

  /**
   * The handler sent the response itself (`@Res()` without `passthrough`): no header can be set
   * any more. A session the browser already has a cookie for is still saved; a new one is not
   * (nobody could ever send its key back), and that is logged rather than left as an orphan row.
   */
  private async commitAfterSend({ store }: RequestSessionState, saves: boolean): Promise<void> {
    if (!saves) return;
    if (store.sessionKey === null) {
      logger.warn('A new session was not saved: the handler sent the response itself (@Res()), so its cookie could not be set');
      return;
    }
    if (this.requests.backend.keyHoldsData) {
      // signed_cookies: the change would live only in a cookie that can no longer be sent.
      logger.warn('The session was not saved: the handler sent the response itself (@Res()), and this engine keeps the session in the cookie');
      return;
    }
    try {
      await store.save();
    } catch (error) {
      if (!(error instanceof UpdateError)) throw error;
      logger.warn(`The session was not saved: ${new SessionInterrupted().message}`);
    }
  }

  /**
   * The response phase at the response's end: for a response sent without the interceptor
   * (`requestSession`: a route without `@Session()`, a redirect made by middleware), and for a
   * GraphQL operation (whose resolvers' errors count with the HTTP status). Bound, so that the
   * transports can hold it.
   */
  readonly commitAtEnd: CommitAtEnd = (opened, response) => {
    const status = response?.statusCode;
    return this.commit(opened, response, Math.max(typeof status === 'number' ? status : 200, opened.failedStatus ?? 0));
  };

  /** The response phase for a request that failed before the handler (a guard refused). */
  commitAfterError(opened: RequestSessionState, response: any, error: unknown): Promise<void> {
    return this.commit(opened, response, statusOf(error));
  }
}

/**
 * Saves `store`; a session deleted meanwhile elsewhere (a logout, a flush: `UpdateError`) is
 * `SessionInterrupted` (400), as Django's middleware raises it. The response phase of every
 * transport saves this way.
 */
export async function saveOrInterrupted(store: SessionStore<any>): Promise<void> {
  try {
    await store.save();
  } catch (error) {
    if (error instanceof UpdateError) throw new SessionInterrupted();
    throw error;
  }
}

/** The status an error answers with: an `HttpException`'s own, else 500. */
export function statusOf(error: unknown): number {
  return error instanceof HttpException ? error.getStatus() : 500;
}
