import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
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
    if (propertyKey !== undefined) {
      Reflect.defineMetadata(SESSION_PARAM_METADATA, true, target.constructor, propertyKey);
      // The handler's own SessionInterceptor, first among its interceptors (parameter decorators
      // run before the method's): Nest resolves it per application, like @UseInterceptors().
      const handler = (target as Record<PropertyKey, object>)[propertyKey]!;
      const interceptors: unknown[] = Reflect.getMetadata(INTERCEPTORS_METADATA, handler) ?? [];
      if (!interceptors.includes(SessionInterceptor)) Reflect.defineMetadata(INTERCEPTORS_METADATA, [SessionInterceptor, ...interceptors], handler);
    }
    SessionParam()(target, propertyKey, index);
  };
}
