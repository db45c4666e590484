import { inspect } from 'node:util';
import { randomInt } from 'node:crypto';
import { CreateError } from '../session.errors.js';

/** A session's data as storage holds it: Python's dict, so keys keep their insertion order. */
export type SessionMap = Map<string, unknown>;

/** When a session being saved expires, in the two forms engines store it. */
export interface SessionExpiry {
  /** The instant (the db engine's `expire_date`). */
  readonly date: Date;
  /** Seconds from now until then (a cache entry's TTL; Django's `get_expiry_age()`). */
  readonly age: number;
}

/**
 * When a loaded session's stored expiry was last set, as its engine knows it without another read:
 * the instant it expires (the db engine's `expire_date`, a cache entry's TTL) or the instant it was
 * written (a session file's modification time, a signed cookie's timestamp). What the `touchAfter`
 * option compares with (see docs/idle-expiry.md). Milliseconds since the epoch.
 */
export type StoredExpiry = { readonly expiresAt: number } | { readonly writtenAt: number };

/** The stored expiry of each map `load()` returned, noted by engines that track it (`tracksStoredExpiry`). */
const storedExpiries = new WeakMap<object, StoredExpiry>();

const KEY_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';
const VALID_KEY = /^[a-z0-9]{8,40}$/;
const CREATE_ATTEMPTS = 10;

/**
 * Whether `value` can be a session key: `[a-z0-9]`, 8 to 40 characters. Django checks only the
 * length (`len >= 8`); keys it makes are 32 of these characters, so anything else is junk or an
 * attack and is dropped without a query.
 */
export function isValidSessionKey(value: unknown): value is string {
  return typeof value === 'string' && VALID_KEY.test(value);
}

/** A new 32-character key from `[a-z0-9]`, uniform and cryptographically random (`get_random_string(32)`). */
export function newSessionKey(): string {
  let key = '';
  for (let i = 0; i < 32; i++) key += KEY_CHARS[randomInt(KEY_CHARS.length)];
  return key;
}

/**
 * Where sessions are stored: Django's `SessionBase` storage methods, name for name, promises only
 * — the contract of every engine (Django's `SESSION_ENGINE`). Also the DI token of the configured
 * engine: `@Inject(SessionBackend)`.
 *
 * An engine deals in the session's dict (a `Map`, in key order) and stores it in its own form:
 * signed `session_data` (db, file), the dict serialized by the cache (cache), the cookie value
 * itself (signed_cookies). The dictionary logic and the expiry policy stay in `SessionStore`.
 *
 * A new engine is one file: a subclass with a static `fromContext(context)`, registered by one
 * line in ./engines.ts. An app may also pass its own subclass (or an instance) as the `engine`
 * option; Nest then creates it with its dependencies injected and calls its lifecycle hooks.
 *
 * @example
 * ```ts
 * class MemoryBackend extends SessionBackend {
 *   readonly rows = new Map<string, { data: SessionMap; expires: number }>();
 *   async load(key: string) { const row = this.rows.get(key); return row && row.expires > Date.now() ? new Map(row.data) : null; }
 *   async exists(key: string) { return this.rows.has(key); }
 *   async save(key: string, data: ReadonlyMap<string, unknown>, expiry: SessionExpiry, mustCreate: boolean) {
 *     if (mustCreate && this.rows.has(key)) throw new CreateError(key);
 *     if (!mustCreate && !this.rows.has(key)) throw new UpdateError(key);
 *     this.rows.set(key, { data: new Map(data), expires: expiry.date.getTime() });
 *     return key;
 *   }
 *   async delete(key: string) { this.rows.delete(key); }
 *   async clearExpired() { let n = 0; for (const [k, r] of this.rows) if (r.expires <= Date.now()) n += Number(this.rows.delete(k)); return n; }
 * }
 * SessionModule.forRoot({ secretKey, engine: MemoryBackend });
 * ```
 */
export abstract class SessionBackend {
  /** What printing an engine shows: its name, never its connections (a client may hold a password). */
  [inspect.custom](): string {
    return `${this.constructor.name} { engine: '${this.engineName}' }`;
  }

  /** The engine's name as the `engine` option spells it (`'db'`, `'cache'`...), for messages. */
  readonly engineName: string = this.constructor.name;

  /**
   * Whether the engine keeps sessions that outlive their expiry until swept (`clearExpired()`).
   * False where the store expires them itself (a cache's TTL, a cookie's age): Django's
   * `clear_expired()` is then a no-op, and so is ours (it returns 0).
   */
  readonly sweepsExpired: boolean = true;

  /**
   * Whether the key *is* the data (signed cookies): every save makes a new key, which only a
   * `Set-Cookie` can carry, so a session can be saved only while the response's headers can be set.
   */
  readonly keyHoldsData: boolean = false;

  /**
   * Whether `load()` notes, for each session it returns, when its stored expiry was last set
   * (`SessionBackend.noteStoredExpiry`): what the `touchAfter` option needs. The built-in engines
   * set it from that option (`fromContext`), so that nothing extra runs when it is off; the cache
   * engines then send a `PTTL` beside the read. An engine of the app's own that never notes an
   * expiry still works: its sessions are simply never touched (only saved).
   */
  tracksStoredExpiry = false;

  /** Notes when the session `data` (as `load()` returns it) was last given its stored expiry; returns `data`. */
  static noteStoredExpiry<M extends ReadonlyMap<string, unknown>>(data: M, expiry: StoredExpiry): M {
    storedExpiries.set(data, expiry);
    return data;
  }

  /** What `noteStoredExpiry` noted for the map `load()` returned, if anything. */
  static storedExpiryOf(data: ReadonlyMap<string, unknown>): StoredExpiry | undefined {
    return storedExpiries.get(data);
  }

  /**
   * Whether `key` (a cookie value) can name a session of this engine. Checked before any I/O: a
   * request whose cookie fails it costs no query.
   */
  isValidKey(key: unknown): key is string {
    return isValidSessionKey(key);
  }

  /** The data of the live session named `key`, or `null` when there is none (unknown, expired). Data that does not verify is an empty map, as in Django. */
  abstract load(key: string): Promise<SessionMap | null>;

  /** Whether a session is stored under `key` (Django's `exists()`; expired ones may count). */
  abstract exists(key: string): Promise<boolean>;

  /**
   * Stores `data` under `key`. `mustCreate`: only if nothing is stored there (else `CreateError`);
   * otherwise only if something still is (else `UpdateError`: never re-create a session deleted
   * meanwhile). Resolves to the key that now names the session: `key`, except on engines whose
   * key *is* the data (signed cookies).
   */
  abstract save(key: string, data: ReadonlyMap<string, unknown>, expiry: SessionExpiry, mustCreate: boolean): Promise<string>;

  /**
   * Extends the stored expiry of the unchanged session `key` to `expiry`, as cheaply as the engine
   * can, in the form Django reads (the `touchAfter` option): the db engine updates `expire_date`
   * alone, the cache engine sends `EXPIRE`, cached_db both, the file engine sets the file's
   * modification time, signed_cookies re-signs the cookie. Resolves to the key that now names the
   * session (a new one on engines whose key is the data); `UpdateError` when nothing is stored
   * under `key` any more. This default writes the whole session again (`save`), which is what an
   * engine without a cheaper way does.
   */
  touch(key: string, data: ReadonlyMap<string, unknown>, expiry: SessionExpiry): Promise<string> {
    return this.save(key, data, expiry, false);
  }

  /** Deletes the session stored under `key`; a missing one is not an error. */
  abstract delete(key: string): Promise<void>;

  /** Deletes every stored session whose expiry has passed (`clearsessions`); resolves to how many. */
  abstract clearExpired(): Promise<number>;

  /**
   * Resolves when the store answers (a health check): one real lookup of a key that cannot
   * exist. Rejects with the store's error otherwise. Engines without a store resolve at once.
   */
  async ping(): Promise<void> {
    await this.exists(this.newKey());
  }

  /** A new key for a session (Django's `_get_new_session_key()`). */
  newKey(): string {
    return newSessionKey();
  }

  /**
   * Stores `data` under a new key and resolves to it: Django's `create()`, which tries fresh keys
   * until one is free (gives up with `CreateError` after a few, which means a broken store).
   */
  async create(data: ReadonlyMap<string, unknown>, expiry: SessionExpiry): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.save(this.newKey(), data, expiry, true);
      } catch (error) {
        if (!(error instanceof CreateError) || attempt >= CREATE_ATTEMPTS) throw error;
      }
    }
  }
}
