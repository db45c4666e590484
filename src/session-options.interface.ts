import type { Type } from '@nestjs/common';
import type { SessionBackend } from './backends/session-backend.js';
import type { EngineName } from './backends/engine-names.js';
import type { DjangoVersion } from './django-versions.js';

/** The `cache` option: Django's `CACHES[SESSION_CACHE_ALIAS]` entry, on django-redis or Django 4.0+'s own RedisCache. */
export interface SessionCacheOptions {
  /**
   * The app's own Redis client, connected: node-redis ≥ 5 (`createClient()`), ioredis or iovalkey.
   * The module never closes it. Set the client's offline queue / retries so a command fails while
   * Redis is down (node-redis `disableOfflineQueue: true`; ioredis/iovalkey `enableOfflineQueue: false, autoResendUnfulfilledCommands: false`, connected with `lazyConnect` and `await client.connect()`);
   * every command is bounded by `backendTimeout` anyway. Checked at start-up: a client that is not
   * connected (never `connect()`ed, closed, or ioredis's `lazyConnect` before its first connect)
   * fails the boot.
   */
  client: unknown;
  /** `KEY_PREFIX`. Default `''`. */
  keyPrefix?: string;
  /** `VERSION`. Default `1`. */
  version?: number;
  /**
   * Django's `BACKEND` of that cache: `'django_redis.cache.RedisCache'` (django-redis, the
   * default) or `'django.core.cache.backends.redis.RedisCache'` (Django 4.0+'s own, whose
   * `RedisSerializer` pickles with `pickle.HIGHEST_PROTOCOL`, 5). Both store a session under
   * `KEY_PREFIX:VERSION:<key>` with the TTL of its expiry age. Default `'django_redis.cache.RedisCache'`.
   */
  backend?: 'django_redis.cache.RedisCache' | 'django.core.cache.backends.redis.RedisCache';
  /** django-redis's `SERIALIZER`: `'pickle'` (its default, `PickleSerializer`) or `'json'` (`JSONSerializer`, django-redis only). Default `'pickle'`. */
  serializer?: 'pickle' | 'json';
  /**
   * The pickle protocol sessions are written with (both are read): django-redis's `PICKLE_VERSION`.
   * Default `4` with django-redis (what its `pickle.DEFAULT_PROTOCOL` writes on Python 3.8 to
   * 3.13, and every Python 3 reads; Python 3.14's is 5), `5` with Django's own RedisCache
   * (`pickle.HIGHEST_PROTOCOL`). Protocol 5 needs Python 3.8+ to read.
   */
  pickleProtocol?: 4 | 5;
}

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
  /**
   * Idle expiry without a write per request (express-session's `rolling`, connect-mongo's
   * `touchAfter`): a request that does not change its session extends the session's expiry once
   * that expiry was last set more than this many seconds ago — one cheap write per session per
   * `touchAfter` seconds, in the form Django reads (`expire_date` alone, the cache TTL, the file's
   * modification time, a re-signed cookie), and the cookie's `Max-Age` sent again. A session with
   * a fixed expiry date (`setExpiry(date)` in Django 4.1+'s form) is not extended. Not in Django
   * (whose `SESSION_SAVE_EVERY_REQUEST` writes the whole session on every request). `null`: off.
   * Default `null`. See docs/idle-expiry.md.
   */
  touchAfter?: number | null;
  /**
   * Give Express and Fastify middleware `req.session` (Passport needs it): the request's session,
   * opened before any middleware the app adds after `NestFactory.create()`, with express-session's
   * API (`regenerate`, `save`, `destroy`, `reload`, property access) and @fastify/session's
   * (`get`, `set`). The same object `@Session()` gives, saved by the same rules, also on routes
   * without `@Session()`. Costs one read per request that carries a session cookie. Default `false`.
   */
  requestSession?: boolean;
  /**
   * Add `Cache-Control: private` to every response that sets the session cookie, so no shared
   * cache stores a visitor's cookie (`public` is dropped; `no-store` kept). Not in Django (which
   * leaves it to `django.views.decorators.cache`). Default `false`.
   */
  privateCacheControl?: boolean;
  /** The TypeORM DataSource to use: its name (as given to `TypeOrmModule.forRoot({ name })`). Default: the default DataSource. Django: the `DATABASES` alias. */
  dataSource?: string;
  /**
   * `SESSION_ENGINE`: where sessions are stored. `'db'` (the `django_session` table through
   * TypeORM), `'cache'` (Redis, see `cache`), `'cached_db'` (Redis in front of the table),
   * `'signed_cookies'` (the cookie holds the signed data), `'file'` (one file per session in
   * `filePath`), or your own `SessionBackend` subclass or instance. Default `'db'`.
   */
  engine?: EngineName | Type<SessionBackend> | SessionBackend;
  /** For the `cache` and `cached_db` engines: the Redis client and Django's cache settings. */
  cache?: SessionCacheOptions;
  /** `SESSION_FILE_PATH`: the `file` engine's directory. Default: the OS temp directory. */
  filePath?: string;
  /**
   * The most bytes a stored session may inflate to when read (signed data is zlib-compressed):
   * more is treated as corrupt data (an empty session and Django's "Session data corrupted"
   * warning), never allocated. Also the most a session may encode to, and what each engine reads:
   * a cached value longer than this is refused without being downloaded (`GETRANGE`), a pickle
   * is refused as soon as what it builds would write more JSON than this, and a session file
   * longer than its signed form could be is refused unread. Not in Django. Default `4194304`
   * (4 MiB), far above any real session.
   */
  maxDecodedBytes?: number;
  /**
   * Seconds one storage operation (a SQL statement, a Redis command, a session file's read or
   * write) may take before the request
   * is answered 503 with `Retry-After` instead of waiting on a locked table or a Redis that is
   * down. Also sent to MariaDB as `max_statement_time`. Not in Django. Default `3`.
   */
  backendTimeout?: number;
  /** @deprecated Renamed `backendTimeout` (the storage is the engine's backend; the session is the dictionary). Still read, with a warning at start-up. */
  storeTimeout?: number;
  /**
   * The signing salt: Django's `'django.contrib.sessions.' + SessionStore.__qualname__`.
   * Change it only if the Django side uses a `SessionStore` subclass of another name. Default
   * `'django.contrib.sessions.SessionStore'`.
   */
  salt?: string;
  /**
   * The Django release the app shares sessions and users with (`'3.2'` ... `'6.1'`). What differs
   * between releases follows it: whether session data and login hashes from before Django 3.1 are
   * accepted (`legacyDecode` here, `legacyHash` of `getUser()`: 3.2 only), and, with the cache
   * engines, whether Django's own `RedisCache` exists (4.0+). Pass the same value to
   * `makeDjangoPassword()` and `verifyDjangoPassword()` (their PBKDF2 cost). Default `'5.2'`, the
   * current LTS.
   */
  djangoVersion?: DjangoVersion;
  /**
   * Also read session data written by Django before 3.1 (HMAC-SHA1 formats), as Django 3.2 does;
   * such data is re-signed in the modern format on its next save. Django 4.0+ discards it.
   * Default: `true` when `djangoVersion` is `'3.2'`, else `false`.
   */
  legacyDecode?: boolean;
}

/** The options after defaults and validation: every field set, frozen. */
export type ResolvedSessionOptions = Readonly<
  Required<Omit<SessionModuleOptions, 'dataSource' | 'cookieDomain' | 'secretKeyFallbacks' | 'cache' | 'storeTimeout'>> & {
    secretKeyFallbacks: readonly string[];
    cookieDomain: string | null;
    dataSource: string | undefined;
    cache: Readonly<Required<SessionCacheOptions>> | null;
  }
>;
