import { createParamDecorator, type ExecutionContext, type Type } from '@nestjs/common';
import { SESSION_PARAM_METADATA } from './session.constants.js';
import { SessionInterceptor } from './session.interceptor.js';
import { sessionOf } from './transports/index.js';

const INTERCEPTORS_METADATA = '__interceptors__'; // @nestjs/common's @UseInterceptors()

/**
 * The session the transport keeps for this handler's request (see `transports/`): what
 * `SessionInterceptor` or a guard's `forContext()` opened. `SessionContextError` in a context
 * without sessions (a microservice's).
 */
const SessionParam = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const opened = sessionOf(context);
  if (opened === undefined) {
    throw new Error('@Session() found no session: import SessionModule.forRoot() in the application module');
  }
  return opened.store;
});

/**
 * Injects the request's `SessionStore` (Django's `request.session`). Does no I/O itself: it also
 * marks the handler and binds `SessionInterceptor` to it, so the session is read only for
 * handlers that take it, and routes that don't pay nothing. Works the same in GraphQL resolvers
 * (the operation's HTTP request's session) and WebSocket gateway handlers (the handshake
 * cookie's session, read for each message; see `SocketSessionStore`).
 *
 * @example
 * ```ts
 * @Get('color')
 * color(@Session() session: SessionStore<{ fav_color: string }>) {
 *   return session.get('fav_color', 'red');
 * }
 * ```
 */
export function Session(): ParameterDecorator {
  return (target, propertyKey, index) => {
    // The handler's own SessionInterceptor, first among its interceptors (parameter decorators
    // run before the method's): Nest resolves it per application, like @UseInterceptors().
    markUsesSession(target, propertyKey);
    SessionParam()(target, propertyKey, index);
  };
}

/**
 * @internal Marks what a decorator is put on as using the request's session, as `@Session()`
 * does (and `@Messages()`, `@CurrentUser()`, `@LoginRequired()`): for a method decorator
 * (`propertyKey` given) the handler, for a class decorator every method the class has now (its own
 * and inherited). `SessionInterceptor` is bound to it first, then the decorator's own
 * `interceptors` (each once, in that order), so `SessionModule` sees at start-up which handlers meet
 * a session and keeps its interceptor off every other route.
 */
export function markUsesSession(target: object, propertyKey: string | symbol | undefined, interceptors: readonly Type[] = []): void {
  if (propertyKey !== undefined) {
    Reflect.defineMetadata(SESSION_PARAM_METADATA, true, target.constructor, propertyKey);
    bindFirst((target as Record<PropertyKey, object>)[propertyKey]!, interceptors);
    return;
  }
  const type = target as Type;
  for (const name of methodNames(type.prototype)) Reflect.defineMetadata(SESSION_PARAM_METADATA, true, type, name);
  bindFirst(type, interceptors);
}

/** Puts `SessionInterceptor`, then `interceptors`, before the ones bound already (each once, in that order). */
function bindFirst(target: object, interceptors: readonly Type[]): void {
  const first: unknown[] = [SessionInterceptor, ...interceptors];
  const bound: unknown[] = Reflect.getMetadata(INTERCEPTORS_METADATA, target) ?? [];
  Reflect.defineMetadata(INTERCEPTORS_METADATA, [...first, ...bound.filter((i) => !first.includes(i))], target);
}

function methodNames(prototype: object | null): string[] {
  const names = new Set<string>();
  for (let proto = prototype; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor') continue;
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (typeof descriptor?.value === 'function') names.add(name);
    }
  }
  return [...names];
}
