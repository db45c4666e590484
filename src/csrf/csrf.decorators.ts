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

/** @internal The HTTP request of a context (a GraphQL operation's, for a resolver). */
export function csrfRequestOf(context: ExecutionContext): object | undefined {
  const type = context.getType<string>();
  if (type === 'http') return context.getArgByIndex(0) as object;
  if (type === 'graphql') return graphqlHttpOf(context)?.request;
  return undefined;
}

/** @internal Set on a handler that takes `@CsrfToken()`: with `useSessions`, its session is read before it runs. */
export const CSRF_TOKEN_PARAM_METADATA = 'nestjs-django-session:csrf-token-param';

const tokenParam = createParamDecorator((_data: unknown, context: ExecutionContext): string => getCsrfToken(csrfRequestOf(context) ?? {}));

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
