/**
 * Where sessions are stored: Django's `SessionBase` storage methods, name for name, promises only.
 * A backend deals in encoded `session_data` strings and absolute expiry dates; all dictionary logic,
 * signing and expiry policy live in `SessionStore` / `SessionService`.
 */
export interface SessionBackend {
  /** The `session_data` of the live row for `sessionKey`, or `null` when there is none or it has expired. */
  load(sessionKey: string): Promise<string | null>;
  /** Whether a row exists for `sessionKey`, expired or not (Django's `exists`). */
  exists(sessionKey: string): Promise<boolean>;
  /**
   * Writes the row. `mustCreate`: INSERT, throwing `CreateError` when the key is taken; otherwise
   * UPDATE, throwing `UpdateError` when the row is gone (never re-creating it).
   */
  save(sessionKey: string, sessionData: string, expireDate: Date, mustCreate: boolean): Promise<void>;
  /** Deletes the row; a missing row is not an error. */
  delete(sessionKey: string): Promise<void>;
  /** Deletes every row whose expiry date has passed; returns how many. */
  clearExpired(): Promise<number>;
}
