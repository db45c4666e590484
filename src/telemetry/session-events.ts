/**
 * The moments of a session and of Django's login that `SessionModule` sends as events (Django's
 * signals): their names, and what each one carries. No event carries a secret, a password or a
 * whole session key (a key is a login credential): a key is shown by its first characters only
 * (`sessionKeyHint`, `'2b1189a1…'`, as printing a session shows it).
 */

/** The events' names, for `@OnEvent(SESSION_EVENTS.userLoggedIn)` (`@nestjs/event-emitter`). */
export const SESSION_EVENTS = {
  /** Django's `user_logged_in`: `login()` recorded a user on a session. */
  userLoggedIn: 'django.user_logged_in',
  /** Django's `user_logged_out`: `logout()` is ending a session (sent before the flush, as Django does). */
  userLoggedOut: 'django.user_logged_out',
  /** Django's `user_login_failed`: `userLoginFailed()` reported credentials that logged nobody in. */
  userLoginFailed: 'django.user_login_failed',
  /** A session got its first key: saved for the first time (`save()`, the end of a request, `cycleKey()` of a keyless one). */
  created: 'session.created',
  /** A session's data moved to a new key, the old row deleted (`cycleKey()`: `login()`, `updateSessionAuthHash()`). */
  keyCycled: 'session.key_cycled',
  /** A session was ended: data cleared, row deleted (`flush()`: `logout()`, another user's `login()`, a password change seen by `getUser()`). */
  flushed: 'session.flushed',
  /** Stored session data that does not verify or cannot be read (Django's `SuspiciousSession`, "Session data corrupted"). */
  suspicious: 'session.suspicious',
  /** The session store could not be reached or did not answer in time: the request is answered 503 (over HTTP). */
  storeUnavailable: 'session.store_unavailable',
} as const;

/** One of `SESSION_EVENTS`' names. */
export type SessionEventName = (typeof SESSION_EVENTS)[keyof typeof SESSION_EVENTS];

/** What every event carries. */
export interface SessionEventBase {
  /** The configured engine's name (`'db'`, `'cache'`...; an app's engine class name). */
  readonly engine: string;
}

/** `django.user_logged_in` (Django's `user_logged_in`, whose `user` is here its primary key). */
export interface UserLoggedInEvent extends SessionEventBase {
  /** `_auth_user_id`: the user's primary key as Django stores it (a string). */
  readonly userId: string;
  /** `_auth_user_backend`. */
  readonly backend: string;
  /** The first characters of the session's key; null when the key is given when the session is saved (after a flush). */
  readonly sessionKeyHint: string | null;
}

/** `django.user_logged_out` (Django's `user_logged_out`; `userId` null for an anonymous session, as Django's `user` is None). */
export interface UserLoggedOutEvent extends SessionEventBase {
  readonly userId: string | null;
  /** The first characters of the key of the session being ended. */
  readonly sessionKeyHint: string | null;
}

/** `django.user_login_failed` (Django's `user_login_failed`). */
export interface UserLoginFailedEvent extends SessionEventBase {
  /**
   * The credentials tried, cleansed as Django's `_clean_credentials()` does: the value of every
   * key containing `api`, `token`, `key`, `secret`, `pass`, `pwd`, `signature` or `cookie` (any
   * case) is `'********************'`.
   */
  readonly credentials: Readonly<Record<string, unknown>>;
  readonly sessionKeyHint: string | null;
}

/** `session.created`. */
export interface SessionCreatedEvent extends SessionEventBase {
  readonly sessionKeyHint: string;
}

/** `session.key_cycled`. */
export interface SessionKeyCycledEvent extends SessionEventBase {
  readonly previousKeyHint: string;
  readonly sessionKeyHint: string;
}

/** `session.flushed`. */
export interface SessionFlushedEvent extends SessionEventBase {
  /** The first characters of the ended session's key; null when it had none (never saved). */
  readonly sessionKeyHint: string | null;
}

/** `session.suspicious`. */
export interface SessionSuspiciousEvent extends SessionEventBase {
  /** What the security log says (`'Session data corrupted'`, with the reason when there is one). */
  readonly reason: string;
}

/** `session.store_unavailable`. */
export interface SessionStoreUnavailableEvent extends SessionEventBase {
  /** `SessionBackendUnavailable`'s message: the operation and the error's class, never a key, a URL or the driver's words. */
  readonly message: string;
  /** The transport whose request met it: `'http'` (answered 503), `'ws'`, `'rpc'`, `'graphql'`. */
  readonly transport: string;
}

/** Each event's payload, by name. */
export interface SessionEventPayloads {
  'django.user_logged_in': UserLoggedInEvent;
  'django.user_logged_out': UserLoggedOutEvent;
  'django.user_login_failed': UserLoginFailedEvent;
  'session.created': SessionCreatedEvent;
  'session.key_cycled': SessionKeyCycledEvent;
  'session.flushed': SessionFlushedEvent;
  'session.suspicious': SessionSuspiciousEvent;
  'session.store_unavailable': SessionStoreUnavailableEvent;
}
