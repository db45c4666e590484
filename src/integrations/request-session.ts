import { inspect, type InspectOptions } from 'node:util';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { SESSION_OPTIONS } from '../session.constants.js';
import { RETRY_AFTER_SECONDS, SessionBackendUnavailable, UNAVAILABLE_MESSAGE } from '../session.errors.js';
import { SessionResponses } from '../session.responses.js';
import type { ResolvedSessionOptions } from '../session-options.interface.js';
import { commitBeforeEnd, commitOnFastifySend, dataSnapshot, SessionRequests, type RequestSessionState } from '../session.requests.js';
import type { SessionStore } from '../session.store.js';

type Callback = (error?: unknown) => void;

const logger = new Logger('RequestSession');

/** What Nest's default filter answers for the same condition (see SessionExceptionFilter). */
const UNAVAILABLE_BODY = { statusCode: 503, message: UNAVAILABLE_MESSAGE, error: 'Service Unavailable' };

/** The methods of express-session's `Session` and @fastify/session's, over one `SessionStore`. */
const API = new Set(['id', 'regenerate', 'save', 'destroy', 'reload', 'touch', 'cookie', 'get', 'set', 'data', 'toJSON']);

/** Runs `io` and reports to an express-session-style callback, or resolves (Fastify's promise style). */
function settle(io: Promise<unknown>, callback?: Callback): Promise<void> | void {
  const done = io.then(() => undefined);
  if (typeof callback !== 'function') return done;
  done.then(() => callback(), (error: unknown) => callback(error));
}

/**
 * `req.session` as Express and Fastify middleware (Passport above all) expect it: the request's
 * `SessionStore` — the object `@Session()` and guards get, saved by the same rules — seen through
 * express-session's API (`regenerate`, `save`, `destroy`, `reload`, `touch`, `id`, property
 * access such as `req.session.passport.user`) and @fastify/session's (`get`, `set`, `regenerate`,
 * `data`). Nested changes made through property access are saved without `modified = true`
 * (passport does not set it): the data is compared with what it was when first looked at.
 */
export function requestSessionFacade(
  state: RequestSessionState,
  request: Record<PropertyKey, any>,
  options: ResolvedSessionOptions,
): Record<string, any> {
  // One small object per request behind a handler shared by all: middleware such as Passport reads
  // req.session on every request, so what the facade allocates is paid by every route.
  const facade: Facade = {
    state,
    request,
    options,
    snapshot: undefined,
    detached: undefined,
    api: undefined,
    proxy: undefined,
    // util.inspect prints a Proxy's target, calling this with the Proxy as `this`: it closes over the state.
    [inspect.custom]: (_depth: number, inspectOptions: InspectOptions) => `RequestSession ${inspect(state.store, inspectOptions)}`,
  };
  return (facade.proxy = new Proxy(facade, FACADE_HANDLER) as unknown as Record<string, any>);
}

/** The facade's own state (the Proxy's target: never seen by middleware, which sees the traps). */
interface Facade {
  readonly state: RequestSessionState;
  readonly request: Record<PropertyKey, any>;
  readonly options: ResolvedSessionOptions;
  /** The data as JSON when middleware first looked (for changes made in place, e.g. passport.user). */
  snapshot: string | undefined;
  /** After `regenerate()`: the old data, which the object the caller held keeps showing. */
  detached: Record<string, unknown> | undefined;
  /** The methods, made when middleware first asks for one. */
  api: Record<string, unknown> | undefined;
  proxy: Record<string, any> | undefined;
  /** Printing `req.session` (util.inspect shows a Proxy's target): the session, never the request or the options. */
  [inspect.custom]: (depth: number, options: InspectOptions) => string;
}

/** Records what the data was when middleware first looked at it. */
function look(facade: Facade): void {
  facade.snapshot ??= dataSnapshot(facade.state);
  facade.state.facadeSnapshot = facade.snapshot;
}

/** express-session's and @fastify/session's methods over the facade's store. */
function facadeMethods(facade: Facade): Record<string, unknown> {
  const { state, request, options } = facade;
  const { store } = state;
  return {
    regenerate(callbackOrKeep?: Callback | readonly string[]) {
      // express-session: a new, empty session under a new key; the old one is destroyed. The
      // object the caller held keeps the old data (passport's keepSessionInfo reads it).
      // @fastify/session: regenerate(keys) keeps those keys (@fastify/passport's keepSessionInfo).
      const callback = typeof callbackOrKeep === 'function' ? callbackOrKeep : undefined;
      const keep = Array.isArray(callbackOrKeep) ? (callbackOrKeep as readonly string[]) : [];
      const previous = store.toJSON();
      const io = store.flush().then(() => {
        facade.detached = previous;
        for (const key of keep) if (Object.hasOwn(previous, key)) store.set(key, previous[key]);
        const fresh = requestSessionFacade(state, request, options);
        if (request.session === facade.proxy) request.session = fresh;
      });
      return settle(io, callback);
    },
    save(callback?: Callback) {
      return settle(store.isEmpty() ? Promise.resolve() : store.save(), callback);
    },
    destroy(callback?: Callback) {
      return settle(store.flush(), callback);
    },
    reload(callback?: Callback) {
      return settle(store.reload(), callback);
    },
    touch() {
      // The expiry is renewed by every save; nothing to do before one.
      return facade.proxy;
    },
    get(key: string) {
      look(facade);
      return store.get(key);
    },
    set(key: string, value: unknown) {
      // @fastify/session's and @fastify/secure-session's set(key, undefined) removes the key
      // (@fastify/passport's logout does it); JSON has no undefined to store.
      if (value === undefined) store.pop(key, undefined);
      else store.set(key, value);
    },
    data() {
      look(facade);
      return store.toJSON();
    },
    toJSON() {
      return store.toJSON();
    },
  };
}

const FACADE_HANDLER: ProxyHandler<Facade> = {
  get(facade, property) {
    if (typeof property !== 'string') return undefined;
    const { store } = facade.state;
    if (property === 'id') return store.sessionKey ?? undefined;
    if (property === 'cookie') return new CookieView(store, facade.options);
    if (API.has(property)) return (facade.api ??= facadeMethods(facade))[property];
    if (facade.detached !== undefined) return facade.detached[property];
    look(facade);
    return store.get(property);
  },
  set(facade, property, value) {
    if (typeof property !== 'string' || API.has(property)) return false;
    look(facade);
    facade.state.store.set(property, value);
    return true;
  },
  deleteProperty(facade, property) {
    if (typeof property !== 'string') return false;
    look(facade);
    facade.state.store.pop(property, undefined);
    return true;
  },
  has(facade, property) {
    return typeof property === 'string' && (API.has(property) || facade.state.store.has(property));
  },
  ownKeys(facade) {
    return facade.detached !== undefined ? Object.keys(facade.detached) : (facade.state.store.keys() as string[]);
  },
  getOwnPropertyDescriptor(facade, property) {
    if (typeof property !== 'string') return undefined;
    const { store } = facade.state;
    const data = facade.detached ?? (store.has(property) ? { [property]: store.get(property) } : undefined);
    if (data === undefined || !(property in data)) return undefined;
    return { value: data[property], writable: true, enumerable: true, configurable: true };
  },
  // Object.defineProperty(req.session, key, { value }) stores the value, as an assignment does (the
  // target's own fields are the facade's, never the session's).
  defineProperty(facade, property, descriptor) {
    if (typeof property !== 'string' || API.has(property) || !('value' in descriptor)) return false;
    look(facade);
    facade.state.store.set(property, descriptor.value);
    return true;
  },
};

/**
 * What express-session keeps in `req.session.cookie`, over the session's expiry. The "remember me"
 * writes of express-session's API are Django's `set_expiry()`, so the stored expiry and the
 * cookie's `Max-Age` follow them:
 *
 * - `maxAge = ms` → `setExpiry(seconds)` (rounded, at least 1 s; 0 or less: expired now, as
 *   express-session's cookie is — not Django's `0`, which means at browser close);
 * - `expires = date` → `setExpiry(date)`;
 * - `maxAge = null`, `expires = null` or `false` → `setExpiry(0)`: a cookie that ends when the
 *   browser closes, express-session's browser-session cookie.
 *
 * Anything else is refused with a `TypeError`.
 */
class CookieView {
  // Private fields: printing or spreading the cookie shows neither the session nor the options.
  readonly #store: SessionStore;
  readonly #options: ResolvedSessionOptions;

  constructor(store: SessionStore, options: ResolvedSessionOptions) {
    this.#store = store;
    this.#options = options;
  }

  get maxAge(): number | null {
    return this.#store.getExpireAtBrowserClose() ? null : this.#store.getExpiryAge() * 1000;
  }
  set maxAge(ms: unknown) {
    if (ms === null || ms === undefined) {
      this.#store.setExpiry(0);
      return;
    }
    if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new TypeError(`req.session.cookie.maxAge takes milliseconds or null, got ${typeof ms === 'number' ? ms : typeof ms}`);
    const seconds = Math.round(ms / 1000);
    this.#store.setExpiry(ms > 0 ? Math.max(seconds, 1) : Math.min(seconds, -1));
  }

  get expires(): Date | null {
    return this.#store.getExpireAtBrowserClose() ? null : this.#store.getExpiryDate();
  }
  set expires(date: unknown) {
    if (date === null || date === undefined || date === false) {
      this.#store.setExpiry(0);
      return;
    }
    if (!(date instanceof Date)) throw new TypeError(`req.session.cookie.expires takes a Date, null or false, got ${typeof date}`);
    this.#store.setExpiry(date);
  }

  // The attributes below are the module's options, the same for every session: a write (as
  // express-session allows) is accepted and changes nothing.

  /** express-session's `originalMaxAge`: the lifetime given to the cookie, which is the current one here. */
  get originalMaxAge(): number | null {
    return this.maxAge;
  }
  set originalMaxAge(_ignored: unknown) {}

  get path(): string {
    return this.#options.cookiePath;
  }
  set path(_ignored: unknown) {}

  get domain(): string | undefined {
    return this.#options.cookieDomain ?? undefined;
  }
  set domain(_ignored: unknown) {}

  get secure(): boolean {
    return this.#options.cookieSecure;
  }
  set secure(_ignored: unknown) {}

  get httpOnly(): boolean {
    return this.#options.cookieHttpOnly;
  }
  set httpOnly(_ignored: unknown) {}

  get sameSite(): string | undefined {
    return this.#options.cookieSameSite === false ? undefined : this.#options.cookieSameSite.toLowerCase();
  }
  set sameSite(_ignored: unknown) {}

  /** What printing `req.session.cookie` shows: its attributes. */
  [inspect.custom](_depth: number, inspectOptions: InspectOptions): string {
    return `Cookie ${inspect(this.toJSON(), inspectOptions)}`;
  }

  /** What `JSON.stringify(req.session.cookie)` shows, as express-session's cookie. */
  toJSON() {
    const { maxAge, expires, path, domain, secure, httpOnly, sameSite } = this;
    return { maxAge, expires, path, domain, secure, httpOnly, sameSite };
  }
}

/**
 * Installs `req.session` when the `requestSession` option is on: at the application's creation,
 * before any middleware or plugin the app adds after `NestFactory.create()` (Passport's among
 * them), it opens each request's session (no I/O without a valid cookie), and saves it when the
 * response is sent if no `SessionInterceptor` did (a route without `@Session()`, a redirect made by
 * middleware). Express: a middleware and `res.end`; Fastify: `onRequest` and `onSend` hooks.
 */
@Injectable()
export class RequestSessionInstaller {
  constructor(
    @Inject(SESSION_OPTIONS) options: ResolvedSessionOptions,
    requests: SessionRequests,
    responses: SessionResponses,
    adapterHost: HttpAdapterHost,
  ) {
    if (!options.requestSession) return;
    // An application context (NestFactory.createApplicationContext(): a worker, a script, the
    // clearsessions CLI) has no HTTP server, and Nest gives it a null adapter: no request to serve.
    const adapter = adapterHost?.httpAdapter;
    if (adapter === undefined || adapter === null) return;
    const instance = adapter.getInstance();
    const open = async (request: Record<PropertyKey, any>) => {
      const state = await requests.open(request);
      request.session = requestSessionFacade(state, request, options);
      return state;
    };
    const finish = (state: RequestSessionState, response: any) => {
      if (state.committed) return Promise.resolve();
      return responses.commitAtEnd(state, response);
    };
    if (adapter.getType() === 'fastify') {
      // Declared, as Fastify wants: plugins that need a session (@fastify/passport's @fastify/flash) check for it.
      if (!instance.hasRequestDecorator('session')) instance.decorateRequest('session', null);
      instance.addHook('onRequest', async (request: any, reply: any) => {
        try {
          await open(request);
        } catch (error) {
          if (!(error instanceof SessionBackendUnavailable)) throw error;
          logger.error(error.message);
          return reply.code(503).header('Retry-After', String(RETRY_AFTER_SECONDS)).send(UNAVAILABLE_BODY);
        }
      });
      commitOnFastifySend(instance, requests, finish);
      return;
    }
    instance.use((request: any, response: any, next: (error?: unknown) => void) => {
      open(request).then((state) => {
        commitBeforeEnd(state, response, finish);
        next();
      }, (error: unknown) => {
        if (!(error instanceof SessionBackendUnavailable)) return next(error);
        logger.error(error.message);
        response.status(503).set('Retry-After', String(RETRY_AFTER_SECONDS)).json(UNAVAILABLE_BODY);
      });
    });
  }
}
