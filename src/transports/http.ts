/**
 * An HTTP request (Express or Fastify): its session is kept by request object from the moment a
 * guard or `SessionInterceptor` opens it until its response phase, which the interceptor runs
 * (or, for a guard's refusal, `SessionExceptionFilter`; under `requestSession`, the response's end).
 */
import type { ExecutionContext } from '@nestjs/common';
import { openedSessionOf } from '../session.requests.js';
import { isCarrier, SessionContextError, type SessionTransport } from './transport.js';

export const httpTransport: SessionTransport = {
  sessionOf(context: ExecutionContext) {
    // The request is the first argument (what switchToHttp().getRequest() reads, without the
    // three closures switchToHttp() makes on each call).
    return openedSessionOf(context.getArgByIndex(0));
  },

  async open(context, requests) {
    const request: unknown = context.getArgByIndex(0);
    if (!isCarrier(request)) throw new SessionContextError('SessionService.forContext() found no HTTP request in this context');
    const opened = await requests.open(request);
    // Guards run before interceptors: if this one refuses, SessionExceptionFilter saves it.
    requests.holdForGuard(opened, context.getArgByIndex(1));
    return opened;
  },
};
