import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionCodec } from '../../src/index.js';
import { FileSessionBackend } from '../../src/exports/engines.js';
import { defineEngineContract } from './engine.contract.js';

defineEngineContract({
  title: 'file',
  async open() {
    const directory = await mkdtemp(join(tmpdir(), 'djs-file-engine-'));
    const backend = new FileSessionBackend(directory, 'sessionid', new SessionCodec({ secretKey: 'engine-contract-secret' }), 1_209_600);
    await backend.onModuleInit();
    return { backend, close: () => rm(directory, { recursive: true, force: true }) };
  },
});
