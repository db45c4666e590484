import { describeOption, failOption } from '../../option-checks.js';
import type { ResolvedSessionOptions, SessionCacheOptions } from '../../session-options.interface.js';
import type { EngineName } from '../engine-names.js';

/** The `cache` option's defaults: Django's `CACHES` KEY_PREFIX and VERSION, on django-redis with its PickleSerializer (PICKLE_VERSION 4; 5 with Django's own RedisCache). */
export const CACHE_OPTION_DEFAULTS = Object.freeze({ keyPrefix: '', version: 1, backend: 'django_redis.cache.RedisCache', serializer: 'pickle', pickleProtocol: 4 } as const);

/**
 * The `cache` option of the `cache` and `cached_db` engines (Django's `CACHES` entry), with its
 * defaults, validated at boot: required by those engines, ignored (null) by the others.
 */
export function resolveCacheOptions(input: SessionCacheOptions | undefined, engine: EngineName | null): ResolvedSessionOptions['cache'] {
  if (input === undefined) {
    if (engine !== null) failOption('cache', `is required by engine '${engine}': { client } with your connected Redis client (node-redis, ioredis or iovalkey)`);
    return null;
  }
  if (input === null || typeof input !== 'object') failOption('cache', `must be an object { client, keyPrefix?, version?, backend?, serializer?, pickleProtocol? }, got ${describeOption(input)}`);
  const known = new Set(['client', ...Object.keys(CACHE_OPTION_DEFAULTS)]);
  for (const name of Object.keys(input)) {
    if (!known.has(name)) failOption(`cache.${name}`, `is not a known option (known: ${[...known].sort().join(', ')})`);
  }
  const { client } = input;
  if (client === null || (typeof client !== 'object' && typeof client !== 'function')) {
    // Not the value itself: a connection string holds a password.
    failOption('cache.client', `must be your connected Redis client (node-redis, ioredis or iovalkey), got ${client === null ? 'null' : typeof client}`);
  }
  const defaults = CACHE_OPTION_DEFAULTS;
  const keyPrefix = input.keyPrefix ?? defaults.keyPrefix;
  if (typeof keyPrefix !== 'string') failOption('cache.keyPrefix', `must be a string (Django's KEY_PREFIX), got ${describeOption(keyPrefix)}`);
  const version = input.version ?? defaults.version;
  if (!Number.isSafeInteger(version)) failOption('cache.version', `must be an integer (Django's VERSION), got ${describeOption(version)}`);
  const backend = input.backend ?? defaults.backend;
  const backends: readonly unknown[] = ['django_redis.cache.RedisCache', 'django.core.cache.backends.redis.RedisCache'];
  if (!backends.includes(backend)) failOption('cache.backend', `must be Django's CACHES BACKEND, one of ${backends.map((b) => `'${b}'`).join(', ')}; got ${describeOption(backend)}`);
  const djangoOwn = backend === 'django.core.cache.backends.redis.RedisCache';
  const serializer = input.serializer ?? defaults.serializer;
  if (serializer !== 'pickle' && serializer !== 'json') failOption('cache.serializer', `must be 'pickle' or 'json', got ${describeOption(serializer)}`);
  if (serializer === 'json' && djangoOwn) {
    failOption('cache.serializer', `'json' is django-redis's JSONSerializer; Django's own RedisCache (backend '${backend}') has no JSON serializer, it always pickles`);
  }
  const pickleProtocol = input.pickleProtocol ?? (djangoOwn ? 5 : defaults.pickleProtocol);
  if (pickleProtocol !== 4 && pickleProtocol !== 5) failOption('cache.pickleProtocol', `must be 4 or 5 (django-redis's PICKLE_VERSION), got ${describeOption(pickleProtocol)}`);
  return Object.freeze({ client, keyPrefix, version, backend, serializer, pickleProtocol });
}
