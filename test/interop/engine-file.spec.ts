import { defineEngineSuite } from './engines.suite.js';

defineEngineSuite({ engine: 'file', title: 'one shared SESSION_FILE_PATH' });
