import { BadRequestException } from '@nestjs/common';

/** Thrown at start-up for an invalid option or an engine that cannot work as configured; the message names the option. */
export class SessionConfigError extends Error {
  override name = 'SessionConfigError';
}

/**
 * `session.delete(key)` / `session.pop(key)` of a key the session does not hold, as Python's
 * `del d[key]` raises `KeyError`.
 */
export class KeyError extends Error {
  override name = 'KeyError';
  constructor(readonly key: string) {
    super(`${JSON.stringify(key)} is not in the session`);
  }
}

/**
 * The session's row was deleted while the request ran (a logout in another tab, say), so its save
 * was refused rather than resurrecting it. Becomes HTTP 400, as Django's `SessionInterrupted`.
 */
export class SessionInterrupted extends BadRequestException {
  constructor() {
    super(
      "The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example.",
    );
    this.name = 'SessionInterrupted';
  }
}

/** Backend contract: `save(..., mustCreate = true)` found the key taken (Django's `CreateError`). */
export class CreateError extends Error {
  override name = 'CreateError';
}

/** Backend contract: `save(..., mustCreate = false)` found no row to update (Django's `UpdateError`). */
export class UpdateError extends Error {
  override name = 'UpdateError';
}

/**
 * The `signed_cookies` engine refused to save a session whose cookie would pass the 4096 bytes a
 * browser keeps: the browser would drop it silently and the visitor lose the session. Store less
 * in the session, or use an engine that keeps the data on the server.
 */
export class SessionCookieTooLarge extends Error {
  override name = 'SessionCookieTooLarge';
  constructor(readonly bytes: number) {
    super(`The session cookie would be ${bytes} bytes, more than the 4096 bytes browsers keep: store less in the session, or use a server-side engine`);
  }
}

/** Seconds a client is told to wait (`Retry-After`) when the session store cannot be reached. */
export const RETRY_AFTER_SECONDS = 5;

/** What the visitor reads then: nothing of the driver's. */
export const UNAVAILABLE_MESSAGE = 'The session store is unavailable. Try again shortly.';

/**
 * The session store could not be reached, or did not answer within `backendTimeout` (a Redis that
 * is down, a locked table, a lost database connection). Answered 503 with `Retry-After` by
 * `SessionModule`. The driver's own error, when there is one, is the `cause`; the message names
 * the operation and the error's class only — never a key (a session key is a credential), a
 * connection URL (it may carry a password) or the driver's words.
 */
export class SessionBackendUnavailable extends Error {
  override name = 'SessionBackendUnavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** @deprecated Renamed `SessionBackendUnavailable` ("store" is the session, "backend" its storage); the same class. */
export const SessionStoreUnavailable = SessionBackendUnavailable;
/** @deprecated Renamed `SessionBackendUnavailable`. */
export type SessionStoreUnavailable = SessionBackendUnavailable;
