import { defineBackendContract, inTimeZone } from './backend.contract.js';

// A zone that is not UTC, so no date can lean on the machine's zone.
inTimeZone('America/New_York');

defineBackendContract({
  title: 'PostgreSQL',
  engine: 'postgres',
  server: 'postgres',
  dataSource: ({ url }) => ({ type: 'postgres', url }),
});
