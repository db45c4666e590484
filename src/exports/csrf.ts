/** `nestjs-django-session/csrf`: Django's CSRF protection (`CsrfViewMiddleware`), shared with Django. */
export { CsrfModule } from '../csrf/csrf.module.js';
export { CsrfGuard, CsrfFailure } from '../csrf/csrf.guard.js';
export { CsrfExempt, CsrfToken } from '../csrf/csrf.decorators.js';
export { getCsrfToken, rotateCsrfToken, CSRF_SESSION_KEY } from '../csrf/csrf-state.js';
export { CSRF_OPTIONS, CSRF_COOKIE_AGE, type CsrfModuleOptions, type ResolvedCsrfOptions } from '../csrf/csrf-options.js';
