/**
 * A WebSocket message (`@nestjs/websockets`, socket.io or ws): its session is the handshake
 * cookie's, read for each message and carried in the message's arguments — which Nest hands to
 * the guards, the interceptors and the parameter decorators alike — so a guard's session is the one
 * the handler's `@Session()` gets and `SessionInterceptor` commits after it. Nothing of
 * `@nestjs/websockets` is loaded: see `integrations/websocket.ts`.
 */
import type { ExecutionContext } from '@nestjs/common';
import { attachMessageSession, handshakeOf, messageSessionOf, NO_HANDSHAKE, SocketSessionStore } from '../integrations/websocket.js';
import type { RequestSessionState, SessionRequests } from '../session.requests.js';
import { SessionContextError, type SessionTransport } from './transport.js';

/** Reads the message's session from its client's handshake and attaches it to the message (once). */
export async function openMessageSession(context: ExecutionContext, requests: SessionRequests): Promise<RequestSessionState> {
  const existing = messageSessionOf(context);
  if (existing !== undefined) return existing;
  const handshake = handshakeOf(context.getArgByIndex(0));
  if (handshake === undefined) throw new SessionContextError(NO_HANDSHAKE);
  const opened = await requests.read(handshake, SocketSessionStore);
  // Another guard of the same message may have attached one meanwhile: there is one per message.
  const attached = messageSessionOf(context);
  if (attached !== undefined) return attached;
  attachMessageSession(context, opened);
  return opened;
}

export const websocketTransport: SessionTransport = {
  sessionOf: messageSessionOf,
  open: (context, requests) => openMessageSession(context, requests),
};
