import { defineInteropSuite } from './interop.suite.js';

defineInteropSuite({ engine: 'postgres', title: 'PostgreSQL', server: 'postgres' });
