/**
 * `@CurrentUser()`: Django's `request.user` as a handler parameter, on controllers, GraphQL
 * resolvers and WebSocket gateways alike.
 */
import { Inject, Injectable, Optional, createParamDecorator, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { from, switchMap, type Observable } from 'rxjs';
import { sessionOf } from '../transports/index.js';
import { cachedUserOf, DjangoAuthService } from './django-auth.service.js';
import { markUsesSession } from '../session.decorator.js';

/**
 * Looks the user up before a handler that takes `@CurrentUser()` (after `SessionInterceptor` has
 * opened the session), so the parameter gets it without I/O of its own. Bound by the decorator.
 */
@Injectable()
export class CurrentUserInterceptor implements NestInterceptor {
  constructor(@Optional() @Inject(DjangoAuthService) private readonly auth: DjangoAuthService | undefined) {
    if (auth === undefined) {
      throw new Error('@CurrentUser() needs DjangoAuthModule.forRoot({ loadUser }) (from nestjs-django-session/auth) in the application module');
    }
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return from(this.auth!.userFor(context)).pipe(switchMap(() => next.handle()));
  }
}

const CurrentUserParam = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const cached = cachedUserOf(sessionOf(context)?.store);
  if (cached === undefined) throw new Error('@CurrentUser() found no user lookup for this request: import DjangoAuthModule.forRoot() in the application module');
  return cached;
});

/**
 * The logged-in user (Django's `request.user`), or `null` for an anonymous visitor — where Django
 * has `AnonymousUser`, type the parameter `User | null` (under `@LoginRequired()` it is never
 * `null`). The same object the guards saw: looked up once per request, GraphQL operation or
 * WebSocket message, by `DjangoAuthModule`'s `loadUser` (or Passport's `req.user`). Like
 * `@Session()`, it marks the handler as using the session, so other routes pay nothing.
 *
 * @example
 * ```ts
 * @Get('whoami')
 * whoami(@CurrentUser() user: User | null) { return { username: user?.username ?? null }; }
 * ```
 */
export function CurrentUser(): ParameterDecorator {
  return (target, propertyKey, index) => {
    if (propertyKey !== undefined) markUsesSession(target, propertyKey, [CurrentUserInterceptor]);
    CurrentUserParam()(target, propertyKey, index);
  };
}
