/** Injection token of the resolved `SessionModuleOptions`. */
export const SESSION_OPTIONS = Symbol('SESSION_OPTIONS');
/** Metadata key `@Session()` sets on a handler, so the interceptor loads sessions only where used. */
export const SESSION_PARAM_METADATA = 'nestjs-django-session:param';
