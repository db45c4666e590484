import { inspect } from 'node:util';
import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { SocketSessionError } from '../integrations/websocket.js';
import { userPropertyOf } from '../integrations/passport.js';
import { SessionService } from '../session.service.js';
import type { SessionStore } from '../session.store.js';
import { authTransportOf, type Refusal } from './auth-refusals.js';
import { DJANGO_AUTH_OPTIONS } from './django-auth.module-definition.js';
import type { ResolvedDjangoAuthOptions } from './django-auth.options.js';
import { getUser } from './django-login.js';

/**
 * Each request's user once asked for, by its session (one `SessionStore` per HTTP request, GraphQL
 * operation and WebSocket message): Django's `request._cached_user`. The promise is kept, so the
 * resolvers of one operation, side by side, share one lookup.
 */
const cachedUsers = new WeakMap<SessionStore<any>, Promise<unknown>>();

/** @internal The user `DjangoAuthService.userFor()` resolved (or is resolving) for this session, if it was asked. */
export function cachedUserOf(session: SessionStore<any> | undefined): Promise<unknown> | undefined {
  return session === undefined ? undefined : cachedUsers.get(session);
}

/**
 * Django's `request.user` for Nest: the logged-in user of a request, GraphQL operation or
 * WebSocket message, looked up at most once for it (by `loadUser`, the hash checked as
 * `getUser()` checks it) and only when something asks. What `@LoginRequired()`,
 * `@UserPassesTest()` and `@CurrentUser()` use; inject it in a guard of your own.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class StaffGuard implements CanActivate {
 *   constructor(private readonly auth: DjangoAuthService<User>) {}
 *   async canActivate(context: ExecutionContext) {
 *     return (await this.auth.userFor(context))?.isStaff === true;
 *   }
 * }
 * ```
 */
@Injectable()
export class DjangoAuthService<U = any> {
  /** Printed by name only: the options hold the app's user lookup. */
  [inspect.custom](): string {
    return 'DjangoAuthService {}';
  }

  constructor(
    @Inject(DJANGO_AUTH_OPTIONS) readonly options: ResolvedDjangoAuthOptions,
    private readonly sessions: SessionService,
  ) {}

  /**
   * The user of `context`'s request, or `null` for an anonymous visitor (Django's `AnonymousUser`):
   * Passport's `req.user` when Passport put one there (`passportUser`), else `loadUser` on the
   * session's `_auth_user_id`. A session whose `_auth_user_hash` no longer matches the user's
   * password is flushed, as Django does. `SessionContextError` in a context without sessions.
   */
  async userFor(context: ExecutionContext): Promise<U | null> {
    const transport = authTransportOf(context);
    const session = await this.sessions.forContext(context);
    let cached = cachedUsers.get(session);
    if (cached === undefined) {
      cached = this.lookUp(transport.requestOf(context), session);
      cachedUsers.set(session, cached);
    }
    return (await cached) as U | null;
  }

  /** What an anonymous visitor is refused with on `context`'s transport. */
  unauthenticated(context: ExecutionContext, refusal: Partial<Refusal> = {}): Promise<Error> {
    const { loginUrl, redirectFieldName, unauthenticated } = this.options;
    return Promise.resolve(authTransportOf(context).unauthenticated(context, { loginUrl, redirectFieldName, unauthenticated, ...defined(refusal) }));
  }

  /** What a logged-in visitor who may not go on is refused with on `context`'s transport. */
  forbidden(context: ExecutionContext): Promise<Error> {
    return Promise.resolve(authTransportOf(context).forbidden(context));
  }

  private async lookUp(request: Record<PropertyKey, any> | undefined, session: SessionStore<any>): Promise<unknown> {
    if (this.options.passportUser && request !== undefined) {
      const user: unknown = request[userPropertyOf(request)];
      if (user !== undefined && user !== null && user !== false) return user;
    }
    const { loadUser, backends, legacyHash } = this.options;
    if (loadUser === undefined) return null;
    let found: { password: string } | null | undefined;
    try {
      return await getUser(
        session,
        async (id) => {
          found = await loadUser(id);
          return found;
        },
        { backends, legacyHash },
      );
    } catch (error) {
      // A hash made with a secretKeyFallbacks key is valid, but Django then re-keys the session,
      // which a WebSocket message cannot (no cookie to send): the user stays logged in, and the
      // next HTTP request that asks for the user re-keys it.
      if (error instanceof SocketSessionError && found !== null && found !== undefined) return found;
      throw error;
    }
  }
}

/** `refusal` without its undefined fields (so they do not hide the module's). */
function defined(refusal: Partial<Refusal>): Partial<Refusal> {
  return Object.fromEntries(Object.entries(refusal).filter(([, value]) => value !== undefined));
}
