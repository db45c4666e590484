import { inspect } from 'node:util';
import { Inject, Injectable, type Type } from '@nestjs/common';
import { APP_GUARD, ApplicationConfig, HttpAdapterHost, MetadataScanner, ModulesContainer } from '@nestjs/core';
import { isGraphqlResolver } from './integrations/graphql.js';
import { captureHandshakes, isMessageHandler } from './integrations/websocket.js';
import { OPENS_NO_SESSION, SESSION_OPTIONS, SESSION_PARAM_METADATA } from './session.constants.js';
import { SessionInterceptor } from './session.interceptor.js';
import { SessionResponses } from './session.responses.js';
import type { ResolvedSessionOptions } from './session-options.interface.js';
import { commitOnFastifySend, SessionRequests } from './session.requests.js';

const GUARDS_METADATA = '__guards__'; // @nestjs/common's @UseGuards()
const PATH_METADATA = 'path'; // @nestjs/common's @Get()/@Post()... and @Controller()

/**
 * Where `SessionInterceptor` runs. Nest's interceptor pipeline costs a request about 10–20 µs even
 * when the interceptor has nothing to do, so it runs only where a session can be touched:
 *
 * - every handler that takes `@Session()` carries it (the decorator binds it);
 * - it runs globally, before every handler, when something else could open a session where no
 *   handler takes it: `saveEveryRequest`, any global guard or interceptor, or a guard on a route
 *   whose handler does not take `@Session()` (a guard calling `SessionService.forContext()`).
 *
 * So an app behaves as if the interceptor were global, and routes that cannot meet a session pay
 * nothing for it. Decided during `app.init()` (`SessionModule.configure()`), once the app's global
 * enhancers are known (`app.useGlobalGuards()` comes after `NestFactory.create()`) and before the
 * routes are registered. Added last, the global interceptor runs inside the app's own global
 * interceptors, so those may open the session with `forContext()` too.
 *
 * Outside controllers, it also prepares what the session needs where providers take `@Session()`
 * or are guarded (a guard may call `forContext()`), and only then: GraphQL resolvers on Fastify, an
 * `onSend` hook that commits an operation's session with its reply; WebSocket gateways, the
 * handshake cookie of each client kept for its messages (the ws adapter's clients keep none), and,
 * for guarded message handlers, the interceptor that commits a guard's session after the handler.
 */
@Injectable()
export class SessionRoutes {
  /** Printed by name only: what it holds reaches the whole app (and the options given to forRoot). */
  [inspect.custom](): string {
    return 'SessionRoutes {}';
  }

  /** Whether `SessionInterceptor` runs before every route of the app. */
  interceptsEveryRoute = false;

  private providerHandlers?: ProviderHandlers;

  constructor(
    @Inject(SESSION_OPTIONS) private readonly options: ResolvedSessionOptions,
    private readonly interceptor: SessionInterceptor,
    private readonly modules: ModulesContainer,
    @Inject(ApplicationConfig) private readonly config: ApplicationConfig,
    private readonly requests: SessionRequests,
    private readonly adapterHost: HttpAdapterHost,
    private readonly responses: SessionResponses,
  ) {
    // Now, at the app's creation: the gateways bind to the WebSocket adapter at app.init(), before
    // SessionModule.configure(), and app.useWebSocketAdapter() comes in between.
    const { messageHandlersTakeSession, messageHandlersGuarded } = this.handlers();
    if (messageHandlersTakeSession || messageHandlersGuarded) captureHandshakes(this.config);
    if (messageHandlersGuarded) {
      // A guard of a message handler without @Session() may open the message's session: the
      // interceptor must run around the handler to save it. Global until configure() (the gateways
      // bind before it, with the global interceptors of that moment), where install() keeps it
      // global only if the HTTP routes need it too (they are registered after).
      this.config.addGlobalInterceptor(this.interceptor);
      this.globalForGateways = true;
    }
  }

  /** The interceptor was made global at the app's creation, for guarded gateway handlers. */
  private globalForGateways = false;

  /** Makes the interceptor global when something outside `@Session()` handlers may use the session. */
  install(): void {
    this.commitResolversOnSend();
    // The gateways have bound with it; the routes, registered next, get it only if they need it,
    // and then last, inside the app's own global interceptors.
    if (this.globalForGateways) this.removeGlobalInterceptor();
    if (this.interceptsEveryRoute || !this.needsEveryRoute()) return;
    this.interceptsEveryRoute = true;
    this.config.addGlobalInterceptor(this.interceptor);
  }

  /** Takes the interceptor off the app's global ones (the gateways, bound already, keep it). */
  private removeGlobalInterceptor(): void {
    this.globalForGateways = false;
    const interceptors = this.config.getGlobalInterceptors();
    const at = interceptors.indexOf(this.interceptor);
    if (at >= 0) interceptors.splice(at, 1);
  }

  /**
   * Fastify: the commit of a GraphQL operation's session waits for its reply, through an `onSend`
   * hook, added (before Fastify starts) only when a resolver may open the session; with
   * `requestSession`, RequestSessionInstaller's hook does it.
   */
  private commitResolversOnSend(): void {
    const adapter = this.adapterHost?.httpAdapter;
    if (adapter === undefined || adapter === null || adapter.getType() !== 'fastify' || this.options.requestSession) return;
    const { resolversTakeSession, resolvers, resolversGuarded } = this.handlers();
    const guarded = resolversGuarded || this.config.getGlobalGuards().length > 0;
    if (!resolversTakeSession && !(resolvers && (this.options.saveEveryRequest || guarded))) return;
    commitOnFastifySend(adapter.getInstance(), this.requests, this.responses.commitAtEnd);
  }

  /** The app's providers' GraphQL resolvers and gateway message handlers, looked at once. */
  private handlers(): ProviderHandlers {
    if (this.providerHandlers !== undefined) return this.providerHandlers;
    const found: ProviderHandlers = {
      resolvers: false,
      resolversTakeSession: false,
      resolversGuarded: false,
      messageHandlersTakeSession: false,
      messageHandlersGuarded: false,
    };
    const scanner = new MetadataScanner();
    const appGuards = this.hasAppGuards();
    for (const module of this.modules.values()) {
      for (const wrapper of module.providers.values()) {
        const provider = wrapper.metatype as Type | null;
        // Class providers only: a factory's metatype is the factory function.
        if (typeof provider !== 'function' || wrapper.inject || typeof provider.prototype !== 'object') continue;
        const classGuarded = appGuards || hasGuards(provider);
        for (const name of scanner.getAllMethodNames(provider.prototype)) {
          const method = provider.prototype[name];
          const resolver = isGraphqlResolver(method);
          const messageHandler = isMessageHandler(method);
          const takesSession = Reflect.getMetadata(SESSION_PARAM_METADATA, provider, name) === true;
          const guarded = classGuarded || hasGuards(method);
          found.resolvers ||= resolver;
          found.resolversTakeSession ||= resolver && takesSession;
          found.resolversGuarded ||= resolver && guarded;
          found.messageHandlersTakeSession ||= takesSession && messageHandler;
          found.messageHandlersGuarded ||= messageHandler && guarded && !takesSession;
        }
      }
    }
    return (this.providerHandlers = found);
  }

  /**
   * Whether the app registers global guards as providers (`APP_GUARD`), which guard gateways and
   * resolvers too. Looked at in the modules: at the app's creation they are not yet in its config.
   */
  private hasAppGuards(): boolean {
    const prefix = `${APP_GUARD} (`; // Nest's key for each: 'APP_GUARD (UUID: ...)'
    for (const module of this.modules.values()) {
      for (const collection of [module.providers, module.injectables]) {
        for (const token of collection.keys()) if (typeof token === 'string' && token.startsWith(prefix)) return true;
      }
    }
    return false;
  }

  private needsEveryRoute(): boolean {
    if (this.options.saveEveryRequest) return true;
    const { config } = this;
    const globalInterceptors = config.getGlobalInterceptors().filter((i) => !(i instanceof SessionInterceptor) && !opensNoSession(i));
    if (config.getGlobalGuards().filter((g) => !opensNoSession(g)).length + config.getGlobalRequestGuards().length > 0) return true;
    if (globalInterceptors.length + config.getGlobalRequestInterceptors().length > 0) return true;
    const scanner = new MetadataScanner();
    for (const module of this.modules.values()) {
      for (const wrapper of module.controllers.values()) {
        const controller = wrapper.metatype as Type | null;
        if (typeof controller !== 'function') continue;
        const classGuarded = hasGuards(controller);
        for (const name of scanner.getAllMethodNames(controller.prototype)) {
          const handler = controller.prototype[name];
          if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue; // not a route
          const takesSession = Reflect.getMetadata(SESSION_PARAM_METADATA, controller, name) === true;
          if (!takesSession && (classGuarded || hasGuards(handler))) return true;
        }
      }
    }
    return false;
  }
}

interface ProviderHandlers {
  /** The app has GraphQL resolvers. */
  resolvers: boolean;
  /** One of them takes `@Session()`. */
  resolversTakeSession: boolean;
  /** One of them is guarded (its own guards, its class's, or an `APP_GUARD`): a guard may open the session. */
  resolversGuarded: boolean;
  /** A gateway's message handler takes `@Session()`. */
  messageHandlersTakeSession: boolean;
  /** A gateway's message handler that does not take `@Session()` is guarded. */
  messageHandlersGuarded: boolean;
}

/** Whether a global guard or interceptor says it never opens the request's session (`OPENS_NO_SESSION`). */
function opensNoSession(instance: unknown): boolean {
  return typeof instance === 'object' && instance !== null && (instance as Record<symbol, unknown>)[OPENS_NO_SESSION] === true;
}

/** Whether guards are bound to a controller or a handler. */
function hasGuards(target: object): boolean {
  return (Reflect.getMetadata(GUARDS_METADATA, target) ?? []).length > 0;
}
