import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { REQUEST_SESSION, SESSION_PARAM_METADATA } from './session.constants.js';
import type { RequestSession } from './session.service.js';

const SessionParam = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const opened = context.switchToHttp().getRequest()[REQUEST_SESSION] as RequestSession | undefined;
  if (opened === undefined) {
    throw new Error('@Session() found no session: import SessionModule.forRoot() in the application module');
  }
  return opened.store;
});

/**
 * Injects the request's `SessionStore` (Django's `request.session`). Does no I/O itself: it also
 * marks the handler, so the session is read only for handlers that take it.
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
    if (propertyKey !== undefined) Reflect.defineMetadata(SESSION_PARAM_METADATA, true, target.constructor, propertyKey);
    SessionParam()(target, propertyKey, index);
  };
}
