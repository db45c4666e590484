import { inspect } from 'node:util';
import { Global, Module } from '@nestjs/common';
import { ConfigurableDjangoAuthModule, DJANGO_AUTH_MODULE_OPTIONS, DJANGO_AUTH_OPTIONS } from './django-auth.module-definition.js';
import { resolveDjangoAuthOptions } from './django-auth.options.js';
import { DjangoAuthService } from './django-auth.service.js';

/**
 * Django's `AuthenticationMiddleware` settings for the whole app: how a user is found from the
 * session (`loadUser`), `LOGIN_URL` and `REDIRECT_FIELD_NAME`. `DjangoAuthModule.forRoot({...})`
 * (or `forRootAsync` with a factory that injects a repository) once, next to `SessionModule`.
 * Global. Then `@LoginRequired()`, `@UserPassesTest()` and `@CurrentUser()` work in every
 * controller, resolver and gateway; nothing runs on a handler that does not use them.
 *
 * @example
 * ```ts
 * DjangoAuthModule.forRootAsync({
 *   inject: [getRepositoryToken(User)],
 *   useFactory: (users: Repository<User>) => ({ loadUser: (id) => users.findOneBy({ id: Number(id), isActive: true }) }),
 * }),
 * ```
 */
@Global()
@Module({
  providers: [
    { provide: DJANGO_AUTH_OPTIONS, useFactory: resolveDjangoAuthOptions, inject: [DJANGO_AUTH_MODULE_OPTIONS] },
    DjangoAuthService,
  ],
  exports: [DjangoAuthService, DJANGO_AUTH_OPTIONS],
})
export class DjangoAuthModule extends ConfigurableDjangoAuthModule {
  /** Printed by name only: the options hold the app's user lookup. */
  [inspect.custom](): string {
    return 'DjangoAuthModule {}';
  }
}
