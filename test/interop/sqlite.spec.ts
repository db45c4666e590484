import { defineInteropSuite } from './interop.suite.js';

defineInteropSuite({ engine: 'sqlite', title: 'SQLite' });
