/**
 * Django's redirect to the login page, character for character: `redirect_to_login(next,
 * login_url, redirect_field_name)` (django/contrib/auth/views.py) and the `next` that
 * `user_passes_test` gives it (django/contrib/auth/decorators.py): the request's full path
 * (`request.get_full_path()`) when the login URL is on the same scheme and host, else the absolute
 * URL (`request.build_absolute_uri()`).
 */

/** Python's `urllib.parse.quote(text, safe)`: the UTF-8 bytes, all but letters, digits, `_.-~` and `safe` as `%XX`. */
function quote(text: string, safe: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (byte < 0x80 && (/[A-Za-z0-9_.\-~]/.test(ch) || safe.includes(ch))) out += ch;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `urllib.parse.urlsplit`, as far as Django's redirect uses it. */
interface UrlParts {
  scheme: string;
  /** Undefined when the URL has no `//` authority. */
  netloc: string | undefined;
  path: string;
  query: string;
  fragment: string | undefined;
}

function urlsplit(url: string): UrlParts {
  const m = /^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/s.exec(url)!;
  return { scheme: (m[1] ?? '').toLowerCase(), netloc: m[2], path: m[3] ?? '', query: m[4] ?? '', fragment: m[5] };
}

function urlunsplit({ scheme, netloc, path, query, fragment }: UrlParts): string {
  let url = path;
  if (netloc) url = `//${netloc}${url && !url.startsWith('/') ? '/' : ''}${url}`;
  if (scheme) url = `${scheme}:${url}`;
  if (query) url += `?${query}`;
  if (fragment) url += `#${fragment}`;
  return url;
}

/**
 * `django.contrib.auth.views.redirect_to_login(next, login_url, redirect_field_name)`: the URL a
 * visitor is sent to — `loginUrl` with `next` added to its query (as `QueryDict.urlencode(safe='/')`
 * writes it: `/` kept, everything else but letters, digits and `_.-~` percent-encoded), the login
 * URL's own query kept. A `redirectFieldName` of `null` or `''` adds nothing.
 *
 * @example
 * ```ts
 * redirectToLogin('/polls/3/?page=2', '/accounts/login/');   // '/accounts/login/?next=/polls/3/%3Fpage%3D2'
 * ```
 */
export function redirectToLogin(next: string, loginUrl = '/accounts/login/', redirectFieldName: string | null = 'next'): string {
  const parts = urlsplit(loginUrl);
  if (redirectFieldName) {
    // QueryDict(query, mutable=True); querystring[field] = next; querystring.urlencode(safe='/')
    const query = new URLSearchParams(parts.query);
    query.set(redirectFieldName, next);
    parts.query = [...query].map(([key, value]) => `${quote(key, '/')}=${quote(value, '/')}`).join('&');
  }
  return urlunsplit(parts);
}

/** What `nextFor` needs of a request (Express's and Fastify's have it all). */
export interface RequestLine {
  /** The request target as sent: path and query (`originalUrl` / `url`). */
  url: string;
  /** `http` or `https` (the app's proxy trust applied, as `request.is_secure()` applies `SECURE_PROXY_SSL_HEADER`). */
  protocol: string;
  /** The host and port the request was sent to (`request.get_host()`). */
  host: string | undefined;
}

/**
 * The `next` of `user_passes_test`: the request's full path when `loginUrl` has the request's
 * scheme and host (or none, as a path has), else the request's absolute URL.
 */
export function nextFor(request: RequestLine, loginUrl: string): string {
  const path = djangoFullPath(request.url);
  const login = urlsplit(loginUrl);
  const sameScheme = !login.scheme || login.scheme === request.protocol.toLowerCase();
  const sameHost = !login.netloc || login.netloc === request.host;
  if (sameScheme && sameHost) return path;
  // build_absolute_uri(): iri_to_uri(scheme://host + full path)
  return quote(`${request.protocol.toLowerCase()}://${request.host ?? ''}${path}`, "/#%[]=:;$&()+,!?*@'~");
}

/**
 * `request.get_full_path()` for a request target as sent (`/caf%C3%A9/?q=1`): the path
 * percent-decoded and escaped again as Django does (`escape_uri_path`, after
 * `repercent_broken_unicode`), then `?` and the query through `iri_to_uri`.
 */
export function djangoFullPath(target: string): string {
  const at = target.indexOf('?');
  const rawPath = at < 0 ? target : target.slice(0, at);
  const rawQuery = at < 0 ? '' : target.slice(at + 1);
  const path = escapeUriPath(repercentBrokenUnicode(percentDecode(rawPath)));
  return rawQuery === '' ? path : `${path}?${latin1Quote(rawQuery, "/#%[]=:;$&()+,!?*@'~")}`;
}

/** The bytes a WSGI server gives as PATH_INFO: `%XX` decoded, everything else as sent (as latin-1). */
function percentDecode(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(text.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** `repercent_broken_unicode(bytes).decode()`: each invalid UTF-8 sequence (Python's error span) written as `%XX`. */
function repercentBrokenUnicode(bytes: Buffer): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const length = validSequenceLength(bytes, i);
    if (length > 0) {
      out += bytes.subarray(i, i + length).toString('utf8');
      i += length;
    } else {
      const bad = invalidSpan(bytes, i);
      for (let j = i; j < i + bad; j++) out += `%${bytes[j]!.toString(16).toUpperCase().padStart(2, '0')}`;
      i += bad;
    }
  }
  return out;
}

/** The second byte's range for a lead byte (RFC 3629 / Python's strict decoder), or undefined for an invalid lead. */
function leadOf(lead: number): { length: number; low: number; high: number } | undefined {
  if (lead < 0x80) return { length: 1, low: 0, high: 0 };
  if (lead >= 0xc2 && lead <= 0xdf) return { length: 2, low: 0x80, high: 0xbf };
  if (lead === 0xe0) return { length: 3, low: 0xa0, high: 0xbf };
  if (lead === 0xed) return { length: 3, low: 0x80, high: 0x9f };
  if (lead >= 0xe1 && lead <= 0xef) return { length: 3, low: 0x80, high: 0xbf };
  if (lead === 0xf0) return { length: 4, low: 0x90, high: 0xbf };
  if (lead === 0xf4) return { length: 4, low: 0x80, high: 0x8f };
  if (lead >= 0xf1 && lead <= 0xf3) return { length: 4, low: 0x80, high: 0xbf };
  return undefined;
}

/** How many bytes the valid sequence at `i` has; 0 when it is invalid. */
function validSequenceLength(bytes: Buffer, i: number): number {
  return invalidSpan(bytes, i) === 0 ? leadOf(bytes[i]!)!.length : 0;
}

/** The length of the maximal invalid subpart at `i` (what Python reports as `e.end - e.start`); 0 when valid. */
function invalidSpan(bytes: Buffer, i: number): number {
  const lead = leadOf(bytes[i]!);
  if (lead === undefined) return 1;
  for (let k = 1; k < lead.length; k++) {
    const b = bytes[i + k];
    const [low, high] = k === 1 ? [lead.low, lead.high] : [0x80, 0xbf];
    if (b === undefined || b < low || b > high) return k;
  }
  return 0;
}

/** `escape_uri_path(path)`. */
function escapeUriPath(path: string): string {
  return quote(path, "/:@&+$,-_.!~*'()");
}

/** `quote()` of a WSGI string (each character one latin-1 byte, as QUERY_STRING comes). */
function latin1Quote(text: string, safe: string): string {
  return quote(Buffer.from(text, 'latin1').toString('latin1'), safe);
}
