/**
 * The Redis access of the `cache` and `cached_db` session engines, over the Redis client the
 * application already has: node-redis (the `redis` package, v5 or later: a client, a client pool, a
 * cluster or a sentinel) or ioredis / iovalkey (a client or a cluster).
 *
 * Neither library is imported here, not even lazily: the clients are recognised by their shape
 * (structural types below, erased at compile time), so no Redis client is a dependency of this
 * package and the application's own copy, whatever its version, is the one used.
 */
import { SessionStoreUnavailable } from '../../session.errors.js';

/** The Redis commands the cache engines use, on any supported client. */
export interface SessionRedis {
  /** GET key: the value's exact bytes (session values are Python pickles, not text), or null. */
  get(key: string): Promise<Buffer | null>;
  /** SET key value EX ttl [NX|XX]; resolves true when written (false when NX/XX refused). ttlSeconds >= 1. */
  set(key: string, value: Buffer, ttlSeconds: number, condition?: 'NX' | 'XX'): Promise<boolean>;
  /** DEL key; deleting a missing key is not an error. */
  del(key: string): Promise<void>;
  /** EXISTS key. */
  exists(key: string): Promise<boolean>;
  /** PING: resolves when the server answers. */
  ping(): Promise<void>;
}

/** Options of {@link adaptRedisClient}. */
export interface RedisAdapterOptions {
  /**
   * How long one command may take, in milliseconds, before it rejects with
   * {@link SessionStoreUnavailable}. Default 2000. Bounds a request's wait on a Redis that is down
   * or stalled; it does not change the client's own reconnecting or retrying.
   */
  timeoutMs?: number;
}

/**
 * Wraps an application's Redis client in the few commands the session engines need.
 *
 * Accepts:
 * - node-redis v5+ (`createClient`, `createClientPool`, `createCluster`, `createSentinel` from the
 *   `redis` package), connected by the application. Replies are read as Buffers through the
 *   per-command `typeMapping` option, so the client's own type mapping is left as it is.
 * - ioredis (`new Redis()`, `new Redis.Cluster()`) and iovalkey, its fork with the same API.
 *
 * Every command is bounded by `timeoutMs`, but the client should be told to give up too, or a
 * command that timed out here may still run later, when Redis is back (a stale session write):
 * - node-redis: `createClient({ disableOfflineQueue: true })` makes commands fail at once while it
 *   reconnects instead of queueing them. (Commands this adapter gave up on are also withdrawn from
 *   node-redis's queue when still unsent, through their `abortSignal`.)
 * - ioredis / iovalkey: `new Redis({ enableOfflineQueue: false, autoResendUnfulfilledCommands: false })`
 *   (then a command fails at once while it reconnects, and one that was sent but unanswered when the
 *   connection dropped is not sent again), or at least `maxRetriesPerRequest: 1`; `commandTimeout`
 *   bounds a command already sent. ioredis offers no way to withdraw a queued command, so with its
 *   defaults a SET this adapter gave up on is still sent when the connection comes back. With
 *   `enableOfflineQueue: false`, wait for the client's `ready` before the first request.
 *
 * The client is not modified, connected or closed here: its life is the application's. An adapter
 * passed in again is returned as it is.
 *
 * @throws TypeError when `client` is none of the above (the message says what it is).
 * @throws RangeError when `options.timeoutMs` is not a positive finite number.
 */
export function adaptRedisClient(client: unknown, options: RedisAdapterOptions = {}): SessionRedis {
  if (client instanceof RedisAdapter) return client;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`adaptRedisClient: timeoutMs must be a positive number of milliseconds, got ${String(timeoutMs)}`);
  }
  const kind = clientKind(client);
  switch (kind) {
    case 'ioredis':
      return new IoRedisAdapter(client as IoRedisLike, timeoutMs);
    case 'node-redis':
      return new NodeRedisAdapter(client as NodeRedisClientLike, timeoutMs);
    case 'node-redis-cluster':
      return new NodeRedisClusterAdapter(client as NodeRedisClusterLike, timeoutMs);
    case 'node-redis-sentinel':
      return new NodeRedisSentinelAdapter(client as NodeRedisSentinelLike, timeoutMs);
    case 'node-redis-legacy':
      throw new TypeError(
        `adaptRedisClient: got ${describeValue(client)}, a node-redis client without withTypeMapping ` +
          '(node-redis before v5, or a legacy-mode client): pass a node-redis v5 client (not client.legacy())',
      );
    default:
      throw new TypeError(
        'adaptRedisClient: expected a node-redis v5+ client, pool, cluster or sentinel, or an ioredis/iovalkey ' +
          `client or cluster; got ${describeValue(client)}`,
      );
  }
}

/** Whether {@link adaptRedisClient} accepts `client` (a supported Redis client, or an adapter already). */
export function isRedisClient(client: unknown): boolean {
  if (client instanceof RedisAdapter) return true;
  const kind = clientKind(client);
  return kind !== undefined && kind !== 'node-redis-legacy';
}

const DEFAULT_TIMEOUT_MS = 2000;

// --- The clients' shapes: only what is called here, so any version with these methods fits. ---

type RedisArg = string | Buffer;

/** node-redis v5 command options (`CommandOptions` in @redis/client). */
interface NodeRedisCommandOptions {
  /** RESP type number to JavaScript constructor; 36 is RESP_TYPES.BLOB_STRING. */
  typeMapping?: Record<number, unknown>;
  /** Withdraws the command from the queue while it is still unsent. */
  abortSignal?: AbortSignal;
}

/** node-redis `RedisClient` and `RedisClientPool`. */
interface NodeRedisClientLike {
  sendCommand(args: readonly RedisArg[], options?: NodeRedisCommandOptions): Promise<unknown>;
}

/** node-redis `RedisCluster`: routes by the command's first key. */
interface NodeRedisClusterLike {
  sendCommand(
    firstKey: RedisArg | undefined,
    isReadonly: boolean | undefined,
    args: readonly RedisArg[],
    options?: NodeRedisCommandOptions,
  ): Promise<unknown>;
}

/** node-redis `RedisSentinel`: routes reads and writes to the current master (or a replica for reads). */
interface NodeRedisSentinelLike {
  sendCommand(isReadonly: boolean | undefined, args: readonly RedisArg[], options?: NodeRedisCommandOptions): Promise<unknown>;
}

/** ioredis / iovalkey `Redis` and `Cluster`. */
interface IoRedisLike {
  getBuffer(key: string): Promise<Buffer | null>;
  set(key: string, value: Buffer, ex: 'EX', seconds: number, condition?: 'NX' | 'XX'): Promise<'OK' | null>;
  del(key: string): Promise<number>;
  exists(key: string): Promise<number>;
  ping(): Promise<string>;
}

type ClientKind = 'ioredis' | 'node-redis' | 'node-redis-cluster' | 'node-redis-sentinel' | 'node-redis-legacy';

function clientKind(client: unknown): ClientKind | undefined {
  if (client === null || (typeof client !== 'object' && typeof client !== 'function')) return undefined;
  const c = client as Record<string, unknown>;
  const has = (method: string) => typeof c[method] === 'function';
  // ioredis and iovalkey (clients and clusters alike) have a *Buffer twin of every command.
  if (has('getBuffer') && has('set')) return 'ioredis';
  if (!has('sendCommand')) return undefined;
  // Before v5 (and in v5's legacy mode) there is no per-command type mapping, so no Buffer replies
  // through sendCommand; such a client gets a precise error rather than corrupted session data.
  if (!has('withTypeMapping')) return 'node-redis-legacy';
  // sendCommand's parameters differ between the three (see the interfaces above).
  if (has('getSlotMaster')) return 'node-redis-cluster';
  // RedisSentinel, or a client leased from it by `sentinel.acquire()` (no connect, but release).
  if (has('getSentinelNode') || (has('release') && has('_execute') && !has('connect'))) return 'node-redis-sentinel';
  return 'node-redis';
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    return typeof name === 'string' && name !== '' && name !== 'Object' ? `an instance of ${name}` : 'a plain object';
  }
  return `a ${typeof value}`;
}

// --- Errors ---

/**
 * Redis reply errors that mean "not now" rather than "wrong command": the store is unavailable
 * (loading its dataset, busy with a script, a cluster or master down, a replica after a failover).
 */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY)\b/;

/**
 * A server's error reply (node-redis `ErrorReply`, ioredis/iovalkey `ReplyError` from redis-errors):
 * the server answered, so the store is up. Recognised by class name, as neither library is imported.
 */
function isReplyError(error: unknown): error is Error {
  for (let proto = error instanceof Error ? Object.getPrototypeOf(error) : null; proto; proto = Object.getPrototypeOf(proto)) {
    const name = (proto as { constructor?: { name?: string } }).constructor?.name;
    if (name === 'ErrorReply' || name === 'ReplyError') return true;
    if (name === 'Error') return false;
  }
  return false;
}

/**
 * What a failed command rejects with: server error replies as they are (a WRONGTYPE or NOAUTH is a
 * bug or a misconfiguration to see plainly), everything else (refused or dropped connections, a
 * closed client, the client's own timeouts and retry limits) as SessionStoreUnavailable.
 */
function commandError(command: string, error: unknown): unknown {
  if (error instanceof SessionStoreUnavailable) return error;
  if (isReplyError(error) && !UNAVAILABLE_REPLY.test(error.message)) return error;
  // The class name only: the client's message may hold a host, a port or worse.
  const what = error instanceof Error ? (Object.getPrototypeOf(error)?.constructor?.name ?? error.name) : typeof error;
  return new SessionStoreUnavailable(`Redis is unavailable: ${command} failed (${what}); see this error's cause`, {
    cause: error,
  });
}

// --- Adapters ---

abstract class RedisAdapter implements SessionRedis {
  constructor(protected readonly timeoutMs: number) {}

  /** Sends one command; the signal fires when this adapter stops waiting for it. */
  protected abstract send(command: 'GET' | 'SET' | 'DEL' | 'EXISTS' | 'PING', args: RedisArg[], signal: AbortSignal): Promise<unknown>;

  async get(key: string): Promise<Buffer | null> {
    const reply = await this.run('GET', [key]);
    if (reply === null || Buffer.isBuffer(reply)) return reply;
    // A string here would mean the bytes were already decoded as UTF-8, i.e. a pickle corrupted.
    throw new TypeError(`Redis GET answered ${describeValue(reply)} where a Buffer was expected`);
  }

  async set(key: string, value: Buffer, ttlSeconds: number, condition?: 'NX' | 'XX'): Promise<boolean> {
    // SET ... EX 0 is an error reply and a fraction is rejected too; refuse before sending.
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new RangeError(`Redis SET: ttlSeconds must be a whole number >= 1, got ${ttlSeconds}`);
    }
    if (condition !== undefined && condition !== 'NX' && condition !== 'XX') {
      throw new RangeError(`Redis SET: condition must be 'NX' or 'XX', got ${String(condition)}`);
    }
    const args: RedisArg[] = [key, value, 'EX', String(ttlSeconds)];
    if (condition) args.push(condition);
    // OK when written; a nil reply when NX/XX refused.
    return (await this.run('SET', args)) !== null;
  }

  async del(key: string): Promise<void> {
    await this.run('DEL', [key]);
  }

  async exists(key: string): Promise<boolean> {
    return Number(await this.run('EXISTS', [key])) > 0;
  }

  async ping(): Promise<void> {
    await this.run('PING', []);
  }

  /**
   * Runs a command within `timeoutMs`. Clients queue commands while disconnected and retry them
   * (node-redis's offline queue, ioredis's maxRetriesPerRequest), so without this bound a request
   * could wait on a Redis that is down for as long as the client keeps trying.
   */
  private run(command: 'GET' | 'SET' | 'DEL' | 'EXISTS' | 'PING', args: RedisArg[]): Promise<unknown> {
    const controller = new AbortController();
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        controller.abort();
        reject(new SessionStoreUnavailable(`Redis did not answer ${command} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const settle = (error: unknown, value?: unknown) => {
        clearTimeout(timer);
        // After the timeout this is a no-op; the late outcome is consumed here, never unhandled.
        if (error === undefined) resolve(value);
        else reject(commandError(command, error));
      };
      let pending: Promise<unknown>;
      try {
        pending = this.send(command, args, controller.signal);
      } catch (error) {
        // Some clients throw synchronously (a closed client, say) instead of rejecting.
        settle(error ?? new Error('Redis client threw'));
        return;
      }
      Promise.resolve(pending).then(
        (value) => settle(undefined, value),
        (error: unknown) => settle(error ?? new Error(`Redis ${command} rejected without a reason`)),
      );
    });
  }
}

/** RESP_TYPES.BLOB_STRING (36) read as a Buffer: GET's bulk string, byte for byte. */
const BLOB_AS_BUFFER = { 36: Buffer } as const;

function nodeRedisOptions(command: string, signal: AbortSignal): NodeRedisCommandOptions {
  // Only GET's reply carries data; the others keep the client's own mapping (SET's OK and nil,
  // DEL's and EXISTS's integers are the same under any mapping).
  return command === 'GET' ? { typeMapping: BLOB_AS_BUFFER, abortSignal: signal } : { abortSignal: signal };
}

class NodeRedisAdapter extends RedisAdapter {
  constructor(private readonly client: NodeRedisClientLike, timeoutMs: number) {
    super(timeoutMs);
  }
  protected send(command: string, args: RedisArg[], signal: AbortSignal): Promise<unknown> {
    return this.client.sendCommand([command, ...args], nodeRedisOptions(command, signal));
  }
}

class NodeRedisClusterAdapter extends RedisAdapter {
  constructor(private readonly client: NodeRedisClusterLike, timeoutMs: number) {
    super(timeoutMs);
  }
  protected send(command: string, args: RedisArg[], signal: AbortSignal): Promise<unknown> {
    // The first key picks the slot's node; PING (no key) goes to any node. Never "read-only": with
    // `useReplicas` a read could go to a replica that has not yet seen the session just written.
    return this.client.sendCommand(args[0], false, [command, ...args], nodeRedisOptions(command, signal));
  }
}

class NodeRedisSentinelAdapter extends RedisAdapter {
  constructor(private readonly client: NodeRedisSentinelLike, timeoutMs: number) {
    super(timeoutMs);
  }
  protected send(command: string, args: RedisArg[], signal: AbortSignal): Promise<unknown> {
    // Reads stay on the master too (not "read-only"): a replica may lag behind a session just written.
    return this.client.sendCommand(false, [command, ...args], nodeRedisOptions(command, signal));
  }
}

class IoRedisAdapter extends RedisAdapter {
  constructor(private readonly client: IoRedisLike, timeoutMs: number) {
    super(timeoutMs);
  }
  protected send(command: string, args: RedisArg[]): Promise<unknown> {
    // ioredis cannot withdraw a queued command, so the signal is not used (see adaptRedisClient).
    const c = this.client;
    const key = args[0] as string;
    switch (command) {
      case 'GET':
        return c.getBuffer(key);
      case 'SET': {
        const [, value, , ttl, condition] = args as [string, Buffer, 'EX', string, ('NX' | 'XX')?];
        // Without a condition the argument is left out: ioredis would send an undefined one as "".
        return condition ? c.set(key, value, 'EX', Number(ttl), condition) : c.set(key, value, 'EX', Number(ttl));
      }
      case 'DEL':
        return c.del(key);
      case 'EXISTS':
        return c.exists(key);
      default:
        return c.ping();
    }
  }
}
