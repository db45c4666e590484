/**
 * Redis for tests. Suites share the server at TEST_REDIS_URL (see env.ts) and isolate their keys
 * under a `uniquePrefix()`; a suite that stops or restarts Redis (fault tests), or needs a cluster
 * or a sentinel, starts its own private `redis-server` processes on spare ports instead. Nothing
 * here flushes, reconfigures or shuts down the shared server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis as IoRedis, Cluster as IoCluster } from 'ioredis';
import { Redis as IoValkey, Cluster as IoValkeyCluster } from 'iovalkey';
import { createClient, createCluster, createSentinel } from 'redis';

const HOST = '127.0.0.1';

/** A key prefix no other test run uses, for keys on the shared server: `nds-test:<pid>:<random>:`. */
export function uniquePrefix(label = ''): string {
  return `nds-test:${label ? `${label}:` : ''}${process.pid}:${randomBytes(6).toString('hex')}:`;
}

/** A port nothing listens on right now: the kernel's pick for port 0, released at once. */
export function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something on `port` answers PING with PONG; rejects after `timeoutMs`. */
export async function waitForPong(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pingOnce(port)) return;
    if (Date.now() > deadline) throw new Error(`nothing answered PING on ${HOST}:${port} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: HOST, port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `redis-server` on PATH, or a clear failure naming what installs it. */
function redisServerBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || !path) {
    throw new Error('redis-server is not on PATH (test/interop/setup.sh installs it: apt-get install redis-server)');
  }
  return path;
}

/** One redis-server process this test run owns: it can be stopped and started again on its port. */
class OwnedRedis {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly #killOnExit = () => this.#child?.kill('SIGKILL');

  constructor(
    readonly port: number,
    private readonly args: string[],
  ) {}

  async start(): Promise<void> {
    if (this.#child) return;
    const child = spawn(redisServerBinary(), this.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // A jest worker that dies without afterAll must not leave our servers behind.
    process.once('exit', this.#killOnExit);
    const early = this.#exited.then(() => {
      throw new Error(`redis-server on port ${this.port} exited: ${stderr.trim()}`);
    });
    early.catch(() => undefined); // it also rejects at a later stop(), when nobody waits on it
    try {
      await Promise.race([waitForPong(this.port), early]);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    process.removeListener('exit', this.#killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      // SIGTERM: redis-server closes its connections and exits (no RDB to save: --save "").
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 5000);
      await this.#exited;
      clearTimeout(killed);
    }
  }
}

/** A private Redis server: see {@link privateRedisServer}. */
export interface PrivateRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM); clients see the connection drop. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty; resolves once it answers PING. */
  start(): Promise<void>;
}

/**
 * Starts a `redis-server` of its own on a spare port, without persistence, for tests that stop and
 * restart Redis; the shared server at TEST_REDIS_URL is never touched. Call `stop()` in afterAll.
 */
export async function privateRedisServer(): Promise<PrivateRedis> {
  const port = await sparePort();
  const dir = mkdtempSync(join(tmpdir(), 'nds-redis-'));
  // --dir: redis-server may write there (it never should with --save ""), never in the cwd.
  const server = new OwnedRedis(port, ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', HOST, '--dir', dir]);
  const start = async () => {
    mkdirSync(dir, { recursive: true });
    await server.start();
  };
  await start();
  return {
    url: `redis://${HOST}:${port}`,
    port,
    start,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A private Redis Cluster: see {@link privateRedisCluster}. */
export interface PrivateRedisCluster {
  nodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

/**
 * Starts a Redis Cluster of its own: `masters` private servers in cluster mode with the 16384 slots
 * split between them (`redis-cli --cluster create`), no replicas. Call `stop()` in afterAll.
 */
export async function privateRedisCluster(masters = 3): Promise<PrivateRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'nds-redis-cluster-'));
  const servers: OwnedRedis[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await sparePort();
      const server = new OwnedRedis(port, [
        '--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir,
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000',
      ]);
      servers.push(server);
      await server.start();
    }
    const addresses = servers.map((s) => `${HOST}:${s.port}`);
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout || created.error}`);
    // The nodes agree on the slot map a moment after the slots are assigned.
    for (const server of servers) await waitForClusterOk(server.port);
    return { nodes: servers.map((s) => ({ host: HOST, port: s.port })), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitForClusterOk(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = spawnSync('redis-cli', ['-h', HOST, '-p', String(port), 'CLUSTER', 'INFO'], { encoding: 'utf8' });
    if (info.stdout.includes('cluster_state:ok')) return;
    if (Date.now() > deadline) throw new Error(`cluster node ${port} not ok after ${timeoutMs} ms: ${info.stdout}`);
    await sleep(100);
  }
}

/** A private Redis with a Sentinel watching it: see {@link privateRedisSentinel}. */
export interface PrivateRedisSentinel {
  /** The name the sentinel knows the master by. */
  name: string;
  master: { host: string; port: number };
  sentinel: { host: string; port: number };
  stop(): Promise<void>;
}

/** Starts a private Redis and a Redis Sentinel (`redis-server --sentinel`) monitoring it. */
export async function privateRedisSentinel(): Promise<PrivateRedisSentinel> {
  const master = await privateRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'nds-redis-sentinel-'));
  const port = await sparePort();
  const name = 'nds-test-master';
  // Sentinel rewrites its configuration file, so it must be a file of its own.
  const config = join(dir, 'sentinel.conf');
  writeFileSync(config, [`port ${port}`, `bind ${HOST}`, `dir ${dir}`, `sentinel monitor ${name} ${HOST} ${master.port} 1`, ''].join('\n'));
  const sentinel = new OwnedRedis(port, [config, '--sentinel']);
  try {
    await sentinel.start();
  } catch (error) {
    await master.stop();
    throw error;
  }
  return {
    name,
    master: { host: HOST, port: master.port },
    sentinel: { host: HOST, port },
    stop: async () => {
      await sentinel.stop();
      await master.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis client library the session engines support, as the tests connect and drive it. */
export interface RedisClientFactory {
  name: 'node-redis' | 'ioredis' | 'iovalkey';
  /**
   * A connected client with the library's defaults (offline queue, retries), as an app would have
   * it, plus `options` (the library's own client options).
   */
  connect(url: string, options?: Record<string, unknown>): Promise<unknown>;
  /** Closes it, also when the server is gone. */
  close(client: unknown): Promise<void>;
  /** Any command through the library itself (replies as the library gives them, strings by default). */
  call(client: unknown, ...args: string[]): Promise<unknown>;
}

type NodeRedis = ReturnType<typeof createClient>;

// Every client gets an 'error' listener: node-redis would otherwise throw its connection errors
// from the EventEmitter (a crashed worker), ioredis would print them.
const ignore = () => undefined;

const ioFactory = (name: 'ioredis' | 'iovalkey', Client: typeof IoRedis | typeof IoValkey): RedisClientFactory => ({
  name,
  async connect(url, options = {}) {
    const client = new Client(url, { ...options, lazyConnect: true });
    client.on('error', ignore);
    await client.connect();
    return client;
  },
  async close(client) {
    // disconnect(), not quit(): quit() would wait for a server that a fault test stopped.
    (client as IoRedis).disconnect();
  },
  call: (client, command, ...args) => (client as IoRedis).call(command!, ...args),
});

/** The supported client libraries, for tests that run once per library. */
export const REDIS_CLIENTS: RedisClientFactory[] = [
  {
    name: 'node-redis',
    async connect(url, options = {}) {
      const client = createClient({ ...options, url });
      client.on('error', ignore);
      await client.connect();
      return client;
    },
    async close(client) {
      const c = client as NodeRedis;
      // destroy(): close() would wait for replies a stopped server will never send.
      if (c.isOpen) c.destroy();
    },
    call: (client, ...args) => (client as NodeRedis).sendCommand(args),
  },
  ioFactory('ioredis', IoRedis),
  ioFactory('iovalkey', IoValkey),
];

/** A cluster client of a supported library, for tests that run once per library. */
export interface RedisClusterFactory {
  name: 'node-redis' | 'ioredis' | 'iovalkey';
  connect(nodes: Array<{ host: string; port: number }>): Promise<unknown>;
  close(client: unknown): Promise<void>;
}

type NodeRedisCluster = ReturnType<typeof createCluster>;

const ioClusterFactory = (name: 'ioredis' | 'iovalkey', Client: typeof IoCluster | typeof IoValkeyCluster): RedisClusterFactory => ({
  name,
  async connect(nodes) {
    const client = new Client(nodes, { lazyConnect: true });
    client.on('error', ignore);
    await client.connect();
    return client;
  },
  async close(client) {
    (client as IoCluster).disconnect();
  },
});

/** The supported cluster clients. */
export const REDIS_CLUSTER_CLIENTS: RedisClusterFactory[] = [
  {
    name: 'node-redis',
    async connect(nodes) {
      const client = createCluster({ rootNodes: nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })) });
      client.on('error', ignore);
      await client.connect();
      return client;
    },
    async close(client) {
      const c = client as NodeRedisCluster;
      if (c.isOpen) c.destroy();
    },
  },
  ioClusterFactory('ioredis', IoCluster),
  ioClusterFactory('iovalkey', IoValkeyCluster),
];

type NodeRedisSentinel = ReturnType<typeof createSentinel>;

/** A node-redis `createSentinel` client of a {@link privateRedisSentinel}. */
export async function connectNodeRedisSentinel(setup: PrivateRedisSentinel): Promise<NodeRedisSentinel> {
  const client = createSentinel({ name: setup.name, sentinelRootNodes: [setup.sentinel] });
  client.on('error', ignore);
  await client.connect();
  return client;
}

/** Deletes every key under `prefix` on the server at `url` (SCAN, never FLUSH*: the server is shared). */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<number> {
  if (!prefix) throw new Error('deleteKeysWithPrefix: an empty prefix would delete everything');
  const client = createClient({ url });
  client.on('error', ignore);
  await client.connect();
  let deleted = 0;
  try {
    for await (const keys of client.scanIterator({ MATCH: `${escapeGlob(prefix)}*`, COUNT: 1000 })) {
      if (keys.length > 0) deleted += await client.del(keys);
    }
  } finally {
    client.destroy();
  }
  return deleted;
}

/** A prefix as a literal in a SCAN MATCH pattern. */
function escapeGlob(text: string): string {
  return text.replace(/[\\*?[\]]/g, '\\$&');
}
