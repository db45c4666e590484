import { defineBackendContract } from './backend.contract.js';

// A zone that is not UTC, so no date can lean on the machine's zone (restored for the next file).
const machineZone = process.env.TZ;
beforeAll(() => {
  process.env.TZ = 'America/New_York';
});
afterAll(() => {
  if (machineZone === undefined) delete process.env.TZ;
  else process.env.TZ = machineZone;
});

defineBackendContract({
  title: 'PostgreSQL',
  engine: 'postgres',
  server: 'postgres',
  dataSource: ({ url }) => ({ type: 'postgres', url }),
});
