/**
 * The Redis access of the `cache` and `cached_db` session engines, over the Redis client the
 * application already has: node-redis (the `redis` package, v5 or later: a client, a client pool, a
 * cluster or a sentinel) or ioredis / iovalkey (a client or a cluster).
 *
 * Neither library is imported here, not even lazily: the clients are recognised by their shape
 * (structural types below, erased at compile time), so no Redis client is a dependency of this
 * package and the application's own copy, whatever its version, is the one used.
 */
import { SessionBackendUnavailable } from '../../session.errors.js';
import { DEFAULT_BACKEND_TIMEOUT_SECONDS, markBackendTimeout } from '../backend-timeout.js';

/** The Redis commands the cache engines use, on any supported client. */
export interface SessionRedis {
  /** GET key: the value's exact bytes (session values are Python pickles, not text), or null. */
  get(key: string): Promise<Buffer | null>;
  /**
   * `GETRANGE key 0 maxBytes`: the value's exact bytes when it holds at most `maxBytes`;
   * `'too-large'` when it holds more (then only `maxBytes + 1` of its bytes cross the network, never
   * the whole value); null when there is none. One round trip, as GET. An empty value reads as
   * none: GETRANGE answers the same empty string for both.
   */
  getAtMost(key: string, maxBytes: number): Promise<Buffer | null | 'too-large'>;
  /** SET key value EX ttl [NX|XX]; resolves true when written (false when NX/XX refused). ttlSeconds >= 1. */
  set(key: string, value: Buffer, ttlSeconds: number, condition?: 'NX' | 'XX'): Promise<boolean>;
  /** DEL key; deleting a missing key is not an error. */
  del(key: string): Promise<void>;
  /** PTTL key: milliseconds the entry has left; negative when it has no TTL (-1) or does not exist (-2). */
  pttl(key: string): Promise<number>;
  /** EXPIRE key seconds; resolves false when there is no such entry. ttlSeconds >= 1. */
  expire(key: string, ttlSeconds: number): Promise<boolean>;
  /** EXISTS key. */
  exists(key: string): Promise<boolean>;
  /** PING: resolves when the server answers. */
  ping(): Promise<void>;
  /**
   * Why the client cannot send commands as it stands, or undefined when it can (or may, once it
   * reconnects): a node-redis client that was never connected (`connect()`), an ioredis/iovalkey
   * client created with `lazyConnect` and not connected yet, or one closed for good. No I/O: read
   * from the client's own state, for the engines' start-up check.
   */
  notConnected(): string | undefined;
}

/** Options of {@link adaptRedisClient}. */
export interface RedisAdapterOptions {
  /**
   * How long one command may take, in milliseconds, before it rejects with
   * {@link SessionBackendUnavailable}. Default 3000 (the module's `backendTimeout` default). Bounds a request's wait on a Redis that is down
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

const DEFAULT_TIMEOUT_MS = DEFAULT_BACKEND_TIMEOUT_SECONDS * 1000;

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

/** What every node-redis kind (client, pool, cluster, sentinel) tells of its connection. */
interface NodeRedisState {
  /** True from `connect()` (also while reconnecting) until `close()`/`destroy()`. */
  readonly isOpen?: unknown;
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
  getrangeBuffer(key: string, start: number, end: number): Promise<Buffer>;
  set(key: string, value: Buffer, ex: 'EX', seconds: number, condition?: 'NX' | 'XX'): Promise<'OK' | null>;
  del(key: string): Promise<number>;
  exists(key: string): Promise<number>;
  pttl(key: string): Promise<number>;
  expire(key: string, seconds: number): Promise<number>;
  ping(): Promise<string>;
  /** `wait` (lazyConnect, not connected yet), `connecting`, `connect`, `ready`, `reconnecting`, `close`, `end` (closed for good). */
  readonly status?: unknown;
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
 * closed client, the client's own timeouts and retry limits) as SessionBackendUnavailable.
 */
function commandError(command: string, key: string | undefined, error: unknown): unknown {
  if (error instanceof SessionBackendUnavailable) return error;
  if (isReplyError(error) && !UNAVAILABLE_REPLY.test(error.message)) return error;
  // The message is what the app's log shows (SessionModule logs it, not the cause): so it carries
  // the cause, told safely.
  return new SessionBackendUnavailable(`Redis is unavailable: ${command} failed (${describeCause(error, key)})`, {
    cause: error,
  });
}

/** How much of one client message a log line carries. */
const MAX_CAUSE_TEXT = 200;

/**
 * The client's error as a log may show it: its class, its code (ECONNREFUSED...), its message, and
 * those of what it wraps (an AggregateError's errors, a `cause`), two levels deep. Without
 * secrets: the credentials of any URL in it (`redis://user:password@host` becomes
 * `redis://***@host`), anything written as `password=...`, and the command's key (it holds a
 * session key, a credential) are masked; host and port stay, they say which server failed.
 */
export function describeCause(error: unknown, key?: string, depth = 0): string {
  // By shape, not instanceof: a client's errors may come from another realm (Node's own, under a test runner).
  if (error === null || typeof error !== 'object' || typeof (error as Error).message !== 'string') {
    return error === undefined || error === null ? 'no reason given' : typeof error;
  }
  const e = error as Error & { code?: unknown; errors?: unknown };
  const name = (Object.getPrototypeOf(e) as { constructor?: { name?: string } } | null)?.constructor?.name || e.name || 'Error';
  let text = name;
  if (typeof e.code === 'string' && /^[A-Z0-9_]{1,40}$/.test(e.code) && !e.message.includes(e.code)) text += ` ${e.code}`;
  const message = maskSecrets(e.message, key);
  if (message !== '') text += `: ${message.length > MAX_CAUSE_TEXT ? `${message.slice(0, MAX_CAUSE_TEXT)}...` : message}`;
  if (depth >= 2) return text;
  const inner = Array.isArray(e.errors) ? e.errors.slice(0, 3) : e.cause !== undefined ? [e.cause] : [];
  if (inner.length > 0) text += ` [${inner.map((wrapped) => describeCause(wrapped, key, depth + 1)).join('; ')}]`;
  return text;
}

function maskSecrets(text: string, key: string | undefined): string {
  let masked = String(text).replace(/\s+/g, ' ').trim();
  if (key) masked = masked.split(key).join('<key>');
  return masked
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, '$1***@')
    .replace(/\b(pass(?:word)?|pwd|auth|secret|token)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;)\]}]+)/gi, '$1$2***');
}

// --- Adapters ---

abstract class RedisAdapter implements SessionRedis {
  constructor(protected readonly timeoutMs: number) {}

  /** Sends one command; the signal fires when this adapter stops waiting for it. */
  protected abstract send(command: Command, args: RedisArg[], signal: AbortSignal): Promise<unknown>;

  abstract notConnected(): string | undefined;

  async get(key: string): Promise<Buffer | null> {
    const reply = await this.run('GET', [key]);
    if (reply === null || Buffer.isBuffer(reply)) return reply;
    // A string here would mean the bytes were already decoded as UTF-8, i.e. a pickle corrupted.
    throw new TypeError(`Redis GET answered ${describeValue(reply)} where a Buffer was expected`);
  }

  async getAtMost(key: string, maxBytes: number): Promise<Buffer | null | 'too-large'> {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`Redis GETRANGE: maxBytes must be a whole number >= 0, got ${maxBytes}`);
    // The end offset is inclusive: maxBytes + 1 bytes tell "at most maxBytes" from "more".
    const reply = await this.run('GETRANGE', [key, '0', String(maxBytes)]);
    if (!Buffer.isBuffer(reply)) throw new TypeError(`Redis GETRANGE answered ${describeValue(reply)} where a Buffer was expected`);
    if (reply.length === 0) return null;
    return reply.length > maxBytes ? 'too-large' : reply;
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

  async pttl(key: string): Promise<number> {
    return Number(await this.run('PTTL', [key]));
  }

  async expire(key: string, ttlSeconds: number): Promise<boolean> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new RangeError(`Redis EXPIRE: ttlSeconds must be a whole number >= 1, got ${ttlSeconds}`);
    }
    return Number(await this.run('EXPIRE', [key, String(ttlSeconds)])) === 1;
  }

  async ping(): Promise<void> {
    await this.run('PING', []);
  }

  /**
   * Runs a command within `timeoutMs`. Clients queue commands while disconnected and retry them
   * (node-redis's offline queue, ioredis's maxRetriesPerRequest), so without this bound a request
   * could wait on a Redis that is down for as long as the client keeps trying.
   */
  private run(command: Command, args: RedisArg[]): Promise<unknown> {
    const controller = new AbortController();
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        controller.abort();
        reject(markBackendTimeout(new SessionBackendUnavailable(`Redis did not answer ${command} within ${this.timeoutMs} ms`)));
      }, this.timeoutMs);
      const settle = (error: unknown, value?: unknown) => {
        clearTimeout(timer);
        // After the timeout this is a no-op; the late outcome is consumed here, never unhandled.
        if (error === undefined) resolve(value);
        else reject(commandError(command, typeof args[0] === 'string' ? args[0] : undefined, error));
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

type Command = 'GET' | 'GETRANGE' | 'SET' | 'DEL' | 'EXISTS' | 'PTTL' | 'EXPIRE' | 'PING';

/** RESP_TYPES.BLOB_STRING (36) read as a Buffer: GET's bulk string, byte for byte. */
const BLOB_AS_BUFFER = { 36: Buffer } as const;

function nodeRedisOptions(command: string, signal: AbortSignal): NodeRedisCommandOptions {
  // Only GET's and GETRANGE's replies carry data; the others keep the client's own mapping (SET's
  // OK and nil, DEL's and EXISTS's integers are the same under any mapping).
  return command === 'GET' || command === 'GETRANGE' ? { typeMapping: BLOB_AS_BUFFER, abortSignal: signal } : { abortSignal: signal };
}

const NODE_REDIS_NOT_CONNECTED = 'it is not connected: node-redis connects only when told, so `await client.connect()` before the app starts';

/** node-redis's `isOpen`: false before `connect()` and after `close()`/`destroy()`. */
function nodeRedisNotConnected(client: NodeRedisState): string | undefined {
  return client.isOpen === false ? NODE_REDIS_NOT_CONNECTED : undefined;
}

class NodeRedisAdapter extends RedisAdapter {
  constructor(private readonly client: NodeRedisClientLike, timeoutMs: number) {
    super(timeoutMs);
  }
  notConnected(): string | undefined {
    return nodeRedisNotConnected(this.client as NodeRedisState);
  }
  protected send(command: string, args: RedisArg[], signal: AbortSignal): Promise<unknown> {
    return this.client.sendCommand([command, ...args], nodeRedisOptions(command, signal));
  }
}

class NodeRedisClusterAdapter extends RedisAdapter {
  constructor(private readonly client: NodeRedisClusterLike, timeoutMs: number) {
    super(timeoutMs);
  }
  notConnected(): string | undefined {
    return nodeRedisNotConnected(this.client as NodeRedisState);
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
  notConnected(): string | undefined {
    return nodeRedisNotConnected(this.client as NodeRedisState);
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
  notConnected(): string | undefined {
    // With lazyConnect the first command would connect; with `enableOfflineQueue: false` (which
    // adaptRedisClient recommends) it fails instead, and with the queue it waits on the connection.
    if (this.client.status === 'wait') return 'it was created with `lazyConnect` and is not connected yet: `await client.connect()` before the app starts';
    if (this.client.status === 'end') return 'it was closed (`quit()` or `disconnect()`) and will not reconnect';
    return undefined;
  }
  protected send(command: string, args: RedisArg[]): Promise<unknown> {
    // ioredis cannot withdraw a queued command, so the signal is not used (see adaptRedisClient).
    const c = this.client;
    const key = args[0] as string;
    switch (command) {
      case 'GET':
        return c.getBuffer(key);
      case 'GETRANGE':
        return c.getrangeBuffer(key, Number(args[1]), Number(args[2]));
      case 'SET': {
        const [, value, , ttl, condition] = args as [string, Buffer, 'EX', string, ('NX' | 'XX')?];
        // Without a condition the argument is left out: ioredis would send an undefined one as "".
        return condition ? c.set(key, value, 'EX', Number(ttl), condition) : c.set(key, value, 'EX', Number(ttl));
      }
      case 'DEL':
        return c.del(key);
      case 'EXISTS':
        return c.exists(key);
      case 'PTTL':
        return c.pttl(key);
      case 'EXPIRE':
        return c.expire(key, Number(args[1]));
      default:
        return c.ping();
    }
  }
}
