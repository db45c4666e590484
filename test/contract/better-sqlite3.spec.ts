import { defineBackendContract } from './backend.contract.js';

defineBackendContract({
  title: 'better-sqlite3',
  engine: 'sqlite',
  dataSource: ({ file }) => ({ type: 'better-sqlite3', database: file!, timeout: 5000 }),
});
