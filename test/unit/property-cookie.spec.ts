/*
 * Property-based tests of readSessionCookie (src/session.http.ts): it never throws, answers a
 * string or undefined, and picks what Django's parse_cookie picks. The model below is Django
 * 3.2's django/http/cookie.py parse_cookie, on headers made of characters both sides treat alike:
 * no \x1c-\x1f, \x85 or \ufeff (Python's str.strip() and JS's trim() disagree on them;
 * test/interop/property-corpus.spec.ts compares with the real function) and no backslashes inside
 * quotes (http.cookies._unquote decodes \" and \ooo escapes; readSessionCookie only removes the
 * quotes, as its doc says).
 */
import fc from 'fast-check';
import { readSessionCookie } from '../../src/session.http.js';
import { anyString, runs } from './property-support.js';

// What Python's str.strip() removes (str.isspace()).
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_WHITESPACE_EDGES = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');

/** Django's parse_cookie(header).get(name), for headers without backslashes. */
function djangoParseCookie(header: string, name: string): string | undefined {
  const cookies = new Map<string, string>();
  const strip = (s: string): string => s.replace(PY_WHITESPACE_EDGES, '');
  for (const chunk of header.split(';')) {
    const eq = chunk.indexOf('=');
    const key = strip(eq >= 0 ? chunk.slice(0, eq) : '');
    const val = strip(eq >= 0 ? chunk.slice(eq + 1) : chunk);
    if (key !== '' || val !== '') cookies.set(key, val.length >= 2 && val.startsWith('"') && val.endsWith('"') ? val.slice(1, -1) : val);
  }
  return cookies.get(name);
}

const cookiePiece = fc.constantFrom('sessionid', 'sessionid', 'csrftoken', 'sessionid2', 'xsessionid', 'Sessionid', '=', '=', ';', ';', ' ', '\t', '"', 'a', 'b1', ':', '.', '-', '_', ',', 'é', '\u00a0');
const cookieHeader = fc.oneof(
  fc.string({ unit: cookiePiece, maxLength: 40 }),
  // Well-formed pairs: `name=value; name=value`, with optional spaces and quotes.
  fc
    .array(
      fc.record({
        name: fc.constantFrom('sessionid', 'csrftoken', 'other', 'sessionid '),
        value: fc.string({ unit: fc.constantFrom('a', 'Z', '0', ':', '.', '-', '_', '=', '"', ' '), maxLength: 12 }),
        quoted: fc.boolean(),
        space: fc.constantFrom('', ' ', '  ', '\t'),
      }),
      { maxLength: 6 },
    )
    .map((pairs) => pairs.map(({ name, value, quoted, space }) => `${space}${name}=${quoted ? `"${value}"` : value}`).join(';')),
);

describe('readSessionCookie', () => {
  it('never throws, whatever the cookie header (or its absence) is, and answers a string or undefined', () => {
    const header = fc.oneof(anyString, cookieHeader, fc.string({ unit: 'binary', maxLength: 300 }), fc.anything(), fc.array(cookieHeader));
    fc.assert(
      fc.property(header, fc.constantFrom('sessionid', 'custom_session', 'a'), (cookie, name) => {
        for (const request of [{ headers: { cookie } }, { headers: cookie as never }, {}]) {
          const value = readSessionCookie(request as never, name);
          expect(value === undefined || typeof value === 'string').toBe(true);
        }
      }),
      runs(1000, 0xc0c),
    );
  });

  it("picks what Django's parse_cookie picks: the last cookie of that name, trimmed, quotes removed", () => {
    let found = 0;
    fc.assert(
      fc.property(cookieHeader, (header) => {
        const expected = djangoParseCookie(header, 'sessionid');
        if (expected !== undefined) found++;
        expect(readSessionCookie({ headers: { cookie: header } }, 'sessionid')).toBe(expected);
      }),
      runs(1000, 0xc0d),
    );
    expect(found).toBeGreaterThan(200);
  });
});
