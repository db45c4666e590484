import { defineEngineSuite } from './engines.suite.js';

defineEngineSuite({ engine: 'cache', title: "django-redis's PickleSerializer; the Nest app on node-redis", serializer: 'pickle', redisClient: 'node-redis' });
