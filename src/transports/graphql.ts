/**
 * A GraphQL operation (`@nestjs/graphql`, Apollo or Mercurius): one HTTP request however many
 * resolvers it runs. Its session is that request's — the same object for every resolver, guard
 * and `req.session` — read once and committed once, when the HTTP response leaves (see
 * `SessionInterceptor`). Nothing of GraphQL is loaded: see `integrations/graphql.ts`.
 */
import type { ExecutionContext } from '@nestjs/common';
import { graphqlHttpOf, NO_GRAPHQL_REQUEST, type GraphqlHttp } from '../integrations/graphql.js';
import { commitBeforeEnd, commitsOnFastifySend, openedSessionOf, type RequestSessionState, type SessionRequests } from '../session.requests.js';
import { SessionContextError, type CommitAtEnd, type SessionTransport } from './transport.js';

/** The operation's HTTP exchange; `SessionContextError` when the resolver's context has none. */
export function operationHttpOf(context: ExecutionContext): GraphqlHttp {
  const http = graphqlHttpOf(context);
  if (http === undefined) throw new SessionContextError(NO_GRAPHQL_REQUEST);
  return http;
}

/** Makes an operation's session commit when its HTTP response leaves (once, whoever asks first). */
export function commitOperationAtEnd(opened: RequestSessionState, http: GraphqlHttp, requests: SessionRequests, commitAtEnd: CommitAtEnd): void {
  // requestSession: RequestSessionInstaller commits every request's session at its response's end.
  if (requests.options.requestSession) return;
  const { request, response } = http;
  if (request.raw !== undefined) {
    // Fastify: SessionRoutes added the onSend hook at start-up, having found the resolvers.
    if (!commitsOnFastifySend(request.server)) {
      throw new SessionContextError(
        'A session in a GraphQL resolver on Fastify needs SessionModule to find the resolver at start-up (a provider of a module the app imports)',
      );
    }
    return;
  }
  if (typeof response?.end !== 'function') throw new SessionContextError(NO_GRAPHQL_REQUEST);
  commitBeforeEnd(opened, response, commitAtEnd);
}

export const graphqlTransport: SessionTransport = {
  sessionOf(context: ExecutionContext) {
    return openedSessionOf(operationHttpOf(context).request);
  },

  async open(context, requests, commitAtEnd) {
    const http = operationHttpOf(context);
    const opened = await requests.open(http.request);
    commitOperationAtEnd(opened, http, requests, commitAtEnd);
    return opened;
  },
};
