import { defineEngineSuite } from './engines.suite.js';

defineEngineSuite({ engine: 'cached_db', title: 'SQLite and Redis, pickled; the Nest app on node-redis', serializer: 'pickle', redisClient: 'node-redis' });
