import { defineEngineSuite } from './engines.suite.js';

defineEngineSuite({ engine: 'cache', title: "django-redis's PickleSerializer; the Nest app on node-redis", serializer: 'pickle', redisClient: 'node-redis' });
// Django 4.0+'s own RedisCache (RedisSerializer: pickle.HIGHEST_PROTOCOL, 5): skipped on Django 3.2, which has none.
defineEngineSuite({
  engine: 'cache',
  title: "Django's own django.core.cache.backends.redis.RedisCache, pickle protocol 5; the Nest app on node-redis",
  cacheBackend: 'django.core.cache.backends.redis.RedisCache',
  redisClient: 'node-redis',
});
