/**
 * `@Session()` in WebSocket gateways (`@nestjs/websockets`, on the socket.io and ws adapters).
 * Nothing of `@nestjs/websockets` is loaded here: a message is recognised by
 * `context.getType() === 'ws'`, and the client and its handshake by duck typing.
 *
 * A socket has no response to carry a `Set-Cookie`, so it can only use a session the browser
 * already holds the cookie of (the handshake's, sent when the socket connected):
 *
 * - the session is read again for every message, so what HTTP requests did since (a logout, a
 *   login) is what the next message sees;
 * - the changes a handler makes to a stored session are saved after it, as after an HTTP handler
 *   (not when it throws an error other than a `WsException` or an `HttpException` below 500);
 * - anything that would need a new cookie — a new session, `cycleKey()`, any save on the
 *   `signed_cookies` engine (the data is the cookie) — fails with `SocketSessionError` and
 *   stores nothing;
 * - `flush()` (a logout) works: the row goes, and the browser's cookie then names no session.
 */
import type { ExecutionContext } from '@nestjs/common';
import type { CookieCarrier, RequestSessionState } from '../session.requests.js';
import { SessionStore, type AppSessionData } from '../session.store.js';

/**
 * What a gateway handler attempted that only an HTTP response can do: set a new session cookie.
 * Create the session over HTTP (a login route) before the socket connects.
 */
export class SocketSessionError extends Error {
  override name = 'SocketSessionError';
}

const NO_COOKIE_OVER_SOCKET = 'no cookie can be sent over a WebSocket. Create or rotate the session over HTTP (a login route), then (re)connect the socket.';

/** The message a `SocketSessionError` carries for `what`. */
export function socketSessionMessage(what: string): string {
  return `${what} needs a new session cookie, and ${NO_COOKIE_OVER_SOCKET}`;
}

/**
 * The `SessionStore` of a WebSocket message: the same dictionary, minus what needs a new cookie.
 * Those refusals are thrown before any I/O, so nothing is stored.
 */
export class SocketSessionStore<T extends object = AppSessionData> extends SessionStore<T> {
  /** Refused: a new key only reaches the browser in a `Set-Cookie`. */
  override cycleKey(): Promise<void> {
    throw new SocketSessionError(socketSessionMessage('session.cycleKey() in a WebSocket handler'));
  }

  /** Saves a session the browser holds the cookie of; refuses to create one. */
  override async save(): Promise<void> {
    await this.settle();
    const key = this.sessionKey;
    if (key === null) throw new SocketSessionError(socketSessionMessage('Creating a session in a WebSocket handler'));
    await super.save();
    // An engine whose key is the data (signed cookies) made a new key: nothing was stored, and
    // only a cookie could carry it.
    if (this.sessionKey !== key) throw new SocketSessionError(socketSessionMessage('Saving a session whose engine keeps it in the cookie (signed_cookies)'));
  }
}

// ---- the handshake: where a client's cookie comes from ------------------------------------------

const HANDSHAKE = Symbol('nestjs-django-session:handshake');

/**
 * Keeps the cookie of the HTTP request that opened `client`'s connection, for `@Session()` in its
 * messages. `SessionModule` does it itself for Nest's adapters; call it from a gateway's
 * `handleConnection(client, request)` with an adapter of your own whose clients keep no handshake.
 */
export function rememberSessionHandshake(client: object, request: CookieCarrier | undefined): void {
  if (request === null || typeof request !== 'object' || request.headers === null || typeof request.headers !== 'object') return;
  // The cookie alone: the request itself need not live as long as the socket.
  (client as Record<PropertyKey, unknown>)[HANDSHAKE] = { headers: { cookie: request.headers.cookie } } satisfies CookieCarrier;
}

/**
 * The headers `client` connected with: socket.io's `client.handshake.headers`; the ws adapter's
 * upgrade request, kept by `rememberSessionHandshake` (ws's own socket keeps none); else
 * `client.request` (socket.io's, or another library's). Undefined when none can be found.
 */
export function handshakeOf(client: unknown): CookieCarrier | undefined {
  if (client === null || typeof client !== 'object') return undefined;
  const c = client as Record<PropertyKey, any>;
  const kept = c[HANDSHAKE] as CookieCarrier | undefined;
  if (kept !== undefined) return kept;
  for (const carrier of [c.handshake, c.request]) {
    if (carrier !== null && typeof carrier === 'object' && carrier.headers !== null && typeof carrier.headers === 'object') return carrier;
  }
  return undefined;
}

/** What `@Session()` and `forContext()` say when a message's client came without a handshake they could read. */
export const NO_HANDSHAKE =
  'The session found no handshake for this WebSocket client (socket.io keeps it as client.handshake; for ws, SessionModule keeps the upgrade request ' +
  'when the app uses a Nest WebSocket adapter). With another adapter, call rememberSessionHandshake(client, request) in handleConnection(client, request).';

/** What of Nest's `ApplicationConfig` capturing handshakes uses. */
interface IoAdapterConfig {
  getIoAdapter(): any;
  setIoAdapter(adapter: any): void;
}

const CAPTURING = Symbol('nestjs-django-session:captures-handshakes');

/**
 * Makes the app's WebSocket adapter keep each client's handshake cookie: its `bindClientConnect`
 * (the adapter API that hands Nest each new client, with the ws adapter's upgrade request as the
 * second argument) is wrapped — the adapter set now, and any set later with
 * `app.useWebSocketAdapter()` or by Nest (its default socket.io adapter) before the gateways bind.
 */
export function captureHandshakes(config: IoAdapterConfig): void {
  const target = config as unknown as Record<PropertyKey, unknown>;
  if (target[CAPTURING] === true) return;
  target[CAPTURING] = true;
  wrapAdapter(config.getIoAdapter());
  const setIoAdapter = config.setIoAdapter;
  config.setIoAdapter = function (this: unknown, adapter: any) {
    wrapAdapter(adapter);
    return setIoAdapter.call(this, adapter);
  };
}

const wrappedAdapters = new WeakSet<object>();

function wrapAdapter(adapter: any): void {
  if (adapter === null || typeof adapter !== 'object' || wrappedAdapters.has(adapter)) return;
  const bindClientConnect = adapter.bindClientConnect;
  if (typeof bindClientConnect !== 'function') return;
  wrappedAdapters.add(adapter);
  adapter.bindClientConnect = function (this: unknown, server: unknown, callback: (...args: unknown[]) => unknown) {
    return bindClientConnect.call(this, server, (client: unknown, ...rest: unknown[]) => {
      const request = rest[0] as CookieCarrier | undefined;
      if (client !== null && typeof client === 'object' && handshakeOf(client) === undefined) rememberSessionHandshake(client, request);
      return callback(client, ...rest);
    });
  };
}

// ---- the session of one message --------------------------------------------------------------

const MESSAGE_SESSION = Symbol('nestjs-django-session:message');

interface MessageSession {
  readonly [MESSAGE_SESSION]: RequestSessionState;
}

/**
 * Hands a message's session to its handler's `@Session()`. A socket carries many messages, side
 * by side, so the session cannot be kept on the client: it travels in the message's arguments,
 * the one thing Nest passes both to the interceptors and (copied) to the parameter decorators.
 * Inserted before the last argument, the pattern, which `getPattern()` reads from the end; the
 * client and the data keep their places.
 */
export function attachMessageSession(context: ExecutionContext, state: RequestSessionState): void {
  const args = context.getArgs();
  args.splice(Math.max(args.length - 1, 2), 0, { [MESSAGE_SESSION]: state } satisfies MessageSession);
}

/** The session `attachMessageSession` gave this message, if any. */
export function messageSessionOf(context: ExecutionContext): RequestSessionState | undefined {
  for (const arg of context.getArgs()) {
    if (arg !== null && typeof arg === 'object' && MESSAGE_SESSION in arg) return (arg as MessageSession)[MESSAGE_SESSION];
  }
  return undefined;
}

/** @nestjs/websockets's `MESSAGE_METADATA`, set by `@SubscribeMessage()` (re-typed: an optional peer). */
const MESSAGE_METADATA = 'message';

/** Whether `method` is a gateway's message handler. */
export function isMessageHandler(method: unknown): boolean {
  return typeof method === 'function' && Reflect.getMetadata(MESSAGE_METADATA, method) !== undefined;
}

/** Whether `error` is a `WsException` (its shape: `@nestjs/websockets` is not loaded here). */
export function isWsException(error: unknown): boolean {
  return error instanceof Error && typeof (error as { getError?: unknown }).getError === 'function' && 'error' in error;
}
