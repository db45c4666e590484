/**
 * Django's `CsrfViewMiddleware.process_view` for one unsafe request: the Origin check (4.0+), the
 * strict Referer check on HTTPS, then the token against the secret. Returns null when the request
 * passes, else Django's reason.
 */
import type { ResolvedCsrfOptions } from './csrf-options.js';
import type { CsrfRequestState } from './csrf-state.js';
import { CSRF_REASONS, csrfTokenFormatError, csrfTokenMatches, geturl, isSameDomain, sanitizedSecret32, urlsplit } from './csrf-tokens.js';
import { constantTimeEqual } from '../codec/signing.js';

/** The methods RFC 9110 calls safe: never checked. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

type AnyRequest = Record<PropertyKey, any>;

function header(request: AnyRequest, name: string): string | undefined {
  const value: unknown = request.headers?.[name];
  if (Array.isArray(value)) return value.join(', ');
  return typeof value === 'string' ? value : undefined;
}

/** `request.is_secure()`: Express's `req.secure` and Fastify's `request.protocol` (both honour `trust proxy`). */
export function isSecure(request: AnyRequest): boolean {
  if (typeof request.secure === 'boolean') return request.secure;
  if (typeof request.protocol === 'string') return request.protocol === 'https';
  return Boolean((request.raw ?? request).socket?.encrypted);
}

/** `request.get_host()`: the Host header (null where there is none, Django's `DisallowedHost`). */
function hostOf(request: AnyRequest): string | null {
  const host = header(request, 'host');
  return host === undefined || host === '' || /[\s/@]/.test(host) ? null : host;
}

/** `request.get_port()`: the port the server listens on. */
function portOf(request: AnyRequest): string {
  const port: unknown = (request.raw ?? request).socket?.localPort;
  return typeof port === 'number' ? String(port) : '';
}

/** `request.POST.get('csrfmiddlewaretoken', '')`: from a form body only (JSON is not `request.POST`). */
function formToken(request: AnyRequest): string {
  const type = header(request, 'content-type')?.toLowerCase() ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data')) return '';
  const body: unknown = request.body;
  if (body === null || typeof body !== 'object') return '';
  let value: unknown = (body as Record<string, unknown>).csrfmiddlewaretoken;
  // QueryDict.get: the last of several values.
  if (Array.isArray(value)) value = value[value.length - 1];
  return typeof value === 'string' ? value : '';
}

function originVerified(request: AnyRequest, origin: string, options: ResolvedCsrfOptions): boolean {
  const host = hostOf(request);
  if (host !== null && origin === `${isSecure(request) ? 'https' : 'http'}://${host}`) return true;
  if (options.allowedOriginsExact.has(origin)) return true;
  const parsed = urlsplit(origin);
  if (parsed === null) return false;
  return (options.allowedOriginSubdomains.get(parsed.scheme) ?? []).some((domain) => isSameDomain(parsed.netloc, domain));
}

/** The good Referer host when a cookie domain is set (`host:port` off the default ports), else the request's host. */
function goodReferer(request: AnyRequest, options: ResolvedCsrfOptions): string | null {
  const domain = options.useSessions ? options.sessionCookieDomain : options.cookieDomain;
  if (domain === null) return hostOf(request);
  const port = portOf(request);
  return port === '443' || port === '80' || port === '' ? domain : `${domain}:${port}`;
}

/** `_check_referer` (4.0+), or 3.2's inline check: null or the reason. */
function refererFailure(request: AnyRequest, options: ResolvedCsrfOptions): string | null {
  const raw = header(request, 'referer');
  if (raw === undefined) return CSRF_REASONS.noReferer;
  const referer = urlsplit(raw);
  if (referer === null || referer.scheme === '' || referer.netloc === '') return CSRF_REASONS.malformedReferer;
  if (referer.scheme !== 'https') return CSRF_REASONS.insecureReferer;
  if (options.trustedOriginHosts.some((host) => isSameDomain(referer.netloc, host))) return null;
  const good = goodReferer(request, options);
  if (good === null || !isSameDomain(referer.netloc, good)) return CSRF_REASONS.badReferer(geturl(referer));
  return null;
}

/** Django's checks of an unsafe request; null when it passes. */
export function csrfFailure(request: AnyRequest, state: CsrfRequestState): string | null {
  const { options } = state;
  if (options.legacy) return legacyFailure(request, state);
  const origin = header(request, 'origin');
  if (origin !== undefined) {
    if (!originVerified(request, origin, options)) return CSRF_REASONS.badOrigin(origin);
  } else if (isSecure(request)) {
    const failure = refererFailure(request, options);
    if (failure !== null) return failure;
  }
  if (state.cookieError !== null) return state.cookieError;
  if (state.secret === null) return CSRF_REASONS.noCsrfCookie;
  let token = request.method === 'POST' ? formToken(request) : '';
  let source = 'POST';
  if (token === '') {
    const fromHeader = header(request, options.headerKey);
    if (fromHeader === undefined) return CSRF_REASONS.csrfTokenMissing;
    token = fromHeader;
    source = `the '${options.headerName}' HTTP header`;
  }
  const error = csrfTokenFormatError(token);
  if (error !== null) return `CSRF token from ${source} ${error}.`;
  if (!csrfTokenMatches(token, state.secret)) return `CSRF token from ${source} incorrect.`;
  return null;
}

/** Django 3.2: the Referer on HTTPS, then the sanitized token; no Origin check. */
function legacyFailure(request: AnyRequest, state: CsrfRequestState): string | null {
  const { options } = state;
  if (isSecure(request)) {
    const failure = refererFailure(request, options);
    if (failure !== null) return failure;
  }
  if (state.secret === null) return CSRF_REASONS.noCsrfCookie;
  let token = request.method === 'POST' ? formToken(request) : '';
  if (token === '') token = header(request, options.headerKey) ?? '';
  const { secret } = sanitizedSecret32(token);
  return constantTimeEqual(secret, state.secret) ? null : CSRF_REASONS.badToken32;
}
