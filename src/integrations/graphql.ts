/**
 * `@Session()` in GraphQL resolvers (`@nestjs/graphql` with Apollo or Mercurius). Nothing of
 * GraphQL is loaded here: an operation is recognised by `context.getType() === 'graphql'` and its
 * HTTP request found by duck typing in the resolver's context argument, so an app without
 * GraphQL installs none of it.
 *
 * An operation is one HTTP request however many resolvers it runs: the session is read once (the
 * resolvers share the request's `SessionStore`) and committed once, when the HTTP response
 * leaves — see `SessionInterceptor` for the rules.
 */
import type { ExecutionContext } from '@nestjs/common';

/**
 * `@nestjs/graphql`'s `RESOLVER_TYPE_METADATA`, which `@Query()`, `@Mutation()` and
 * `@ResolveField()` set on their method. Re-typed: `@nestjs/graphql` is an optional peer, never
 * loaded by this package.
 */
const RESOLVER_TYPE_METADATA = 'graphql:resolver_type';

/** The HTTP exchange a GraphQL operation runs in. */
export interface GraphqlHttp {
  /** Express's request, or Fastify's (which has `raw`). */
  readonly request: Record<PropertyKey, any>;
  /** Express's response, Fastify's reply, or undefined when the context carries none (Apollo on Fastify). */
  readonly response: any;
}

/**
 * The HTTP request of a resolver's operation, from its context (the resolver's third argument):
 * `ctx.req`, which both Nest drivers put there (Express's request under Apollo, Fastify's under
 * Mercurius and Apollo on Fastify), else Mercurius's `ctx.reply.request`. Undefined in a context
 * without one: a subscription over a WebSocket, or an app's own context that dropped `req`.
 */
export function graphqlHttpOf(context: ExecutionContext): GraphqlHttp | undefined {
  const ctx = context.getArgByIndex(2) as Record<string, any> | undefined;
  if (ctx === null || typeof ctx !== 'object') return undefined;
  const reply = ctx.reply;
  const request = ctx.req ?? reply?.request;
  if (request === null || typeof request !== 'object' || typeof request.headers !== 'object') return undefined;
  // Express puts its response on the request (`req.res`); Mercurius gives Fastify's reply.
  return { request, response: ctx.res ?? reply ?? request.res };
}

/** Whether `method` is a GraphQL resolver (a query, mutation or field resolver). */
export function isGraphqlResolver(method: unknown): boolean {
  return typeof method === 'function' && Reflect.getMetadata(RESOLVER_TYPE_METADATA, method) !== undefined;
}

/** What `@Session()` and `forContext()` say when a resolver's context has no HTTP request. */
export const NO_GRAPHQL_REQUEST =
  'The session found no HTTP request in the GraphQL context: @Session() and SessionService.forContext() need `req` in the context (as @nestjs/apollo and @nestjs/mercurius put it; ' +
  'a `context` factory of your own must keep it). Subscriptions over a WebSocket have no session.';
