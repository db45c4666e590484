import { defineBackendContract } from './backend.contract.js';

defineBackendContract({
  title: 'PostgreSQL',
  engine: 'postgres',
  server: 'postgres',
  dataSource: ({ url }) => ({ type: 'postgres', url }),
});
