/**
 * Options of `SessionModule.forRoot()`. Each field mirrors one Django setting (named in its doc);
 * every duration is in **seconds**, as in Django.
 */
export interface SessionModuleOptions {
  /** `SECRET_KEY`. Required: signs `session_data`. Must equal Django's to share the table. */
  secretKey: string;
  /** `SECRET_KEY_FALLBACKS`: old keys still accepted when reading; data is re-signed with `secretKey` on its next save. Default `[]`. */
  secretKeyFallbacks?: readonly string[];
  /** `SESSION_COOKIE_NAME`. Default `'sessionid'`. */
  cookieName?: string;
  /** `SESSION_COOKIE_AGE`, in seconds. Default `1209600` (two weeks). */
  cookieAge?: number;
  /** `SESSION_COOKIE_DOMAIN`. Default `null` (host-only cookie). */
  cookieDomain?: string | null;
  /** `SESSION_COOKIE_PATH`. Default `'/'`. */
  cookiePath?: string;
  /** `SESSION_COOKIE_SECURE`. Default `false`. */
  cookieSecure?: boolean;
  /** `SESSION_COOKIE_HTTPONLY`. Default `true`. */
  cookieHttpOnly?: boolean;
  /** `SESSION_COOKIE_SAMESITE`: `'Lax'`, `'Strict'`, `'None'` (needs `cookieSecure`), or `false` to omit. Default `'Lax'`. */
  cookieSameSite?: 'Lax' | 'Strict' | 'None' | false;
  /** `SESSION_SAVE_EVERY_REQUEST`. Default `false`. */
  saveEveryRequest?: boolean;
  /** `SESSION_EXPIRE_AT_BROWSER_CLOSE`. Default `false`. */
  expireAtBrowserClose?: boolean;
  /** The TypeORM DataSource to use: its name (as given to `TypeOrmModule.forRoot({ name })`). Default: the default DataSource. Django: the `DATABASES` alias. */
  dataSource?: string;
  /**
   * The signing salt: Django's `'django.contrib.sessions.' + SessionStore.__qualname__`.
   * Change it only if the Django side uses a `SessionStore` subclass of another name. Default
   * `'django.contrib.sessions.SessionStore'`.
   */
  salt?: string;
  /**
   * Also read session data written by Django before 3.1 (HMAC-SHA1 formats), as Django 3.2 does;
   * such data is re-signed in the modern format on its next save. Default `true`.
   */
  legacyDecode?: boolean;
}

/** The options after defaults and validation: every field set, frozen. */
export type ResolvedSessionOptions = Readonly<
  Required<Omit<SessionModuleOptions, 'dataSource' | 'cookieDomain' | 'secretKeyFallbacks'>> & {
    secretKeyFallbacks: readonly string[];
    cookieDomain: string | null;
    dataSource: string | undefined;
  }
>;
