/**
 * How each transport refuses a visitor `@LoginRequired()` or `@UserPassesTest()` keeps out, and
 * where its HTTP request is (for a Passport user). One implementation per transport, chosen by the
 * session's transport seam (`transportOf(context)`), so nothing here switches on `getType()`:
 *
 * - HTTP: an anonymous visitor is redirected to the login URL with `?next=` (Django's
 *   `login_required`), or answered 401 / 403 (`unauthenticated`); a logged-in one who fails the
 *   test gets a 403 (Django's `PermissionDenied`);
 * - GraphQL: an error whose `extensions.code` is `UNAUTHENTICATED` or `FORBIDDEN`, what Apollo's
 *   clients (and Apollo Server's own errors) use, on Apollo and Mercurius alike;
 * - WebSocket: a `WsException` (Nest sends the client an `exception` event) carrying the same code.
 */
import { ForbiddenException, HttpException, HttpStatus, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { graphqlHttpOf } from '../integrations/graphql.js';
import { setHeader } from '../session.http.js';
import { graphqlTransport } from '../transports/graphql.js';
import { httpTransport } from '../transports/http.js';
import { transportOf, type SessionTransport } from '../transports/index.js';
import { websocketTransport } from '../transports/websocket.js';
import type { ResolvedDjangoAuthOptions } from './django-auth.options.js';
import { nextFor, redirectToLogin } from './login-redirect.js';

/** The options a refusal goes by: the module's, overridden by the decorator's. */
export type Refusal = Pick<ResolvedDjangoAuthOptions, 'loginUrl' | 'redirectFieldName' | 'unauthenticated'>;

/**
 * A 302 to the login page, thrown by `@LoginRequired()` over HTTP. The `Location` header is set
 * on the response before it is thrown, so the app's own exception filters answer it as a redirect
 * too (with their body); `location` is the URL.
 */
export class LoginRedirectException extends HttpException {
  constructor(readonly location: string) {
    super({ statusCode: HttpStatus.FOUND, message: 'Found', location }, HttpStatus.FOUND);
  }
}

/** A GraphQL refusal: GraphQL copies an error's `extensions` into the response (`errors[0].extensions.code`). */
export class GraphqlAuthError extends Error {
  override name = 'GraphqlAuthError';
  readonly extensions: { code: 'UNAUTHENTICATED' | 'FORBIDDEN' };

  constructor(code: 'UNAUTHENTICATED' | 'FORBIDDEN', message: string) {
    super(message);
    this.extensions = { code };
  }
}

const LOGIN_REQUIRED = 'Login required';
const PERMISSION_DENIED = 'Permission denied';

interface AuthTransport {
  /** The HTTP request of the context (where Passport puts its user), if it has one. */
  requestOf(context: ExecutionContext): Record<PropertyKey, any> | undefined;
  /** What an anonymous visitor is refused with. */
  unauthenticated(context: ExecutionContext, refusal: Refusal): Error | Promise<Error>;
  /** What a logged-in visitor who fails the test is refused with. */
  forbidden(context: ExecutionContext): Error | Promise<Error>;
}

const httpAuth: AuthTransport = {
  requestOf: (context) => context.getArgByIndex(0),
  unauthenticated(context, { loginUrl, redirectFieldName, unauthenticated }) {
    if (unauthenticated === 401) return new UnauthorizedException(LOGIN_REQUIRED);
    if (unauthenticated === 403) return new ForbiddenException(LOGIN_REQUIRED);
    const request = context.getArgByIndex(0);
    const next = nextFor({ url: requestTarget(request), protocol: String(request.protocol ?? 'http'), host: hostOf(request) }, loginUrl);
    const location = redirectToLogin(next, loginUrl, redirectFieldName);
    setHeader(context.getArgByIndex(1), 'Location', location);
    return new LoginRedirectException(location);
  },
  forbidden: () => new ForbiddenException(PERMISSION_DENIED),
};

const graphqlAuth: AuthTransport = {
  requestOf: (context) => graphqlHttpOf(context)?.request,
  unauthenticated: () => new GraphqlAuthError('UNAUTHENTICATED', LOGIN_REQUIRED),
  forbidden: () => new GraphqlAuthError('FORBIDDEN', PERMISSION_DENIED),
};

const websocketAuth: AuthTransport = {
  requestOf: () => undefined,
  unauthenticated: () => wsException('UNAUTHENTICATED', LOGIN_REQUIRED),
  forbidden: () => wsException('FORBIDDEN', PERMISSION_DENIED),
};

const AUTH_TRANSPORTS = new Map<SessionTransport, AuthTransport>([
  [httpTransport, httpAuth],
  [graphqlTransport, graphqlAuth],
  [websocketTransport, websocketAuth],
]);

/** The auth side of `context`'s transport (`SessionContextError` for a context without sessions). */
export function authTransportOf(context: ExecutionContext): AuthTransport {
  return AUTH_TRANSPORTS.get(transportOf(context))!;
}

/** The request target as the client sent it (Express: `originalUrl`, before any mount point took its prefix). */
function requestTarget(request: any): string {
  const url = request.originalUrl ?? request.url ?? request.raw?.url;
  return typeof url === 'string' && url !== '' ? url : '/';
}

/** `request.get_host()`: Express 5's and Fastify 5's `host` (trusting `X-Forwarded-Host` as the app's proxy settings say), else the Host header. */
function hostOf(request: any): string | undefined {
  const host = typeof request.host === 'string' ? request.host : request.headers?.host;
  return typeof host === 'string' ? host : undefined;
}

/** `@nestjs/websockets`'s `WsException`, loaded only when a WebSocket refusal happens (an optional peer). */
let wsExceptionClass: Promise<new (error: string | object) => Error> | undefined;

async function wsException(code: 'UNAUTHENTICATED' | 'FORBIDDEN', message: string): Promise<Error> {
  wsExceptionClass ??= import('@nestjs/websockets').then((m) => m.WsException);
  const WsException = await wsExceptionClass;
  return new WsException({ status: 'error', code, message });
}
