import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { REQUEST_SESSION, SESSION_PARAM_METADATA } from './session.constants.js';
import { SessionInterceptor } from './session.interceptor.js';
import type { RequestSessionState } from './session.requests.js';

const INTERCEPTORS_METADATA = '__interceptors__'; // @nestjs/common's @UseInterceptors()

const SessionParam = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const opened = context.switchToHttp().getRequest()[REQUEST_SESSION] as RequestSessionState | undefined;
  if (opened === undefined) {
    throw new Error('@Session() found no session: import SessionModule.forRoot() in the application module');
  }
  return opened.store;
});

/**
 * Injects the request's `SessionStore` (Django's `request.session`). Does no I/O itself: it also
 * marks the handler and binds `SessionInterceptor` to it, so the session is read only for
 * handlers that take it, and routes that don't pay nothing.
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
