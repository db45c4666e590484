import { Logger } from '@nestjs/common';
import { SessionBackendUnavailable } from '../../session.errors.js';
import { decodedMap, decodeLogged } from '../../codec/suspicious-session.js';
import type { SessionCodec } from '../../codec/session-codec.js';
import type { DataSource } from 'typeorm';
import type { EngineContext } from '../engine-context.js';
import { SessionBackend, type SessionExpiry, type SessionMap } from '../session-backend.js';
import { resolveDataSource, TypeOrmSessionBackend } from '../typeorm/typeorm.backend.js';
import { CacheValueTooLarge, SessionCacheEntries } from './cache.backend.js';
import { describeCause } from './redis-client.js';

/** Django's `KEY_PREFIX` of the cached_db engine (`backends/cached_db.py`). */
export const CACHED_DB_KEY_PREFIX = 'django.contrib.sessions.cached_db';

// Django 5.1 logs a failed cache write on this logger and goes on.
const logger = new Logger('django.contrib.sessions');

/**
 * The `cached_db` engine (Django's `django.contrib.sessions.backends.cached_db`): the db engine's
 * `django_session` row, with the session's dict also in Redis under
 * `KEY_PREFIX:VERSION:django.contrib.sessions.cached_db<key>`, so a read usually costs one Redis
 * GET. Reads try the cache, fall back to the row and refill the cache; writes write the row, then
 * the cache; deletes delete both. Exactly Django's order, so a Django on `cached_db` shares both.
 *
 * The database is the truth: when Redis fails, reads fall back to the row and cache writes are
 * logged and skipped (Django 5.1's behaviour), so no request fails for the cache's sake.
 */
export class CachedDbSessionBackend extends TypeOrmSessionBackend {
  override readonly engineName: string = 'cached_db';

  constructor(
    dataSource: DataSource | (() => DataSource),
    codec: SessionCodec,
    readonly entries: SessionCacheEntries,
    timeoutSeconds?: number,
  ) {
    super(dataSource, codec, timeoutSeconds);
  }

  static override fromContext(context: EngineContext): CachedDbSessionBackend {
    const backend = new this(resolveDataSource(context), context.codec, SessionCacheEntries.forOptions(context.options, CACHED_DB_KEY_PREFIX), context.options.backendTimeout);
    backend.tracksStoredExpiry = context.options.touchAfter !== null;
    return backend;
  }

  /** The db engine's start-up check of its table, then the cache's: a client not connected fails the boot. */
  override async onApplicationBootstrap(): Promise<void> {
    await super.onApplicationBootstrap();
    this.entries.assertConnected(this.engineName);
  }

  override async load(key: string): Promise<SessionMap | null> {
    // touchAfter: the entry's PTTL beside the GET, as on the cache engine.
    const cached = await this.cacheDo('read', () => (this.tracksStoredExpiry ? this.entries.getNotingExpiry(key) : this.entries.get(key)), null);
    if (cached !== null) return cached;
    const row = await this.loadRow(key);
    if (row === null) return null;
    const data = decodedMap(decodeLogged(this.codec, row.sessionData));
    // Django: cache.set(key, data, get_expiry_age(expiry=s.expire_date)), whole seconds left.
    if (row.expireDate !== null) {
      const age = Math.floor((row.expireDate.getTime() - Date.now()) / 1000);
      await this.cacheWrite(key, data, age);
      if (this.tracksStoredExpiry) SessionBackend.noteStoredExpiry(data, { expiresAt: row.expireDate.getTime() });
    }
    return data;
  }

  /**
   * `touchAfter`: the row's `expire_date` alone, then `EXPIRE` on the cache entry (a cache that
   * fails is logged, as for a save: the row decides; an entry evicted meanwhile is refilled by
   * the next read).
   */
  override async touch(key: string, _data: ReadonlyMap<string, unknown>, expiry: SessionExpiry): Promise<string> {
    await this.touchRow(key, expiry.date);
    await this.cacheDo('write', () => this.entries.touch(key, expiry.age), false);
    return key;
  }

  override async exists(key: string): Promise<boolean> {
    return (await this.cacheDo('read', () => this.entries.redis.exists(this.entries.keyOf(key)), false)) || super.exists(key);
  }

  override async save(key: string, data: ReadonlyMap<string, unknown>, expiry: SessionExpiry, mustCreate: boolean): Promise<string> {
    await super.save(key, data, expiry, mustCreate);
    await this.cacheWrite(key, data, expiry.age);
    return key;
  }

  override async delete(key: string): Promise<void> {
    await super.delete(key);
    await this.cacheDo('delete', () => this.entries.redis.del(this.entries.keyOf(key)), undefined);
  }

  /**
   * Refreshes the cached copy of the row just read or written. A session the cache cannot take
   * (too large for `maxDecodedBytes`, a value the serializer refuses, an error reply) is dropped
   * from it instead, so that no older copy outlives the row; when Redis is unavailable, nothing
   * more is tried.
   */
  private async cacheWrite(key: string, data: ReadonlyMap<string, unknown>, ageSeconds: number): Promise<void> {
    await this.cacheDo(
      'write',
      async () => {
        try {
          await this.entries.set(key, data, ageSeconds);
        } catch (error) {
          if (!(error instanceof SessionBackendUnavailable)) await this.entries.redis.del(this.entries.keyOf(key));
          throw error;
        }
      },
      undefined,
    );
  }

  /** A cache operation whose failure is logged (what failed and why, without the key) and replaced by `fallback`: the row decides. */
  private async cacheDo<T>(what: 'read' | 'write' | 'delete', operation: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      // Our own messages are safe to log as they are; anything else is told without secrets.
      const why = error instanceof SessionBackendUnavailable || error instanceof CacheValueTooLarge ? error.message : describeCause(error);
      logger.error(`Error ${what === 'read' ? 'reading from' : what === 'write' ? 'saving to' : 'deleting from'} the cache (${why}); the database is used`);
      return fallback;
    }
  }
}
