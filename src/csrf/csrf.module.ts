import { Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { SESSION_OPTIONS } from '../session.constants.js';
import { ConfigurableCsrfModule, CSRF_MODULE_OPTIONS, CSRF_OPTIONS, resolveCsrfOptions, type CsrfModuleOptions } from './csrf-options.js';
import { CsrfGuard } from './csrf.guard.js';
import { CsrfInterceptor } from './csrf.interceptor.js';

/**
 * Django's CSRF protection (`CsrfViewMiddleware`), shared with Django: the same `csrftoken`
 * cookie (or `_csrftoken` in the session), the same masked tokens in `csrfmiddlewaretoken` and
 * `X-CSRFToken`, the same Origin and Referer rules and reasons. Import it once, at the root:
 * it registers a global guard (the check) and a global interceptor (the cookie).
 *
 * @example
 * ```ts
 * @Module({ imports: [SessionModule.forRoot({ secretKey }), CsrfModule.forRoot({ trustedOrigins: ['https://*.example.com'] })] })
 * export class AppModule {}
 * ```
 */
@Module({
  providers: [
    {
      provide: CSRF_OPTIONS,
      useFactory: (options: CsrfModuleOptions, session?: { djangoVersion?: unknown; cookieDomain?: unknown }) => resolveCsrfOptions(options, session),
      inject: [CSRF_MODULE_OPTIONS, { token: SESSION_OPTIONS, optional: true }],
    },
    { provide: APP_GUARD, useClass: CsrfGuard },
    { provide: APP_INTERCEPTOR, useClass: CsrfInterceptor },
  ],
  exports: [CSRF_OPTIONS],
})
export class CsrfModule extends ConfigurableCsrfModule {}
