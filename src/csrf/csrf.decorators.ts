import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { graphqlHttpOf } from '../integrations/graphql.js';
import { getCsrfToken } from './csrf-state.js';

/** @internal The metadata `@CsrfExempt()` sets. */
export const CSRF_EXEMPT_METADATA = 'nestjs-django-session:csrf-exempt';

/**
 * Django's `@csrf_exempt`: the handler (or every handler of the controller or resolver) is not
 * checked. `getCsrfToken()` still works in it.
 */
export const CsrfExempt = (): MethodDecorator & ClassDecorator => SetMetadata(CSRF_EXEMPT_METADATA, true);

/**
 * @internal The HTTP request and response of a context: a controller's, or a GraphQL operation's
 * (for a resolver; undefined for a subscription over a WebSocket); undefined on other transports.
 */
export function csrfHttpOf(context: ExecutionContext): { request: Record<PropertyKey, any>; response: unknown } | undefined {
  const type = context.getType<string>();
  if (type === 'http') return { request: context.getArgByIndex(0), response: context.getArgByIndex(1) };
  if (type === 'graphql') return graphqlHttpOf(context);
  return undefined;
}

/** @internal Set on a handler that takes `@CsrfToken()`: with `useSessions`, its session is read before it runs. */
export const CSRF_TOKEN_PARAM_METADATA = 'nestjs-django-session:csrf-token-param';

const tokenParam = createParamDecorator((_data: unknown, context: ExecutionContext): string => getCsrfToken(csrfHttpOf(context)?.request ?? {}));

/**
 * The handler's CSRF token: `getCsrfToken(request)` (Django's `get_token`), a fresh masked token
 * for the request's secret; the cookie (or session) is sent with the response.
 *
 * @example
 * ```ts
 * @Get('token') token(@CsrfToken() token: string) { return { token }; }
 * ```
 */
export function CsrfToken(): ParameterDecorator {
  return (target, key, index) => {
    tokenParam()(target, key, index);
    const handler: unknown = key === undefined ? undefined : (target as Record<PropertyKey, unknown>)[key];
    if (typeof handler === 'function') Reflect.defineMetadata(CSRF_TOKEN_PARAM_METADATA, true, handler);
  };
}
