import { defineBackendContract } from './backend.contract.js';

// No `timezone` option: the backend must not depend on how mysql2 converts dates.
defineBackendContract({
  title: 'MariaDB',
  engine: 'mariadb',
  server: 'mysql',
  dataSource: ({ url }) => ({ type: 'mariadb', url }),
});
