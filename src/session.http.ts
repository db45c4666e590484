/**
 * The few things the session layer needs from a request and a response, on Express and on
 * Fastify alike. Cookies are serialised by the `cookie` package, never by hand.
 */
import { stringifySetCookie } from 'cookie';
import type { ResolvedSessionOptions } from './session-options.interface.js';

interface HeaderBag {
  headers?: Record<string, string | string[] | undefined>;
}

/**
 * The raw value of the session cookie, or `undefined` when the request has none. Read as Django's
 * `parse_cookie` reads it, so that both sides of a shared login pick the same cookie: of several
 * cookies of that name the last wins, and surrounding double quotes are removed.
 */
export function readSessionCookie(request: HeaderBag, cookieName: string): string | undefined {
  const header = request.headers?.cookie;
  if (typeof header !== 'string' || !header.includes(cookieName)) return undefined;
  let value: string | undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq >= 0 && pythonStrip(pair.slice(0, eq)) === cookieName) value = pythonStrip(pair.slice(eq + 1));
  }
  if (value !== undefined && value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return value;
}

/** Python's `str.isspace()` characters: JS's `trim()` set but for U+001C–U+001F and U+0085 (spaces) and U+FEFF (not). */
const PYTHON_SPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** Python's `str.strip()`, as Django's `parse_cookie` strips names and values (a loop: linear on any header). */
function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && PYTHON_SPACE.test(text[start]!)) start++;
  while (end > start && PYTHON_SPACE.test(text[end - 1]!)) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

type AnyResponse = Record<string, any>;

function getHeader(response: AnyResponse, name: string): unknown {
  return typeof response.getHeader === 'function' ? response.getHeader(name) : undefined;
}

/** Sets one response header, on Express or Fastify. */
export function setHeader(response: AnyResponse, name: string, value: string): void {
  // Fastify's reply has header(); Express's response (and Node's) has setHeader().
  if (typeof response.header === 'function' && response.raw !== undefined) response.header(name, value);
  else response.setHeader(name, value);
}

/** Whether the response's headers are gone already (a handler that answered through `@Res()`). */
export function headersSent(response: AnyResponse): boolean {
  return Boolean(response.raw !== undefined ? response.sent || response.raw.headersSent : response.headersSent);
}

/** Adds a `Set-Cookie` header, keeping any set before (Express `append`, Fastify `header`). */
export function appendSetCookie(response: AnyResponse, value: string): void {
  if (response.raw !== undefined && typeof response.header === 'function') {
    response.header('set-cookie', value); // Fastify accumulates set-cookie values
  } else if (typeof response.append === 'function') {
    response.append('Set-Cookie', value);
  } else {
    const previous = getHeader(response, 'set-cookie');
    const list = previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
    response.setHeader('Set-Cookie', [...list, value]);
  }
}

/** `patch_vary_headers(response, ('Cookie',))`: adds `Cookie` to `Vary` once. */
export function addVaryCookie(response: AnyResponse): void {
  const previous = getHeader(response, 'vary');
  if (previous === undefined) return setHeader(response, 'Vary', 'Cookie');
  const current = Array.isArray(previous) ? previous.join(', ') : previous === undefined ? '' : String(previous);
  const fields = current.split(',').map((f) => f.trim().toLowerCase());
  if (fields.includes('cookie') || fields.includes('*')) return;
  setHeader(response, 'Vary', current.trim() === '' ? 'Cookie' : `${current}, Cookie`);
}

/**
 * Marks a response that sets the session cookie `Cache-Control: private`, so no shared cache
 * (a CDN, a proxy) stores it and hands one visitor's cookie to another. Keeps the directives
 * already there except `public`; leaves `private` and `no-store` responses as they are.
 */
export function makeCacheControlPrivate(response: AnyResponse): void {
  const previous = getHeader(response, 'cache-control');
  const current = Array.isArray(previous) ? previous.join(', ') : previous === undefined ? '' : String(previous);
  const directives = current.split(',').map((d) => d.trim()).filter((d) => d !== '');
  const names = directives.map((d) => d.toLowerCase().split('=')[0]);
  if (names.includes('private') || names.includes('no-store')) return;
  setHeader(response, 'Cache-Control', ['private', ...directives.filter((_, i) => names[i] !== 'public')].join(', '));
}

/** The session cookie carrying `sessionKey`; `maxAgeSeconds` null for a browser-length cookie. */
export function sessionCookie(options: ResolvedSessionOptions, sessionKey: string, maxAgeSeconds: number | null): string {
  return setCookieValue(options, options.cookieName, sessionKey, maxAgeSeconds);
}

/** The cookie attributes Django's `SESSION_COOKIE_*` and `CSRF_COOKIE_*` settings share. */
export type CookieAttributes = Pick<ResolvedSessionOptions, 'cookieDomain' | 'cookiePath' | 'cookieSecure' | 'cookieHttpOnly' | 'cookieSameSite'>;

/**
 * A `Set-Cookie` value as Django's `response.set_cookie()` writes it: `Max-Age` and `Expires` (none
 * for a browser-length cookie, `maxAgeSeconds` null), then the `attributes`; the value verbatim.
 */
export function setCookieValue(attributes: CookieAttributes, name: string, value: string, maxAgeSeconds: number | null): string {
  const age = maxAgeSeconds === null ? undefined : Math.trunc(maxAgeSeconds);
  return stringifySetCookie({
    name,
    value,
    maxAge: age,
    expires: age === undefined ? undefined : new Date(Date.now() + age * 1000),
    domain: attributes.cookieDomain ?? undefined,
    path: attributes.cookiePath,
    secure: attributes.cookieSecure,
    httpOnly: attributes.cookieHttpOnly,
    sameSite: attributes.cookieSameSite === false ? undefined : (attributes.cookieSameSite.toLowerCase() as 'lax' | 'strict' | 'none'),
  }, VERBATIM);
}

/**
 * The value goes out as it is, as Django writes it: keys are `[a-z0-9]`, and a signed cookie's
 * value (`payload:timestamp:signature`, URL-safe base64) is cookie-safe as well. The cookie
 * package's default `encodeURIComponent` would turn each `:` into `%3A`, which neither Django nor
 * this module decodes when reading (Django's `parse_cookie` does not unquote).
 */
const VERBATIM = { encode: (value: string) => value };

/** Django's `delete_cookie`: empty value, `Max-Age=0`, Expires in 1970, same path/domain/SameSite. */
export function deletedSessionCookie(options: ResolvedSessionOptions): string {
  const { cookieName, cookieSameSite } = options;
  return stringifySetCookie({
    name: cookieName,
    value: '',
    maxAge: 0,
    expires: new Date(0),
    domain: options.cookieDomain ?? undefined,
    path: options.cookiePath,
    // As Django: Secure when the name demands it or SameSite=None needs it.
    secure: cookieName.startsWith('__Secure-') || cookieName.startsWith('__Host-') || cookieSameSite === 'None',
    sameSite: cookieSameSite === false ? undefined : (cookieSameSite.toLowerCase() as 'lax' | 'strict' | 'none'),
  });
}
