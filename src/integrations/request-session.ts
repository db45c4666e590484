import { Inject, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { SESSION_OPTIONS } from '../session.constants.js';
import { RETRY_AFTER_SECONDS, SessionStoreUnavailable, UNAVAILABLE_MESSAGE } from '../session.errors.js';
import { SessionInterceptor } from '../session.interceptor.js';
import type { ResolvedSessionOptions } from '../session-options.interface.js';
import { commitBeforeEnd, commitOnFastifySend, SessionRequests, type RequestSessionState } from '../session.requests.js';
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
  const { store } = state;
  // What the data was when middleware first looked (for changes made in place, e.g. passport.user).
  let snapshot: string | undefined;
  const look = () => {
    snapshot ??= JSON.stringify(store.toJSON());
    state.facadeSnapshot = snapshot;
  };
  const api: Record<string, unknown> = {
    regenerate(callbackOrKeep?: Callback | readonly string[]) {
      // express-session: a new, empty session under a new key; the old one is destroyed. The
      // object the caller held keeps the old data (passport's keepSessionInfo reads it).
      // @fastify/session: regenerate(keys) keeps those keys (@fastify/passport's keepSessionInfo).
      const callback = typeof callbackOrKeep === 'function' ? callbackOrKeep : undefined;
      const keep = Array.isArray(callbackOrKeep) ? (callbackOrKeep as readonly string[]) : [];
      const previous = store.toJSON();
      const io = store.flush().then(() => {
        detached = previous;
        for (const key of keep) if (Object.hasOwn(previous, key)) store.set(key, previous[key]);
        const fresh = requestSessionFacade(state, request, options);
        if (request.session === proxy) request.session = fresh;
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
      return proxy;
    },
    get(key: string) {
      look();
      return store.get(key);
    },
    set(key: string, value: unknown) {
      // @fastify/session's and @fastify/secure-session's set(key, undefined) removes the key
      // (@fastify/passport's logout does it); JSON has no undefined to store.
      if (value === undefined) store.pop(key, undefined);
      else store.set(key, value);
    },
    data() {
      look();
      return store.toJSON();
    },
    toJSON() {
      return store.toJSON();
    },
  };
  let detached: Record<string, unknown> | undefined;
  const proxy: Record<string, any> = new Proxy(Object.create(null) as Record<string, any>, {
    get(_target, property) {
      if (typeof property !== 'string') return undefined;
      if (property === 'id') return store.sessionKey ?? undefined;
      if (property === 'cookie') return cookieView(state.store, options);
      if (API.has(property)) return api[property];
      if (detached !== undefined) return detached[property];
      look();
      return store.get(property);
    },
    set(_target, property, value) {
      if (typeof property !== 'string' || API.has(property)) return false;
      look();
      store.set(property, value);
      return true;
    },
    deleteProperty(_target, property) {
      if (typeof property !== 'string') return false;
      look();
      store.pop(property, undefined);
      return true;
    },
    has(_target, property) {
      return typeof property === 'string' && (API.has(property) || store.has(property));
    },
    ownKeys() {
      return detached !== undefined ? Object.keys(detached) : (store.keys() as string[]);
    },
    getOwnPropertyDescriptor(_target, property) {
      if (typeof property !== 'string') return undefined;
      const data = detached ?? (store.has(property) ? { [property]: store.get(property) } : undefined);
      if (data === undefined || !(property in data)) return undefined;
      return { value: data[property], writable: true, enumerable: true, configurable: true };
    },
  });
  return proxy;
}

/** A read-only view of what express-session keeps in `req.session.cookie`. */
function cookieView(store: SessionStore, options: ResolvedSessionOptions) {
  const browser = store.getExpireAtBrowserClose();
  return {
    maxAge: browser ? null : store.getExpiryAge() * 1000,
    expires: browser ? null : store.getExpiryDate(),
    path: options.cookiePath,
    domain: options.cookieDomain ?? undefined,
    secure: options.cookieSecure,
    httpOnly: options.cookieHttpOnly,
    sameSite: options.cookieSameSite === false ? undefined : options.cookieSameSite.toLowerCase(),
  };
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
    interceptor: SessionInterceptor,
    adapterHost: HttpAdapterHost,
  ) {
    if (!options.requestSession) return;
    const adapter = adapterHost.httpAdapter;
    if (adapter === undefined) return; // an application context without HTTP
    const instance = adapter.getInstance();
    const open = async (request: Record<PropertyKey, any>) => {
      const state = await requests.open(request);
      request.session = requestSessionFacade(state, request, options);
      return state;
    };
    const finish = (state: RequestSessionState, response: any) => {
      if (state.committed) return Promise.resolve();
      return interceptor.commitAtEnd(state, response);
    };
    if (adapter.getType() === 'fastify') {
      // Declared, as Fastify wants: plugins that need a session (@fastify/passport's @fastify/flash) check for it.
      if (!instance.hasRequestDecorator('session')) instance.decorateRequest('session', null);
      instance.addHook('onRequest', async (request: any, reply: any) => {
        try {
          await open(request);
        } catch (error) {
          if (!(error instanceof SessionStoreUnavailable)) throw error;
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
        if (!(error instanceof SessionStoreUnavailable)) return next(error);
        logger.error(error.message);
        response.status(503).set('Retry-After', String(RETRY_AFTER_SECONDS)).json(UNAVAILABLE_BODY);
      });
    });
  }
}
