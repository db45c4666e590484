/** Injection token of the resolved `SessionModuleOptions`. */
export const SESSION_OPTIONS = Symbol('SESSION_OPTIONS');
/** Metadata key `@Session()` sets on a handler, so the interceptor loads sessions only where used. */
export const SESSION_PARAM_METADATA = 'nestjs-django-session:param';
/**
 * A property a global guard or interceptor of this package sets to true when it never opens the
 * request's session (CSRF in cookie mode): `SessionRoutes` then does not count it among what could,
 * so routes without `@Session()` keep paying nothing.
 */
export const OPENS_NO_SESSION = Symbol.for('nestjs-django-session:opens-no-session');
