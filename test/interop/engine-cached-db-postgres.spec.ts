import { defineEngineSuite } from './engines.suite.js';

defineEngineSuite({
  engine: 'cached_db',
  title: "PostgreSQL and Redis, django-redis's JSONSerializer; the Nest app on ioredis",
  database: 'postgres',
  serializer: 'json',
  redisClient: 'ioredis',
});
