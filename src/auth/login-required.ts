/**
 * Django's `login_required` and `user_passes_test` as Nest guards, on controllers, GraphQL
 * resolvers and WebSocket gateways alike.
 */
import { Inject, Optional, UseGuards, mixin, type CanActivate, type ExecutionContext, type Type } from '@nestjs/common';
import { checkLoginRequiredOptions, type LoginRequiredOptions } from './django-auth.options.js';
import { DjangoAuthService } from './django-auth.service.js';
import { markUsesSession } from '../session.decorator.js';

/** A test on the logged-in user: `user_passes_test(test_func)`. May be async; gets the context too. */
export type UserTest<U = any> = (user: U, context: ExecutionContext) => boolean | Promise<boolean>;

/** What one `@LoginRequired()` / `@UserPassesTest()` asks for. */
interface Requirement extends LoginRequiredOptions {
  test?: UserTest;
}

/**
 * The guard behind `@LoginRequired()` and `@UserPassesTest()`: each decorator binds a subclass of
 * its own (holding its test and options), so a class's guard and a method's both run, as stacked
 * Django decorators do, and the user is looked up once for them all.
 */
export abstract class DjangoAuthGuard implements CanActivate {
  protected abstract readonly requirement: Requirement;

  constructor(@Optional() @Inject(DjangoAuthService) private readonly auth: DjangoAuthService | undefined) {
    if (auth === undefined) {
      throw new Error('@LoginRequired() and @UserPassesTest() need DjangoAuthModule.forRoot({ loadUser }) (from nestjs-django-session/auth) in the application module');
    }
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const auth = this.auth!;
    const { test, ...refusal } = this.requirement;
    const user = await auth.userFor(context);
    // Anonymous: refused as login_required refuses, whatever the test (which needs a user).
    if (user === null) throw await auth.unauthenticated(context, refusal);
    if (test !== undefined && (await test(user, context)) !== true) throw await auth.forbidden(context);
    return true;
  }
}

function requirementGuard(requirement: Requirement): Type<CanActivate> {
  class RequirementGuard extends DjangoAuthGuard {
    protected readonly requirement = requirement;
  }
  return mixin(RequirementGuard);
}

function authDecorator(requirement: Requirement): ClassDecorator & MethodDecorator {
  const guard = UseGuards(requirementGuard(requirement));
  return (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor) => {
    markUsesSession(target, propertyKey);
    if (propertyKey === undefined) guard(target as Function);
    else guard(target, propertyKey, descriptor!);
  };
}

/**
 * Django's `@login_required`: only a logged-in user gets through. Over HTTP an anonymous visitor is
 * redirected (302) to `loginUrl?next=<the page>` exactly as Django writes it, or answered 401/403
 * (`unauthenticated`); a GraphQL operation gets an error with `extensions.code: 'UNAUTHENTICATED'`;
 * a WebSocket message a `WsException` (`{ status: 'error', code: 'UNAUTHENTICATED', message }`).
 * On a controller, resolver or gateway class, or on one handler. The options override
 * `DjangoAuthModule`'s for this handler, as `login_required(login_url=..., redirect_field_name=...)`.
 *
 * @example
 * ```ts
 * @Get('account')
 * @LoginRequired()
 * account(@CurrentUser() user: User) { return { username: user.username }; }
 * ```
 */
export function LoginRequired(options: LoginRequiredOptions = {}): ClassDecorator & MethodDecorator {
  checkLoginRequiredOptions(options, '@LoginRequired()');
  return authDecorator({ ...options });
}

/**
 * Django's `@user_passes_test(test)`, with the rule of Django's `UserPassesTestMixin`: a
 * logged-in user for whom `test(user, context)` is not `true` is refused with 403 (GraphQL:
 * `FORBIDDEN`; WebSocket: a `WsException` with that code); an anonymous visitor is refused as by
 * `@LoginRequired()`, without running the test. `test` may be async.
 *
 * @example
 * ```ts
 * @Post('polls')
 * @UserPassesTest((user: User) => user.isStaff)
 * create() { ... }
 * ```
 */
export function UserPassesTest<U = any>(test: UserTest<U>, options: LoginRequiredOptions = {}): ClassDecorator & MethodDecorator {
  if (typeof test !== 'function') throw new TypeError('@UserPassesTest(test): `test` must be a function (user, context) => boolean');
  checkLoginRequiredOptions(options, '@UserPassesTest()');
  return authDecorator({ ...options, test: test as UserTest });
}
