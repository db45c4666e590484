/**
 * Each request's CSRF state — Django's `request.META["CSRF_COOKIE"]` and
 * `CSRF_COOKIE_NEEDS_UPDATE` — with `get_token()`, `rotate_token()` and the response's cookie.
 * Kept by request object in a WeakMap, made by `CsrfGuard` before the handler runs.
 */
import { addVaryCookie, appendSetCookie, headersSent, readSessionCookie, setCookieValue } from '../session.http.js';
import { openedSessionOf } from '../session.requests.js';
import type { SessionStore } from '../session.store.js';
import type { ResolvedCsrfOptions } from './csrf-options.js';
import { csrfTokenFormatError, CSRF_TOKEN_LENGTH, maskCsrfSecret, newCsrfSecret, sanitizedSecret32, secretOf } from './csrf-tokens.js';
import { linkCsrfRotation, takePendingLogin } from './login-rotation.js';

/** `CSRF_SESSION_KEY`: where the secret is kept with `useSessions`. */
export const CSRF_SESSION_KEY = '_csrftoken';

/** @internal A request's CSRF state. */
export interface CsrfRequestState {
  readonly options: ResolvedCsrfOptions;
  /** The secret in use (32 characters), or null when the request brought none and none was made. */
  secret: string | null;
  /** What the cookie (or session) holds for it: the secret (4.1+) or a masked token (3.2, 4.0). */
  stored: string | null;
  /** `CSRF_COOKIE_NEEDS_UPDATE`: send the cookie with the response. */
  needsUpdate: boolean;
  /** 4.0+: the cookie's format error ('CSRF cookie has incorrect length.'), which fails the check. */
  cookieError: string | null;
  /** `useSessions`: the request's session. */
  session?: SessionStore<any>;
  /** Where the cookie goes. */
  response?: unknown;
  /** The check's outcome once made (a GraphQL operation's resolvers share it): null passed, else the reason. */
  verdict?: string | null;
}

const states = new WeakMap<object, CsrfRequestState>();

/** @internal The request's CSRF state, if `CsrfGuard` made one. */
export function csrfStateOf(request: unknown): CsrfRequestState | undefined {
  return request !== null && typeof request === 'object' ? states.get(request) : undefined;
}

/**
 * @internal Django's `process_request`: the secret the request brings in its cookie; with
 * `useSessions`, in its session, read when the session is attached ({@link attachCsrfSession}).
 */
export function openCsrfState(request: object, options: ResolvedCsrfOptions): CsrfRequestState {
  const existing = states.get(request);
  if (existing !== undefined) return existing;
  const state: CsrfRequestState = { options, secret: null, stored: null, needsUpdate: false, cookieError: null };
  if (!options.useSessions) readStored(state, readSessionCookie(request as { headers?: Record<string, string | string[] | undefined> }, options.cookieName));
  states.set(request, state);
  return state;
}

/** @internal `useSessions`: reads the secret from the request's session, and links `login()` on it to this state. */
export function attachCsrfSession(state: CsrfRequestState, session: SessionStore<any>): void {
  if (state.session !== undefined) return;
  state.session = session;
  const raw: unknown = session.get(CSRF_SESSION_KEY);
  // Any other value in the session (not Django's) is as good as none.
  readStored(state, typeof raw === 'string' && csrfTokenFormatError(raw) === null ? raw : undefined);
  linkCsrfRotation(session, () => rotateState(state));
}

function readStored(state: CsrfRequestState, raw: string | undefined): void {
  if (raw === undefined) return;
  const { options } = state;
  if (options.legacy) {
    // 3.2's _sanitize_token: a bad cookie is replaced by a new token (sent only if used).
    const { secret, replaced } = sanitizedSecret32(raw);
    state.secret = secret;
    state.stored = !replaced && raw.length === CSRF_TOKEN_LENGTH ? raw : maskCsrfSecret(secret);
    return;
  }
  const error = csrfTokenFormatError(raw);
  if (error !== null) {
    // _add_new_csrf_cookie(); the check then fails on the cookie as it came.
    state.cookieError = `CSRF cookie ${error}.`;
    setNewSecret(state);
  } else {
    state.secret = secretOf(raw);
    state.stored = options.maskedCookie ? (raw.length === CSRF_TOKEN_LENGTH ? raw : maskCsrfSecret(state.secret)) : state.secret;
  }
}

/** `useSessions`: the session of a request whose guard did not need it, from its handler (`@Session()`). */
function ensureSession(state: CsrfRequestState, request: object, caller: string): void {
  if (!state.options.useSessions || state.session !== undefined) return;
  const opened = openedSessionOf(request);
  if (opened === undefined) {
    throw new Error(
      `${caller}: with useSessions the CSRF secret is in the session, which was not read for this request: take @CsrfToken() or @Session() in the handler, or call SessionService.forContext() first.`,
    );
  }
  attachCsrfSession(state, opened.store);
}

function setNewSecret(state: CsrfRequestState): void {
  const secret = newCsrfSecret();
  state.secret = secret;
  state.stored = state.options.maskedCookie ? maskCsrfSecret(secret) : secret;
  state.needsUpdate = true;
}

/** `useSessions`: `_set_csrf_cookie` at once — the session is saved after the handler, as usual. */
function writeSession(state: CsrfRequestState): void {
  const session = state.session;
  if (session !== undefined && state.stored !== null && session.get(CSRF_SESSION_KEY) !== state.stored) session.set(CSRF_SESSION_KEY, state.stored);
}

/** @internal `rotate_token(request)`. */
export function rotateState(state: CsrfRequestState): void {
  setNewSecret(state);
  if (state.options.useSessions) writeSession(state);
}

/** Cookie mode: a `login()` on the request's session since we last looked rotates the secret. */
function applyPendingLogin(state: CsrfRequestState, request: object): void {
  const opened = openedSessionOf(request);
  if (opened !== undefined && takePendingLogin(opened.store)) rotateState(state);
}

function stateFor(request: unknown, caller: string): CsrfRequestState {
  const state = csrfStateOf(request);
  if (state === undefined) {
    throw new Error(
      `${caller}: this request has no CSRF state. Import CsrfModule.forRoot() (its guard prepares every HTTP request and GraphQL operation) and pass the request the handler got.`,
    );
  }
  return state;
}

/**
 * Django's `get_token(request)`: a new masked token (64 characters, different at each call) for
 * the request's secret, made now if the request brought none. The cookie (or the session) is then
 * sent with the response, as Django's `CSRF_COOKIE_NEEDS_UPDATE` does. Put it in a form as
 * `csrfmiddlewaretoken`, or send it as the `X-CSRFToken` header.
 *
 * @example
 * ```ts
 * @Get('form') form(@Req() req: Request) {
 *   return `<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="${getCsrfToken(req)}">…</form>`;
 * }
 * ```
 */
export function getCsrfToken(request: object): string {
  const state = stateFor(request, 'getCsrfToken()');
  ensureSession(state, request, 'getCsrfToken()');
  if (!state.options.useSessions) applyPendingLogin(state, request);
  if (state.secret === null) setNewSecret(state);
  else state.needsUpdate = true;
  if (state.options.useSessions) writeSession(state);
  return maskCsrfSecret(state.secret!);
}

/**
 * Django's `rotate_token(request)`: a new secret for this request's visitor (tokens issued before
 * stop being accepted). Our `login()` does it already, as Django's does.
 */
export function rotateCsrfToken(request: object): void {
  const state = stateFor(request, 'rotateCsrfToken()');
  ensureSession(state, request, 'rotateCsrfToken()');
  rotateState(state);
}

/** @internal Cookie mode: the response phase — a login seen, then `_set_csrf_cookie` when needed. */
export function finishCsrfResponse(state: CsrfRequestState, request: object, response: any): void {
  if (state.options.useSessions) return;
  applyPendingLogin(state, request);
  writeCsrfCookie(state, response);
}

/** @internal Sets the cookie (and `Vary: Cookie`) if the state needs it and the headers are not gone. */
export function writeCsrfCookie(state: CsrfRequestState, response: any): void {
  const { options } = state;
  if (!state.needsUpdate || options.useSessions || state.stored === null || response === null || typeof response !== 'object') return;
  if (headersSent(response)) return;
  appendSetCookie(response, setCookieValue(options, options.cookieName, state.stored, options.cookieAge));
  addVaryCookie(response);
  state.needsUpdate = false;
}
