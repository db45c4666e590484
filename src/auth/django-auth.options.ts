/**
 * The options of `DjangoAuthModule.forRoot()`: Django's `LOGIN_URL`, `REDIRECT_FIELD_NAME`,
 * `AUTHENTICATION_BACKENDS` and the user lookup of `ModelBackend.get_user()`. Declared once here,
 * validated at start-up, each bad one named.
 */
import { SessionConfigError } from '../session.errors.js';
import { describeOption } from '../option-checks.js';
import type { DjangoUserLookup } from './django-login.js';

/**
 * What an anonymous visitor gets from `@LoginRequired()` / `@UserPassesTest()` over HTTP:
 * `'redirect'` (Django's `login_required`: a 302 to the login URL with `?next=`), `401`
 * (`UnauthorizedException`) or `403` (`ForbiddenException`, what Django REST framework answers
 * under session authentication), for APIs. GraphQL and WebSocket handlers never redirect.
 */
export type UnauthenticatedResponse = 'redirect' | 401 | 403;

/** What `@LoginRequired()` / `@UserPassesTest()` may override per handler, as Django's `login_required(login_url=..., redirect_field_name=...)`. */
export interface LoginRequiredOptions {
  /** `LOGIN_URL`: where an anonymous visitor is sent. Default `'/accounts/login/'`. */
  loginUrl?: string;
  /** `REDIRECT_FIELD_NAME`: the query parameter carrying the page to come back to; `null` or `''` adds none. Default `'next'`. */
  redirectFieldName?: string | null;
  /** What an anonymous visitor gets over HTTP (see `UnauthenticatedResponse`). Default `'redirect'`. */
  unauthenticated?: UnauthenticatedResponse;
}

/** Options of `DjangoAuthModule.forRoot()` (`forRootAsync()`'s factory returns the same). */
export interface DjangoAuthModuleOptions<U extends { password: string } = any> extends LoginRequiredOptions {
  /**
   * `ModelBackend.get_user()`: the user whose primary key is `userId` (always a string, as Django
   * stores it), with its stored `password` hash (checked against `_auth_user_hash`), or `null`.
   * Return `null` for an inactive user to follow Django's `is_active` rule. Called at most once per
   * request (GraphQL operation, WebSocket message), and only where a handler asks for the user.
   * Optional when `passportUser` is on and Passport's session strategy runs on every request.
   */
  loadUser?: DjangoUserLookup<U>;
  /** `AUTHENTICATION_BACKENDS`: sessions logged in through another backend are anonymous. Default `['django.contrib.auth.backends.ModelBackend']`. */
  backends?: readonly string[];
  /** Accept Django < 3.1's SHA-1 `_auth_user_hash`, as Django 3.2 does. Default: as `SessionModule`'s `djangoVersion` says. */
  legacyHash?: boolean;
  /**
   * Over HTTP and GraphQL, a user Passport put on the request (`req.user`, or Passport's
   * `userProperty`) is the current user as it is, and `loadUser` is not called. Default `true`.
   */
  passportUser?: boolean;
}

export interface ResolvedDjangoAuthOptions {
  readonly loadUser: DjangoUserLookup<any> | undefined;
  readonly loginUrl: string;
  readonly redirectFieldName: string | null;
  readonly unauthenticated: UnauthenticatedResponse;
  readonly backends: readonly string[] | undefined;
  readonly legacyHash: boolean | undefined;
  readonly passportUser: boolean;
}

/** Django's defaults: `LOGIN_URL`, `REDIRECT_FIELD_NAME`. */
export const DJANGO_AUTH_DEFAULTS = {
  loginUrl: '/accounts/login/',
  redirectFieldName: 'next',
  unauthenticated: 'redirect',
  passportUser: true,
} as const;

const OPTION_NAMES: ReadonlySet<string> = new Set(['loadUser', 'loginUrl', 'redirectFieldName', 'unauthenticated', 'backends', 'legacyHash', 'passportUser']);
const UNAUTHENTICATED: ReadonlySet<unknown> = new Set(['redirect', 401, 403]);

function fail(owner: string, option: string, problem: string): never {
  throw new SessionConfigError(`${owner} option "${option}" ${problem}`);
}

/** Checks the per-handler options (also part of the module's); `owner` names who was given them. */
export function checkLoginRequiredOptions(options: LoginRequiredOptions, owner: string): void {
  const { loginUrl, redirectFieldName, unauthenticated } = options;
  if (loginUrl !== undefined && (typeof loginUrl !== 'string' || loginUrl === '')) fail(owner, 'loginUrl', `must be a non-empty URL or path, got ${describeOption(loginUrl)}`);
  if (redirectFieldName !== undefined && redirectFieldName !== null && typeof redirectFieldName !== 'string') {
    fail(owner, 'redirectFieldName', `must be a string or null, got ${describeOption(redirectFieldName)}`);
  }
  if (unauthenticated !== undefined && !UNAUTHENTICATED.has(unauthenticated)) fail(owner, 'unauthenticated', `must be 'redirect', 401 or 403, got ${describeOption(unauthenticated)}`);
}

/** Validates `DjangoAuthModule`'s options at start-up and fills in Django's defaults. */
export function resolveDjangoAuthOptions(input: DjangoAuthModuleOptions): ResolvedDjangoAuthOptions {
  const owner = 'DjangoAuthModule';
  if (input === null || typeof input !== 'object') throw new SessionConfigError(`${owner}.forRoot() needs an options object, got ${describeOption(input)}`);
  for (const name of Object.keys(input)) if (!OPTION_NAMES.has(name)) fail(owner, name, 'is not an option of DjangoAuthModule');
  checkLoginRequiredOptions(input, owner);
  if (input.loadUser !== undefined && typeof input.loadUser !== 'function') fail(owner, 'loadUser', `must be a function (userId) => user | null, got ${describeOption(input.loadUser)}`);
  if (input.passportUser !== undefined && typeof input.passportUser !== 'boolean') fail(owner, 'passportUser', `must be a boolean, got ${describeOption(input.passportUser)}`);
  if (input.legacyHash !== undefined && typeof input.legacyHash !== 'boolean') fail(owner, 'legacyHash', `must be a boolean, got ${describeOption(input.legacyHash)}`);
  if (input.backends !== undefined && (!Array.isArray(input.backends) || input.backends.some((b) => typeof b !== 'string' || b === ''))) {
    fail(owner, 'backends', 'must be an array of dotted backend paths');
  }
  const passportUser = input.passportUser ?? DJANGO_AUTH_DEFAULTS.passportUser;
  if (input.loadUser === undefined && !passportUser) fail(owner, 'loadUser', 'is required (how a user is found from the _auth_user_id the session holds) unless passportUser is on');
  return Object.freeze({
    loadUser: input.loadUser,
    loginUrl: input.loginUrl ?? DJANGO_AUTH_DEFAULTS.loginUrl,
    redirectFieldName: input.redirectFieldName === undefined ? DJANGO_AUTH_DEFAULTS.redirectFieldName : input.redirectFieldName,
    unauthenticated: input.unauthenticated ?? DJANGO_AUTH_DEFAULTS.unauthenticated,
    backends: input.backends === undefined ? undefined : Object.freeze([...input.backends]),
    legacyHash: input.legacyHash,
    passportUser,
  });
}
