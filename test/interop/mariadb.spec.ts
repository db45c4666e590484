import { defineInteropSuite } from './interop.suite.js';

defineInteropSuite({ engine: 'mariadb', title: 'MariaDB', server: 'mysql' });
