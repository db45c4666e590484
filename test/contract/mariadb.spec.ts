import { defineBackendContract, inTimeZone } from './backend.contract.js';

// A zone that is not UTC, so no date can lean on the machine's zone.
inTimeZone('America/New_York');

// No `timezone` option: the backend must not depend on how mysql2 converts dates.
defineBackendContract({
  title: 'MariaDB',
  engine: 'mariadb',
  server: 'mysql',
  dataSource: ({ url }) => ({ type: 'mariadb', url }),
});
