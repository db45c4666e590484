/**
 * The transports a session is served on, chosen by `context.getType()`: HTTP (Express, Fastify),
 * GraphQL (Apollo, Mercurius) and WebSocket (socket.io, ws). Any other context — a microservice's
 * `'rpc'` message — has no session cookie: `SessionContextError`.
 */
import type { ExecutionContext } from '@nestjs/common';
import { graphqlTransport } from './graphql.js';
import { httpTransport } from './http.js';
import { SessionContextError, type SessionTransport } from './transport.js';
import { websocketTransport } from './websocket.js';

export { SessionContextError, type CommitAtEnd, type SessionTransport } from './transport.js';

/** The transport of `context`; `SessionContextError` for a context type without sessions. */
export function transportOf(context: ExecutionContext): SessionTransport {
  const type = context.getType<string>();
  switch (type) {
    case 'http':
      return httpTransport;
    case 'graphql':
      return graphqlTransport;
    case 'ws':
      return websocketTransport;
    default:
      throw new SessionContextError(
        `There is no session in a '${String(type)}' context: sessions are served on HTTP, GraphQL and WebSocket handlers ` +
          '(a microservice message carries no session cookie; load one by key with SessionService.load(key)).',
      );
  }
}

/** The session `@Session()` gets in `context`: the one opened for it, if any (`SessionContextError` where none can be). */
export function sessionOf(context: ExecutionContext) {
  return transportOf(context).sessionOf(context);
}
