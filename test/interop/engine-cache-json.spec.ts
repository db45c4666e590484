import { defineEngineSuite } from './engines.suite.js';

defineEngineSuite({ engine: 'cache', title: "django-redis's JSONSerializer; the Nest app on ioredis", serializer: 'json', redisClient: 'ioredis' });
