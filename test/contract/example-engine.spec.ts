/**
 * The engine a user writes, as docs/engines.md ("Your own engine") shows it: examples/memory-engine.ts
 * keeps the contract every built-in engine keeps, and serves sessions over HTTP when given as the
 * `engine` option. The docs show that file whole: checked here, so the two cannot drift.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { MemorySessionBackend } from '../../examples/memory-engine.js';
import { Session, type SessionStore } from '../../src/index.js';
import { Client, removeSqliteFile, startSqliteApp, tempSqliteFile } from '../support/app.js';
import { defineEngineContract } from './engine.contract.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

defineEngineContract({
  title: 'the example engine of docs/engines.md (examples/memory-engine.ts)',
  open: async () => ({ backend: new MemorySessionBackend(), close: async () => {} }),
  notesExpiry: false,
});

@Controller()
class CartController {
  @Post('cart')
  @HttpCode(200)
  add(@Session() session: SessionStore<{ cart: string[] }>, @Body() body: { item: string }) {
    session.set('cart', [...session.get('cart', []), body.item]);
    return session.get('cart');
  }

  @Get('cart')
  show(@Session() session: SessionStore<{ cart: string[] }>) {
    return session.get('cart', []);
  }
}

describe.each(['express', 'fastify'] as const)('the example engine as the engine option, on %s', (platform) => {
  const file = tempSqliteFile('example-engine');
  let app: Awaited<ReturnType<typeof startSqliteApp>>;

  beforeAll(async () => {
    app = await startSqliteApp({ platform, file, session: { secretKey: 'example-engine-secret-key-with-plenty-of-characters-0123', engine: MemorySessionBackend }, controllers: [CartController] });
  });

  afterAll(async () => {
    await app?.app.close();
    await removeSqliteFile(file);
  });

  it('keeps a visitor\'s session between requests, under a cookie that holds only the key', async () => {
    const visitor = new Client(app.url);
    await visitor.post('/cart', { item: 'tea' });
    expect((await visitor.post('/cart', { item: 'scones' })).json()).toEqual(['tea', 'scones']);
    expect(visitor.sessionKey).toMatch(/^[a-z0-9]{32}$/);
    expect((await new Client(app.url).get('/cart')).json()).toEqual([]);
    expect((await visitor.get('/cart')).json()).toEqual(['tea', 'scones']);
  });
});

describe('docs/engines.md', () => {
  it('shows examples/memory-engine.ts whole, as the tests run it', () => {
    const docs = readFileSync(join(root, 'docs', 'engines.md'), 'utf8');
    const marker = '<!-- example-file: examples/memory-engine.ts -->\n```ts\n';
    const start = docs.indexOf(marker);
    expect(start).toBeGreaterThanOrEqual(0);
    const block = docs.slice(start + marker.length, docs.indexOf('\n```', start + marker.length) + 1);
    expect(block).toBe(readFileSync(join(root, 'examples', 'memory-engine.ts'), 'utf8'));
  });
});
