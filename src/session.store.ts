import { inspect, type InspectOptions } from 'node:util';
import { Logger } from '@nestjs/common';
import { SessionBackend, type SessionExpiry, type StoredExpiry } from './backends/session-backend.js';
import { assertJsonValue } from './codec/session-codec.js';
import { EXPIRY_KEY, sessionExpiry } from './django-dates.js';
import { KeyError, UpdateError } from './session.errors.js';
import type { ResolvedSessionOptions } from './session-options.interface.js';
import { MAX_EXPIRY_SECONDS } from './session-options.js';
import { signalsFor } from './telemetry/session-signals.js';

/** What every `SessionStore` of a module shares: its options and its engine. */
export interface SessionStoreContext {
  readonly options: ResolvedSessionOptions;
  readonly backend: SessionBackend;
}

/**
 * The app's session data, declared once (declaration merging, as express-session's `SessionData`):
 * every `SessionStore` (`@Session() session: SessionStore`, `forContext()`, `load()`) is then
 * typed by it, `get(key, default)` included.
 *
 * @example
 * ```ts
 * declare module 'nestjs-django-session' {
 *   interface SessionData {
 *     cart: Record<string, number>;
 *     member_id: number;
 *   }
 * }
 * // then: session.get('cart', {}) is Record<string, number>; session.set('member_id', 'x') does not compile
 * ```
 *
 * While an app declares no key, a session holds any JSON value under any string key.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SessionData {}

/** What a `SessionStore` holds unless told otherwise: the app's `SessionData`, or any key while it declares none. */
export type AppSessionData = keyof SessionData extends never ? Record<string, any> : SessionData;

const TEST_COOKIE_NAME = 'testcookie';
const TEST_COOKIE_VALUE = 'worked';

const logger = new Logger('SessionStore');

/** Each session's module options, for `moduleOptionsOf()`. */
const moduleOptions = new WeakMap<SessionStore<any>, ResolvedSessionOptions>();

/**
 * @internal The options of the `SessionModule` a session comes from (its `secretKey` is Django's
 * `SECRET_KEY`), for what works on a session in Django's terms (`login()`, `getUser()`); undefined
 * for anything else. Not exported from the package.
 */
export function moduleOptionsOf(session: unknown): ResolvedSessionOptions | undefined {
  return typeof session === 'object' && session !== null ? moduleOptions.get(session as SessionStore<any>) : undefined;
}

let engineOfSession: (session: SessionStore<any>) => SessionBackend;

/** @internal The engine a session is stored by (whose signals `login()` sends to); undefined for anything but a `SessionStore`. */
export function engineOf(session: unknown): SessionBackend | undefined {
  return session instanceof SessionStore ? engineOfSession(session) : undefined;
}

/**
 * The per-request session: a dictionary-like object, as Django's `request.session` (the
 * object Django calls `SessionStore`; where it is stored is the engine's business, see
 * `SessionBackend`).
 *
 * Python's operators map to methods (`session['k']` → `get('k')`, `del session['k']` →
 * `delete('k')`, `'k' in session` → `has('k')`). Reads are synchronous: the row is fetched before
 * your handler runs. `flush()`, `cycleKey()` and `save()` do I/O and return promises.
 *
 * @example
 * ```ts
 * @Post('comment')
 * postComment(@Session() session: SessionStore<{ has_commented: boolean }>) {
 *   if (session.get('has_commented', false)) return "You've already commented.";
 *   session.set('has_commented', true);
 *   return 'Thanks for your comment!';
 * }
 * ```
 */
export class SessionStore<T extends object = AppSessionData> {
  static {
    engineOfSession = (session) => session.context.backend;
  }

  /** Django's `_session_key`: the cookie's key until the data is looked at, then the live key or null. */
  #key: string | null;
  /** Django's `_session_cache`: null until first looked at. */
  #cache: Map<string, unknown> | null = null;
  /** What was read from storage for `#key` before the handler ran; applied on first look. */
  #loaded: ReadonlyMap<string, unknown> | null;
  #modified = false;
  #accessed = false;
  /** I/O started by flush()/cycleKey(), awaited before the response (so a forgotten `await` is safe). */
  #pending: Promise<void> | null = null;
  #pendingError: unknown = undefined;
  /** `touchAfter`: when the loaded session's stored expiry was last set, as its engine noted it. */
  #storedExpiry: StoredExpiry | undefined;

  /** @internal Use `@Session()`, `SessionService.load()` or `SessionService.create()`. */
  constructor(
    private readonly context: SessionStoreContext,
    sessionKey: string | null,
    loaded: ReadonlyMap<string, unknown> | null,
  ) {
    this.#key = context.backend.isValidKey(sessionKey) ? sessionKey : null;
    this.#loaded = this.#key === null ? null : loaded;
    if (this.#loaded !== null && context.options.touchAfter !== null) this.#storedExpiry = SessionBackend.storedExpiryOf(this.#loaded);
    moduleOptions.set(this, context.options);
  }

  // ---- flags -------------------------------------------------------------------------------

  /**
   * Whether the data was changed through this object (then it is saved at the end of the request).
   * Set it to `true` after mutating a nested value in place, which cannot be seen:
   * `session.get('cart').items.push(x); session.modified = true;`
   */
  get modified(): boolean {
    return this.#modified;
  }
  set modified(value: boolean) {
    this.#modified = Boolean(value);
  }

  /** Whether the data was read or written (then the response gets `Vary: Cookie`). */
  get accessed(): boolean {
    return this.#accessed;
  }

  /** The session's key: `null` for a new session until it is saved. Read-only. */
  get sessionKey(): string | null {
    this.#applyLoaded();
    return this.#key;
  }

  /** Django's `_get_session()`: the data, loading it on first use, and marks the session accessed. */
  #session(): Map<string, unknown> {
    this.#accessed = true;
    if (this.#cache === null) this.#applyLoaded();
    return this.#cache!;
  }

  #applyLoaded(): void {
    if (this.#cache !== null) return;
    if (this.#key === null) {
      this.#cache = new Map();
      return;
    }
    const loaded = this.#loaded;
    this.#loaded = null;
    if (loaded === null) {
      // Unknown or expired key: never reuse a client-supplied key (session fixation), so the next
      // save creates a new one — Django's `load()` does `self._session_key = None`.
      this.#key = null;
      this.#cache = new Map();
    } else {
      // Data signed with a fallback key or in a legacy format is re-signed with the current key
      // whenever it is next saved, as in Django: encode() always signs with secretKey.
      this.#cache = new Map(loaded);
    }
  }

  /** This session, for the framework's own keys (`_session_expiry`, the test cookie), whatever the app's `SessionData` declares. */
  get #anyKey(): SessionStore<Record<string, any>> {
    return this as unknown as SessionStore<Record<string, any>>;
  }

  // ---- the dictionary ----------------------------------------------------------------------

  /** `session.get(key, default)`: the value, or `defaultValue` (else `undefined`) when absent. */
  get<K extends keyof T & string>(key: K): T[K] | undefined;
  get<K extends keyof T & string>(key: K, defaultValue: T[K]): T[K];
  get<K extends keyof T & string, D>(key: K, defaultValue: D): T[K] | D;
  get(key: string, defaultValue?: unknown): unknown {
    const data = this.#session();
    return data.has(key) ? data.get(key) : defaultValue;
  }

  /** `session[key] = value`. Only JSON values can be stored (a `TypeError` says which part is not). */
  set<K extends keyof T & string>(key: K, value: T[K]): this {
    assertKey(key);
    assertJsonValue(value, key);
    this.#session().set(key, value);
    this.#modified = true;
    return this;
  }

  /** `key in session`. */
  has(key: keyof T & string): boolean {
    return this.#session().has(key);
  }

  /** `del session[key]`: throws `KeyError` when the key is absent. */
  delete(key: keyof T & string): void {
    const data = this.#session();
    if (!data.has(key)) throw new KeyError(key);
    data.delete(key);
    this.#modified = true;
  }

  /** The keys, in insertion order. */
  keys(): Array<keyof T & string> {
    return [...this.#session().keys()] as Array<keyof T & string>;
  }

  /** The values, in key order. */
  values(): Array<T[keyof T]> {
    return [...this.#session().values()] as Array<T[keyof T]>;
  }

  /** `[key, value]` pairs, in key order. */
  items(): Array<[keyof T & string, T[keyof T]]> {
    return [...this.#session().entries()] as Array<[keyof T & string, T[keyof T]]>;
  }

  /**
   * Removes `key` and returns its value; when absent returns `defaultValue`, or throws `KeyError` if
   * no default was passed (Python's `dict.pop`).
   */
  pop<K extends keyof T & string>(key: K): T[K];
  pop<K extends keyof T & string>(key: K, defaultValue: T[K]): T[K];
  pop<K extends keyof T & string, D>(key: K, defaultValue: D): T[K] | D;
  pop(key: string, ...rest: [unknown?]): unknown {
    const data = this.#session();
    if (data.has(key)) {
      const value = data.get(key);
      data.delete(key);
      this.#modified = true;
      return value;
    }
    if (rest.length === 0) throw new KeyError(key);
    return rest[0];
  }

  /** The value of `key`; when absent, stores `value` and returns it (`dict.setdefault`). */
  setDefault<K extends keyof T & string>(key: K, value: T[K]): T[K] {
    const data = this.#session();
    if (data.has(key)) return data.get(key) as T[K];
    this.set(key, value);
    return value;
  }

  /** Stores every entry of `values` (`dict.update`); marks the session modified even when empty. */
  update(values: Partial<T>): void {
    if (values === null || typeof values !== 'object' || Array.isArray(values)) {
      throw new TypeError('session.update() takes a plain object of values');
    }
    const entries = Object.entries(values);
    for (const [key, value] of entries) {
      assertKey(key);
      assertJsonValue(value, key);
    }
    const data = this.#session();
    for (const [key, value] of entries) data.set(key, value);
    this.#modified = true;
  }

  /** Removes every key (the key and row stay; use `flush()` to end the session). */
  clear(): void {
    // Django's clear() skips loading; we apply what was loaded first, so an unknown cookie key is
    // dropped rather than kept for an UPDATE that would find no row.
    this.#applyLoaded();
    this.#cache = new Map();
    this.#accessed = true;
    this.#modified = true;
  }

  /** True when the session has neither a key nor data (Django's `is_empty()`); does not mark it accessed. */
  isEmpty(): boolean {
    return this.#key === null && (this.#cache === null || this.#cache.size === 0);
  }

  // ---- the session's life ------------------------------------------------------------------

  /**
   * Ends the session: clears the data, deletes the stored row and forgets the key; the cookie is
   * removed in the response (logout). The row is deleted right away; awaiting is optional in a
   * handler (the response waits for it) and needed elsewhere.
   */
  flush(): Promise<void> {
    this.clear();
    const oldKey = this.#key;
    this.#key = null;
    return this.#track(async () => {
      if (oldKey !== null) await this.context.backend.delete(oldKey);
      signalsFor(this.context.backend)?.emit('session.flushed', { engine: this.context.backend.engineName, sessionKeyHint: sessionKeyHint(oldKey) });
    });
  }

  /**
   * Keeps the data under a new key and deletes the old row. Call it on login, against session
   * fixation (Django's `cycle_key()`; `django.contrib.auth.login` does it).
   */
  cycleKey(): Promise<void> {
    const data = this.#session();
    const oldKey = this.#key;
    return this.#track(async () => {
      this.#cache = data;
      await this.#create();
      if (oldKey !== null) await this.context.backend.delete(oldKey);
      this.#signalNewKey(oldKey);
    });
  }

  /**
   * Reads the session again from storage, dropping unsaved changes (express-session's `reload()`,
   * for `req.session`); a session no longer stored becomes empty and keyless.
   */
  async reload(): Promise<void> {
    await this.settle();
    this.#applyLoaded();
    const data = this.#key === null ? null : await this.context.backend.load(this.#key);
    if (data === null) this.#key = null;
    this.#cache = new Map(data ?? []);
    this.#modified = false;
  }

  /**
   * Writes the session now: a new row (and key) when it has none, else an update that throws
   * `UpdateError` if the row was deleted meanwhile. In a handler you never need this: the session
   * is saved after the handler when modified. Use it with `SessionService.load()`/`create()`.
   */
  async save(): Promise<void> {
    await this.settle();
    this.#applyLoaded();
    if (this.#key === null) {
      await this.#create();
      this.#signalNewKey(null);
      return;
    }
    this.#key = await this.context.backend.save(this.#key, this.#data(), this.#expiry(), false);
  }

  /**
   * @internal The `touchAfter` option, in the response phase of a request that leaves the session
   * unchanged: when the loaded session's stored expiry was last set more than `touchAfter` seconds
   * ago, extends it (`SessionBackend.touch`: no data written where the engine can help it) and
   * resolves true; the caller then sends the cookie again. False, and no I/O, for a session not
   * loaded from storage (new, unknown, or its engine noted no expiry), one whose expiry is a fixed
   * date (`setExpiry(date)` in Django 4.1+'s ISO form: extending cannot move it), one modified or
   * flushed here, or one refreshed recently. A session deleted meanwhile (`UpdateError`) is left
   * alone: false.
   */
  async touchIfDue(): Promise<boolean> {
    const stored = this.#storedExpiry;
    const { touchAfter, cookieAge } = this.context.options;
    if (stored === undefined || typeof touchAfter !== 'number' || this.#modified || this.#pending !== null) return false;
    this.#applyLoaded();
    if (this.#key === null || this.#cache === null) return false;
    const { date, seconds } = sessionExpiry(this.#cache.get(EXPIRY_KEY), cookieAge, warnUnreadableExpiry);
    if (date !== null) return false;
    const setAt = 'writtenAt' in stored ? stored.writtenAt : stored.expiresAt - seconds * 1000;
    if (Date.now() - setAt < touchAfter * 1000) return false;
    // Touched once per request at most: a second response phase (a stream of values) finds it done.
    this.#storedExpiry = undefined;
    try {
      this.#key = await this.context.backend.touch(this.#key, this.#cache, this.#expiry());
    } catch (error) {
      if (error instanceof UpdateError) return false;
      throw error;
    }
    return true;
  }

  /** Django's `create()`: stored under a new key (the engine retries a taken one). */
  async #create(): Promise<void> {
    this.#key = null;
    this.#key = await this.context.backend.create(this.#data(), this.#expiry());
    this.#modified = true;
  }

  /** `session.created` (the session had no key) or `session.key_cycled`, when anything listens. */
  #signalNewKey(oldKey: string | null): void {
    const signals = signalsFor(this.context.backend);
    if (signals === undefined || this.#key === null) return;
    const engine = this.context.backend.engineName;
    if (oldKey === null) signals.emit('session.created', { engine, sessionKeyHint: sessionKeyHint(this.#key)! });
    else signals.emit('session.key_cycled', { engine, previousKeyHint: sessionKeyHint(oldKey)!, sessionKeyHint: sessionKeyHint(this.#key)! });
  }

  #data(): ReadonlyMap<string, unknown> {
    // Kept as a Map: written in insertion order, as Django writes a dict.
    return this.#cache ?? new Map();
  }

  #expiry(): SessionExpiry {
    return { date: this.getExpiryDate(), age: this.getExpiryAge() };
  }

  #track(io: () => Promise<void>): Promise<void> {
    const previous = this.#pending ?? Promise.resolve();
    const run = previous.then(io);
    // The tracked copy swallows the error so an un-awaited flush() can't crash the process with an
    // unhandled rejection; settle() rethrows it before the response.
    this.#pending = run.then(
      () => undefined,
      (error: unknown) => {
        this.#pendingError ??= error;
      },
    );
    return run;
  }

  /** @internal Whether I/O started by flush()/cycleKey() may still be running (`settle()` waits for it). */
  get hasPendingIO(): boolean {
    return this.#pending !== null;
  }

  /** @internal Waits for I/O started by flush()/cycleKey(); rethrows its error. */
  async settle(): Promise<void> {
    if (this.#pending === null) return;
    await this.#pending;
    this.#pending = null;
    const error = this.#pendingError;
    this.#pendingError = undefined;
    if (error !== undefined) throw error;
  }

  // ---- expiry ------------------------------------------------------------------------------

  /**
   * Sets when the session expires: a number of seconds of inactivity (`0` = when the browser
   * closes), a `Date`, or `null` to return to the global policy (`cookieAge`,
   * `expireAtBrowserClose`). A `Date` is stored as whole seconds from now, the form every Django
   * version reads (Django 3.2 cannot read the ISO dates Django 5 writes), so like any number it
   * counts from the session's last save.
   */
  setExpiry(value: number | Date | null): void {
    if (value === null || value === undefined) {
      const data = this.#session();
      if (data.has(EXPIRY_KEY)) {
        data.delete(EXPIRY_KEY);
        this.#modified = true;
      }
      return;
    }
    let seconds: number;
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) throw new TypeError('session.setExpiry() got an invalid Date');
      seconds = Math.round((value.getTime() - Date.now()) / 1000);
    } else if (typeof value === 'number' && Number.isFinite(value)) {
      seconds = value;
    } else {
      throw new TypeError(`session.setExpiry() takes seconds, a Date or null, got ${String(value)}`);
    }
    if (Math.abs(seconds) > MAX_EXPIRY_SECONDS) {
      throw new RangeError(`session.setExpiry() got an expiry ${seconds} s away; at most ${MAX_EXPIRY_SECONDS} s (100 years) either way`);
    }
    this.#session().set(EXPIRY_KEY, seconds);
    this.#modified = true;
  }

  /** Seconds until the session expires, counted from now (from the save, when saved now). */
  getExpiryAge(): number {
    const { date, seconds } = sessionExpiry(this.#anyKey.get(EXPIRY_KEY), this.context.options.cookieAge, warnUnreadableExpiry);
    return date === null ? seconds : Math.floor((date - Date.now()) / 1000);
  }

  /** The date the session expires, if saved now. */
  getExpiryDate(): Date {
    const { date, seconds } = sessionExpiry(this.#anyKey.get(EXPIRY_KEY), this.context.options.cookieAge, warnUnreadableExpiry);
    return new Date(date ?? Date.now() + seconds * 1000);
  }

  /** Whether the cookie lasts only until the browser closes. */
  getExpireAtBrowserClose(): boolean {
    const expiry = this.#anyKey.get(EXPIRY_KEY);
    if (expiry === undefined || expiry === null) return this.context.options.expireAtBrowserClose;
    return expiry === 0;
  }

  // ---- test cookie -------------------------------------------------------------------------

  /** Sets a test value; on a later request `testCookieWorked()` tells whether the browser keeps cookies. */
  setTestCookie(): void {
    this.#anyKey.set(TEST_COOKIE_NAME, TEST_COOKIE_VALUE);
  }

  /** Whether the test value set by `setTestCookie()` on an earlier request came back. */
  testCookieWorked(): boolean {
    return this.#anyKey.get(TEST_COOKIE_NAME) === TEST_COOKIE_VALUE;
  }

  /** Removes the test value (throws `KeyError` if it was not set, as Django). */
  deleteTestCookie(): void {
    this.#anyKey.delete(TEST_COOKIE_NAME);
  }

  /**
   * What `console.log(session)` / `util.inspect` / Nest's `Logger` show: the first characters of
   * the key (the whole key is a login credential: a log line must not hand it out), the flags and
   * the data (the visitor's own), never the module's secrets. Does not mark the session accessed.
   */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    // Read without applying what was loaded: printing must not change what the response does.
    const data = Object.fromEntries(this.#cache ?? this.#loaded ?? []);
    const shown = { sessionKey: sessionKeyHint(this.#key), modified: this.#modified, accessed: this.#accessed, data };
    return `SessionStore ${inspect(shown, options)}`;
  }

  /** A plain copy of the data (for logging or a JSON response). */
  toJSON(): Partial<T> {
    return Object.fromEntries(this.#cache ?? (this.#applyLoaded(), this.#cache!)) as Partial<T>;
  }
}

/** Characters of a session key that printing shows: enough to tell sessions apart in a log, too few to use. */
const KEY_HINT_LENGTH = 8;

/** What may be shown of a session key (`'2b1189a1…'`): its first characters, never the whole credential. */
export function sessionKeyHint(key: string | null): string | null {
  return key === null ? null : `${key.slice(0, KEY_HINT_LENGTH)}…`;
}

function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new TypeError(`session keys must be strings, got ${typeof key}`);
}

/** A `_session_expiry` date string that does not parse: logged, and read as no expiry. */
function warnUnreadableExpiry(value: string): void {
  logger.warn(`Ignoring an unreadable _session_expiry ${JSON.stringify(value)}`);
}
