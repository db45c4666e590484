/**
 * `CsrfModule`'s options: Django's `CSRF_*` settings in camelCase, checked at start-up.
 */
import { ConfigurableModuleBuilder } from '@nestjs/common';
import { DEFAULT_DJANGO_VERSION, DJANGO_VERSIONS, describeVersion, isDjangoVersion, type DjangoVersion } from '../django-versions.js';
import { titledHeaderName, urlsplit } from './csrf-tokens.js';

/** Django's `CSRF_COOKIE_AGE` default: 52 weeks, in seconds. */
export const CSRF_COOKIE_AGE = 60 * 60 * 24 * 7 * 52;

/** The options of `CsrfModule.forRoot()`: Django's CSRF settings, by the same names in camelCase. */
export interface CsrfModuleOptions {
  /**
   * The Django release the app shares the site with. 3.2 and 4.0 store a masked 64-character token
   * in the cookie (or session); 4.1+ store the 32-character secret. Both are always read. 3.2 also
   * has no Origin check and one reason for a bad token ('CSRF token missing or incorrect.').
   * Default: the `SessionModule`'s `djangoVersion`, else `'5.2'`.
   */
  djangoVersion?: DjangoVersion;
  /** `CSRF_COOKIE_NAME`. Default `'csrftoken'`. */
  cookieName?: string;
  /** `CSRF_COOKIE_AGE` in seconds; null for a browser-session cookie. Default 31449600 (52 weeks). */
  cookieAge?: number | null;
  /** `CSRF_COOKIE_DOMAIN`. Default null (the host only). */
  cookieDomain?: string | null;
  /** `CSRF_COOKIE_PATH`. Default `'/'`. */
  cookiePath?: string;
  /** `CSRF_COOKIE_SECURE`. Default false. */
  cookieSecure?: boolean;
  /** `CSRF_COOKIE_HTTPONLY`. Default false (scripts read the cookie to send the header). */
  cookieHttpOnly?: boolean;
  /** `CSRF_COOKIE_SAMESITE`: `'Lax'`, `'Strict'`, `'None'` or false (no attribute). Default `'Lax'`. */
  cookieSameSite?: 'Lax' | 'Strict' | 'None' | false;
  /**
   * `CSRF_HEADER_NAME`, as the header is sent (`'X-CSRFToken'`) or as Django's setting spells it
   * (`'HTTP_X_CSRFTOKEN'`). Default `'X-CSRFToken'`.
   */
  headerName?: string;
  /**
   * `CSRF_TRUSTED_ORIGINS`: origins (scheme and host, `'https://app.example.com'`) trusted for
   * unsafe requests besides the request's own host; `'https://*.example.com'` trusts the domain and
   * its subdomains. Default `[]`.
   */
  trustedOrigins?: readonly string[];
  /**
   * `CSRF_USE_SESSIONS`: keep the secret in the session under `_csrftoken` instead of a cookie
   * (needs `SessionModule`). The session is read where the secret is needed: an unsafe request's
   * check, a handler taking `@CsrfToken()`, or the handler's own `@Session()`. Default false.
   */
  useSessions?: boolean;
  /**
   * Whether GraphQL operations over HTTP are checked as Django checks a view (a POST needs the
   * token in the header; GET queries are safe). Default true.
   */
  graphql?: boolean;
}

/** The options with every default applied, as the guard reads them. */
export interface ResolvedCsrfOptions {
  readonly djangoVersion: DjangoVersion;
  /** Django 3.2's rules (no Origin check, `_sanitize_token`, one bad-token reason). */
  readonly legacy: boolean;
  /** Whether the cookie (or session) holds a masked token (3.2, 4.0) rather than the secret (4.1+). */
  readonly maskedCookie: boolean;
  readonly cookieName: string;
  readonly cookieAge: number | null;
  readonly cookieDomain: string | null;
  readonly cookiePath: string;
  readonly cookieSecure: boolean;
  readonly cookieHttpOnly: boolean;
  readonly cookieSameSite: 'Lax' | 'Strict' | 'None' | false;
  /** The header, lower-cased, as Node's `request.headers` has it. */
  readonly headerKey: string;
  /** As a reason names it: `'X-Csrftoken'`. */
  readonly headerName: string;
  readonly trustedOrigins: readonly string[];
  readonly useSessions: boolean;
  /** `SESSION_COOKIE_DOMAIN`, the good Referer with `useSessions`. */
  readonly sessionCookieDomain: string | null;
  readonly graphql: boolean;
  /** Exact trusted origins. */
  readonly allowedOriginsExact: ReadonlySet<string>;
  /** Scheme → the domains (`.example.com`) trusted with their subdomains. */
  readonly allowedOriginSubdomains: ReadonlyMap<string, readonly string[]>;
  /** The hosts of every trusted origin (`'*'` stripped), for the Referer check. */
  readonly trustedOriginHosts: readonly string[];
}

/** forRoot / forRootAsync (useFactory, useClass, useExisting, imports, inject), built by Nest. */
export const {
  ConfigurableModuleClass: ConfigurableCsrfModule,
  MODULE_OPTIONS_TOKEN: CSRF_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<CsrfModuleOptions>({ moduleName: 'Csrf' }).setClassMethodName('forRoot').build();

/** The resolved options' injection token. */
export const CSRF_OPTIONS = Symbol('CSRF_OPTIONS');

function fail(name: string, message: string): never {
  throw new TypeError(`CsrfModule: \`${name}\` ${message}`);
}

const TOKEN_HEADER = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** Applies the defaults and checks each option; `session` is the `SessionModule`'s options, if any. */
export function resolveCsrfOptions(
  input: CsrfModuleOptions | undefined,
  session?: { djangoVersion?: unknown; cookieDomain?: unknown } | null,
): ResolvedCsrfOptions {
  const options = input ?? {};
  if (typeof options !== 'object') fail('options', 'must be an object');
  const djangoVersion = options.djangoVersion ?? (isDjangoVersion(session?.djangoVersion) ? session.djangoVersion : DEFAULT_DJANGO_VERSION);
  if (!isDjangoVersion(djangoVersion)) {
    fail('djangoVersion', `must be one of ${DJANGO_VERSIONS.map((v) => `'${v}'`).join(', ')}; got ${describeVersion(djangoVersion)}`);
  }
  const cookieName = options.cookieName ?? 'csrftoken';
  if (typeof cookieName !== 'string' || !TOKEN_HEADER.test(cookieName)) fail('cookieName', 'must be a cookie name (letters, digits, -_.!#$%&\'*+^`|~)');
  const cookieAge = options.cookieAge === undefined ? CSRF_COOKIE_AGE : options.cookieAge;
  if (cookieAge !== null && (typeof cookieAge !== 'number' || !Number.isFinite(cookieAge))) fail('cookieAge', 'must be a number of seconds or null');
  const cookieDomain = options.cookieDomain ?? null;
  if (cookieDomain !== null && (typeof cookieDomain !== 'string' || cookieDomain === '' || /[\s;,]/.test(cookieDomain))) fail('cookieDomain', 'must be a domain or null');
  const cookiePath = options.cookiePath ?? '/';
  if (typeof cookiePath !== 'string' || !cookiePath.startsWith('/') || /[\s;,]/.test(cookiePath)) fail('cookiePath', "must be a path starting with '/'");
  const cookieSameSite = options.cookieSameSite === undefined ? 'Lax' : options.cookieSameSite;
  if (!['Lax', 'Strict', 'None', false].includes(cookieSameSite as string)) fail('cookieSameSite', "must be 'Lax', 'Strict', 'None' or false");
  for (const name of ['cookieSecure', 'cookieHttpOnly', 'useSessions', 'graphql'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') fail(name, 'must be a boolean');
  }
  let header = options.headerName ?? 'X-CSRFToken';
  if (typeof header !== 'string' || header === '') fail('headerName', 'must be a header name');
  // Django's form: HTTP_X_CSRFTOKEN is the header X-CSRFToken.
  if (/^HTTP_[A-Z0-9_]+$/.test(header)) header = header.slice(5).replace(/_/g, '-');
  if (!TOKEN_HEADER.test(header)) fail('headerName', 'must be a header name');
  const trustedOrigins = options.trustedOrigins ?? [];
  if (!Array.isArray(trustedOrigins)) fail('trustedOrigins', 'must be an array of origins');
  const exact = new Set<string>();
  const subdomains = new Map<string, string[]>();
  const hosts: string[] = [];
  for (const origin of trustedOrigins as unknown[]) {
    // Django 4.0's check (4_0.E001): each origin starts with a scheme.
    if (typeof origin !== 'string' || !origin.includes('://')) {
      fail('trustedOrigins', `must list origins with a scheme ('https://example.com'), got ${typeof origin === 'string' ? JSON.stringify(origin) : typeof origin}`);
    }
    const split = urlsplit(origin);
    if (split === null) fail('trustedOrigins', `has a malformed origin ${JSON.stringify(origin)}`);
    const host = split.netloc.replace(/^\*+/, '');
    hosts.push(host);
    if (origin.includes('*')) subdomains.set(split.scheme, [...(subdomains.get(split.scheme) ?? []), host]);
    else exact.add(origin);
  }
  const sessionDomain = typeof session?.cookieDomain === 'string' && session.cookieDomain !== '' ? session.cookieDomain : null;
  return {
    djangoVersion,
    legacy: djangoVersion === '3.2',
    maskedCookie: djangoVersion === '3.2' || djangoVersion === '4.0',
    cookieName,
    cookieAge: cookieAge === null ? null : Math.trunc(cookieAge),
    cookieDomain,
    cookiePath,
    cookieSecure: options.cookieSecure ?? false,
    cookieHttpOnly: options.cookieHttpOnly ?? false,
    cookieSameSite,
    headerKey: header.toLowerCase(),
    headerName: titledHeaderName(header),
    trustedOrigins: [...(trustedOrigins as string[])],
    useSessions: options.useSessions ?? false,
    sessionCookieDomain: sessionDomain,
    graphql: options.graphql ?? true,
    allowedOriginsExact: exact,
    allowedOriginSubdomains: subdomains,
    trustedOriginHosts: hosts,
  };
}
