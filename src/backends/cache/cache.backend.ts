import { CACHE_SERIALIZERS, type CacheSerializer } from '../../codec/cache-serializers.js';
import { DEFAULT_MAX_DECODED_BYTES } from '../../codec/python-json.js';
import { reportSuspicious } from '../../codec/suspicious-session.js';
import { EXPIRY_KEY } from '../../django-dates.js';
import { CreateError, SessionConfigError, UpdateError } from '../../session.errors.js';
import type { ResolvedSessionOptions } from '../../session-options.interface.js';
import type { EngineContext } from '../engine-context.js';
import { SessionBackend, type SessionExpiry, type SessionMap } from '../session-backend.js';
import { adaptRedisClient, isRedisClient, type SessionRedis } from './redis-client.js';

/** Django's `KEY_PREFIX` of the cache engine (`backends/cache.py`). */
export const CACHE_KEY_PREFIX = 'django.contrib.sessions.cache';

const KEEP_EXPIRY_STRING: ReadonlySet<string> = new Set([EXPIRY_KEY]);
/** How many `_session_expiry` dates `SessionCacheEntries` remembers the stored type of. */
const EXPIRY_TYPES_KEPT = 10_000;
/**
 * What Python's `int(bytes)` reads as an int (ASCII digits, '_' between digits, a sign,
 * whitespace around): the value both caches store for an int, unpickled. A pickle ends with STOP
 * ('.'), a JSON session with '}', so no session is one.
 */
const PYTHON_INT = /^[ \t\n\v\f\r]*[+-]?\d+(?:_\d+)*[ \t\n\v\f\r]*$/;
const ENDS_LIKE_INT: ReadonlySet<number> = new Set([...'0123456789 \t\n\v\f\r'].map((c) => c.charCodeAt(0)));

/**
 * A session whose cache value would be longer than `maxDecodedBytes`: not written, since no read
 * would accept it (as the codec refuses to encode one for the db and file engines).
 */
export class CacheValueTooLarge extends RangeError {
  override name = 'CacheValueTooLarge';
  constructor(readonly bytes: number, readonly maxBytes: number) {
    super(`the session's cache value would be ${bytes} bytes, more than maxDecodedBytes (${maxBytes}): store less in the session`);
  }
}

/** A session's Redis entry: where it lives and how its value is written. */
export class SessionCacheEntries {
  constructor(
    readonly redis: SessionRedis,
    readonly serializer: CacheSerializer,
    /** `<KEY_PREFIX>:<VERSION>:<engine prefix>`: Django's `make_key()` around the engine's own prefix. */
    private readonly prefix: string,
    /**
     * The most bytes a session's value may hold (`maxDecodedBytes`): a longer one is refused on
     * reading without being downloaded, and never written. Default 4 MiB.
     */
    readonly maxBytes: number = DEFAULT_MAX_DECODED_BYTES,
    /**
     * The pickle protocol values are written with (pickle serializer; any is read): 4, what
     * django-redis writes on Python <= 3.13, or 5, what Django's own RedisCache writes.
     */
    readonly pickleProtocol: 4 | 5 = 4,
  ) {}

  /** The Redis entries of `engine prefix` under the module's `cache` options (validated at start-up). */
  static forOptions(options: ResolvedSessionOptions, enginePrefix: string): SessionCacheEntries {
    const cache = options.cache!;
    if (!isRedisClient(cache.client)) {
      throw new SessionConfigError(
        `SessionModule option "cache.client" must be a connected node-redis (v5 or later), ioredis or iovalkey client (engine '${String(options.engine)}')`,
      );
    }
    return new this(
      adaptRedisClient(cache.client, { timeoutMs: options.backendTimeout * 1000 }),
      CACHE_SERIALIZERS[cache.serializer],
      `${cache.keyPrefix}:${cache.version}:${enginePrefix}`,
      options.maxDecodedBytes,
      cache.pickleProtocol,
    );
  }

  /**
   * Fails the boot when the Redis client cannot send a command as it stands (never connected, or
   * closed): otherwise the app would start and every visitor would meet the error instead.
   */
  assertConnected(engine: string): void {
    const problem = this.redis.notConnected();
    if (problem !== undefined) {
      throw new SessionConfigError(`SessionModule option "cache.client": the Redis client of the "${engine}" engine cannot send commands: ${problem}`);
    }
  }

  /**
   * `_session_expiry` dates as Django stored them, by the isoformat() string they are read as:
   * true when Django 4.1+ stored the str, false when Django 3.2 pickled a datetime. A session
   * written back keeps its type, whatever key it is saved under (`cycleKey()`): Django 4.1+ keeps
   * the str in its JSON-encoded `cached_db` rows (a datetime there fails its next save), and
   * Django 3.2 cannot use a str. A date not seen here (a value Nest made) is written as the
   * datetime, which every Django reads from the cache (with `datetime.timezone.utc`, no pytz).
   * The most recent {@link EXPIRY_TYPES_KEPT} dates are kept.
   */
  private readonly expiryTypes = new Map<string, boolean>();

  private noteExpiryType(data: ReadonlyMap<string, unknown>, datetimesRead: ReadonlySet<string>): void {
    const expiry = data.get(EXPIRY_KEY);
    if (typeof expiry !== 'string') return;
    // A date seen both ways (two sessions with the same instant) is written as the datetime both read.
    const stringStored = !datetimesRead.has(EXPIRY_KEY) && this.expiryTypes.get(expiry) !== false;
    this.expiryTypes.delete(expiry);
    this.expiryTypes.set(expiry, stringStored);
    if (this.expiryTypes.size > EXPIRY_TYPES_KEPT) this.expiryTypes.delete(this.expiryTypes.keys().next().value!);
  }

  private stringExpiries(data: ReadonlyMap<string, unknown>): ReadonlySet<string> | undefined {
    const expiry = data.get(EXPIRY_KEY);
    return typeof expiry === 'string' && this.expiryTypes.get(expiry) === true ? KEEP_EXPIRY_STRING : undefined;
  }

  /** Django's cache key of a session: `KEY_PREFIX:VERSION:<engine prefix><session key>`. */
  keyOf(sessionKey: string): string {
    return this.prefix + sessionKey;
  }

  /**
   * The cached dict; null when there is none, or when it cannot be read (logged, as Django's
   * `SuspiciousSession`). A value longer than `maxBytes` is such a value: GETRANGE reads at most
   * `maxBytes + 1` of its bytes (one round trip, like GET), so a huge value planted in Redis costs
   * neither the download nor the memory. It is left in place; the visitor gets a new session.
   * So is an int as Python's `int()` reads it ('42'): both django-redis and Django's own
   * RedisCache store an int unpickled and read any value `int()` takes as that int, never as a
   * session (Django would hand the int to the session layer, which fails on it).
   */
  async get(sessionKey: string): Promise<SessionMap | null> {
    const value = await this.redis.getAtMost(this.keyOf(sessionKey), this.maxBytes);
    if (value === null) return null;
    if (value === 'too-large') {
      reportSuspicious(this, 'Session data corrupted (the cached value is larger than maxDecodedBytes)');
      return null;
    }
    // (Only a value ending in a digit or whitespace is looked at: never a pickle or a JSON dict.)
    if (ENDS_LIKE_INT.has(value[value.length - 1]!) && PYTHON_INT.test(value.toString('latin1'))) {
      reportSuspicious(this, 'Session data corrupted (the cached value is an int, as the cache stores one unpickled)');
      return null;
    }
    try {
      const datetimesRead = new Set<string>();
      const data = this.serializer.loads(value, { maxDecodedBytes: this.maxBytes, datetimesRead });
      this.noteExpiryType(data, datetimesRead);
      return data;
    } catch {
      reportSuspicious(this, 'Session data corrupted');
      return null;
    }
  }

  /**
   * `get()` and, sent with it (no round trip of its own), `PTTL`: the dict noted with when its entry
   * expires (`SessionBackend.noteStoredExpiry`), for the `touchAfter` option. An entry without a
   * TTL (a foreign write) is returned without a note: it is never touched.
   */
  async getNotingExpiry(sessionKey: string): Promise<SessionMap | null> {
    const [data, ttl] = await Promise.all([this.get(sessionKey), this.redis.pttl(this.keyOf(sessionKey))]);
    return data !== null && ttl >= 0 ? SessionBackend.noteStoredExpiry(data, { expiresAt: Date.now() + ttl }) : data;
  }

  /**
   * `EXPIRE` with the session's expiry age, the value left as it is (`touchAfter`); false when
   * there is no entry. A session already expired is deleted instead, as `set()` does.
   */
  async touch(sessionKey: string, ageSeconds: number): Promise<boolean> {
    const key = this.keyOf(sessionKey);
    if (ageSeconds < 1) {
      await this.redis.del(key);
      return true;
    }
    return this.redis.expire(key, Math.floor(ageSeconds));
  }

  /**
   * `SET` with the session's expiry age as TTL. A session already expired is deleted instead
   * (django-redis does the same for a timeout <= 0). Resolves false when NX/XX refused.
   */
  async set(sessionKey: string, data: ReadonlyMap<string, unknown>, ageSeconds: number, condition?: 'NX' | 'XX'): Promise<boolean> {
    const key = this.keyOf(sessionKey);
    if (ageSeconds < 1) {
      await this.redis.del(key);
      return true;
    }
    const value = this.serializer.dumps(data, { maxDecodedBytes: this.maxBytes, keepStrings: this.stringExpiries(data), protocol: this.pickleProtocol });
    // What could not be read back is not written: the session would be lost on its next read.
    if (value.length > this.maxBytes) throw new CacheValueTooLarge(value.length, this.maxBytes);
    return this.redis.set(key, value, Math.floor(ageSeconds), condition);
  }
}

/**
 * The `cache` engine (Django's `django.contrib.sessions.backends.cache` on django-redis, or on
 * Django 4.0+'s own RedisCache: `cache.backend`): each session's dict in Redis under
 * `KEY_PREFIX:VERSION:django.contrib.sessions.cache<key>`, written by the cache's serializer
 * (pickle by default, or django-redis's JSON), expiring by TTL. Nothing to sweep.
 *
 * Where Django's engine reads then writes (a save could re-create a session deleted meanwhile),
 * this one updates with `SET ... XX`: a session logged out elsewhere stays logged out
 * (`UpdateError`, answered 400 as on the db engine). When Redis cannot be reached, a request that
 * needs its session is answered 503 (Django would quietly start an empty session).
 */
export class CacheSessionBackend extends SessionBackend {
  override readonly engineName: string = 'cache';
  override readonly sweepsExpired = false;

  constructor(readonly entries: SessionCacheEntries) {
    super();
  }

  static fromContext({ options }: EngineContext): CacheSessionBackend {
    const backend = new this(SessionCacheEntries.forOptions(options, CACHE_KEY_PREFIX));
    backend.tracksStoredExpiry = options.touchAfter !== null;
    return backend;
  }

  /** Fails the boot when the Redis client is not connected (see `SessionCacheEntries.assertConnected`). */
  onApplicationBootstrap(): void {
    this.entries.assertConnected(this.engineName);
  }

  load(key: string): Promise<SessionMap | null> {
    return this.tracksStoredExpiry ? this.entries.getNotingExpiry(key) : this.entries.get(key);
  }

  exists(key: string): Promise<boolean> {
    return this.entries.redis.exists(this.entries.keyOf(key));
  }

  async save(key: string, data: ReadonlyMap<string, unknown>, expiry: SessionExpiry, mustCreate: boolean): Promise<string> {
    const written = await this.entries.set(key, data, expiry.age, mustCreate ? 'NX' : 'XX');
    if (!written) throw mustCreate ? new CreateError(`session key ${key} is taken`) : new UpdateError(`session ${key} no longer exists`);
    return key;
  }

  /** `touchAfter`: `EXPIRE` on the entry, the value left as it is (`UpdateError` when it is gone). */
  override async touch(key: string, _data: ReadonlyMap<string, unknown>, expiry: SessionExpiry): Promise<string> {
    if (!(await this.entries.touch(key, expiry.age))) throw new UpdateError(`session ${key} no longer exists`);
    return key;
  }

  delete(key: string): Promise<void> {
    return this.entries.redis.del(this.entries.keyOf(key));
  }

  /** Django's `clear_expired()` is a no-op for the cache: Redis expires entries by their TTL. */
  async clearExpired(): Promise<number> {
    return 0;
  }
}
