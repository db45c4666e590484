/**
 * The cache engine over HTTP on the real Redis, with values planted under session keys as anyone
 * with write access to a shared Redis can plant them: a pickle made to stall or swell the process
 * is no session, answered at once while other visitors go on; a genuine Django session of any
 * shape (a 150,000-item list, Python's inf, nan and 10**400) is read and saved back as Python
 * wrote it.
 */
import type { INestApplication } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { Client } from '../support/app.js';
import { describeWith } from '../support/env.js';
import { deleteKeysWithPrefix, REDIS_CLIENTS, uniquePrefix } from '../support/redis.js';
import { startVisitApp } from '../support/session-app.js';

const SECRET = 'hostile-cache-values-secret';
const nodeRedis = REDIS_CLIENTS.find((f) => f.name === 'node-redis')!;
const FOUR_MIB = 4 * 1024 * 1024;

/** Opcodes as latin-1 text. */
const op = (text: string): Buffer => Buffer.from(text, 'latin1');
const PROTO4 = op('\x80\x04');
/** `{'a': [<items>]}`: EMPTY_DICT MARK 'a' MARK <items> LIST SETITEMS STOP. */
const dictOfList = (items: Buffer): Buffer => Buffer.concat([PROTO4, op('}(\x8c\x01a('), items, op('lu.')]);

/** A valid session key nobody was given. */
const aKey = (): string => randomBytes(16).toString('hex');

describeWith(['redis'], 'cache engine (pickle) with hostile and unusual values planted in Redis', ({ redis }) => {
  const keyPrefix = uniquePrefix('hostile-cache');
  let client: any;
  let app: INestApplication;
  let url: string;
  const redisKey = (key: string): string => `${keyPrefix}:1:django.contrib.sessions.cache${key}`;

  beforeAll(async () => {
    client = await nodeRedis.connect(redis);
    ({ app, url } = await startVisitApp({ secretKey: SECRET, engine: 'cache', cache: { client, keyPrefix } }));
  });
  afterAll(async () => {
    await app?.close();
    await nodeRedis.close(client);
    await deleteKeysWithPrefix(redis, keyPrefix);
  });

  async function plant(value: Buffer): Promise<string> {
    const key = aKey();
    await client.sendCommand(['SET', redisKey(key), value, 'EX', '600']);
    return key;
  }

  async function stored(key: string): Promise<Buffer> {
    return client.sendCommand(['GET', redisKey(key)], { typeMapping: { 36: Buffer } });
  }

  /** POST /visit under `key`, timed. */
  async function visit(key: string | undefined, write = false) {
    const browser = new Client(url);
    if (key !== undefined) browser.jar.set('sessionid', key);
    const started = performance.now();
    const reply = await browser.post('/visit', { write });
    return { ms: performance.now() - started, status: reply.status, body: reply.json() as { visits: number }, key: browser.sessionKey };
  }

  it('pickles made to stall or swell the process are no session, answered quickly, and another visitor is not kept waiting', async () => {
    const regular = await visit(undefined, true);
    expect(regular.body).toEqual({ visits: 0 });
    const hostile = await Promise.all([
      // The issue's: four million empty dicts in a 4 MiB value (9-12 s and 1.87 GB before).
      plant(dictOfList(op('}'.repeat(FOUR_MIB - 16)))),
      // 4 MiB of EMPTY_DICT opcodes left on the stack.
      plant(Buffer.concat([PROTO4, op('}'.repeat(FOUR_MIB - 8)), op('.')])),
      // 10 KB: one 1,000-item list referenced 4,000 times, 95 MiB of JSON once expanded.
      plant(dictOfList(Buffer.concat([op(']\x94('), op('J\x87\xd6\x12\x00'.repeat(1000)), op('e'), op('h\x00'.repeat(3999))]))),
    ]);
    const hostileVisits = hostile.map((key) => visit(key, true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const meanwhile = await visit(regular.key, true);
    const answers = await Promise.all(hostileVisits);

    expect(meanwhile.status).toBe(200);
    expect(meanwhile.body).toEqual({ visits: 1 });
    expect(meanwhile.ms).toBeLessThan(1000);
    for (const [i, answer] of answers.entries()) {
      // No session: a new one under a new key; the planted value is left as it was.
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ visits: 0 });
      expect(answer.key).toMatch(/^[a-z0-9]{32}$/);
      expect(answer.key).not.toBe(hostile[i]);
      expect(answer.ms).toBeLessThan(5000);
    }
    expect(Number(await client.sendCommand(['EXISTS', ...hostile.map(redisKey)]))).toBe(hostile.length);
  }, 120_000);

  it('a genuine session holding list(range(150000)) is read and saved, byte for byte as Python writes it', async () => {
    const { pickleDumps } = await import('../../src/codec/pickle.js');
    const range = Array.from({ length: 150_000 }, (_, i) => i);
    // import pickle, hashlib; b = pickle.dumps({'visits': 5, 'big': list(range(150000))}, 4); print(len(b), hashlib.sha256(b).hexdigest())
    const planted = pickleDumps(new Map<string, unknown>([['visits', 5], ['big', range]]));
    expect(createHash('sha256').update(planted).digest('hex')).toBe('2c4c88feec7ed2c30fa811f460edb5f50967e2906814500cdc24a3c6f16c6ff3');
    const key = await plant(planted);

    const first = await visit(key, true);
    expect(first).toMatchObject({ status: 200, body: { visits: 5 }, key });
    expect((await visit(key)).body).toEqual({ visits: 6 });
    // The same with 'visits': 6.
    const saved = await stored(key);
    expect(saved.length).toBe(619_088);
    expect(createHash('sha256').update(saved).digest('hex')).toBe('465dfa51af7cda5207bf3440457f5b4267b8498876b947c7f4a3ffac9f565a13');
  }, 60_000);

  it("a genuine session holding Python's inf, -inf, nan and 10**400 is read and saved, byte for byte as Python writes it", async () => {
    // import pickle; pickle.dumps({'visits': N, 'inf': float('inf'), 'ninf': float('-inf'),
    //   'nan': float('nan'), 'huge': 10**400}, 4).hex(), for N = 1 (below) and 2 (the same but one byte)
    const pythonBytes = (visits: number): Buffer =>
      Buffer.from(
        '800495ee000000000000007d94288c06766973697473944b' +
          visits.toString(16).padStart(2, '0') +
          '8c03696e6694477ff00000000000008c046e696e669447fff00000000000008c036e616e94477ff80000000000008c0468756765948aa7' +
          '0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000c1a92f7e3724b8f0e932dbeb3346a2d38aa4' +
          '9341aa96498ee059d0e171a25cc7e0e113487cb4cd76e7a0ba5959ce3642fe27a4c58dbf3486afe0fd6ccfecb2a04699ce5398628ed16a0e5c0e1250bfb7d0e53080b3ad' +
          'af50c18b0b19f58f25de8245e5b68dc377c1fb26cf1ccbf33f97917fecb401752e',
        'hex',
      );
    const key = await plant(pythonBytes(1));

    const first = await visit(key, true);
    expect(first).toMatchObject({ status: 200, body: { visits: 1 }, key });
    expect((await stored(key)).toString('hex')).toBe(pythonBytes(2).toString('hex'));
    const again = await visit(key, true);
    expect(again).toMatchObject({ status: 200, body: { visits: 2 }, key });
  }, 60_000);
});
