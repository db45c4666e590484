import { defineBackendContract } from './backend.contract.js';

defineBackendContract({
  title: 'sqlite3',
  engine: 'sqlite',
  dataSource: ({ file }) => ({ type: 'sqlite', database: file!, busyTimeout: 5000 }),
});
