/**
 * Django's redirect to the login page (`redirect_to_login`, and the `next` of `user_passes_test`),
 * as strings. The expected values are Django's own answers (3.2, 5.2 and 6.x agree): the interop
 * suite test/interop/login-required.spec.ts compares the two servers' redirects over HTTP, and the
 * non-UTF-8 path below, which no Nest route reaches (Express and Fastify refuse the parameter),
 * is what Django answered for `/lr/p/%FF%FEz%E2%82`.
 */
import { djangoFullPath, nextFor, redirectToLogin } from '../../src/auth/login-redirect.js';

describe("redirectToLogin (Django's redirect_to_login)", () => {
  it.each([
    ['/polls/3/?page=2', '/accounts/login/', 'next', '/accounts/login/?next=/polls/3/%3Fpage%3D2'],
    ['/a&b/', '/accounts/login/', 'next', '/accounts/login/?next=/a%26b/'], // QueryDict.urlencode's own docstring example
    ['/x', '/login/?from=app&x=a+b', 'goto', '/login/?from=app&x=a%20b&goto=/x'],
    ['/x', '/login/?next=/old&k=1', 'next', '/login/?next=/x&k=1'], // the field replaced where it stood
    ['/x', '/login/#top', 'next', '/login/?next=/x#top'],
    ['/x', 'https://sso.example.com/login', 'next', 'https://sso.example.com/login?next=/x'],
    ["/é !'()*~", '/login/', 'next', '/login/?next=/%C3%A9%20%21%27%28%29%2A~'],
    ['/x', '/accounts/login/', null, '/accounts/login/'],
    ['/x', '/accounts/login/', '', '/accounts/login/'],
  ])('next %j, login URL %j, field %j', (next, loginUrl, field, expected) => {
    expect(redirectToLogin(next, loginUrl, field)).toBe(expected);
  });
});

describe("the full path (Django's request.get_full_path())", () => {
  it.each([
    ['/lr/p/%FF%FEz%E2%82', '/lr/p/%25FF%25FEz%25E2%2582'], // broken UTF-8: repercent_broken_unicode, then escape_uri_path
    ['/lr/p/caf%C3%A9%20x', '/lr/p/caf%C3%A9%20x'],
    ['/lr/p/%7e%2Fa', '/lr/p/~/a'], // %2F is a slash once decoded, as in PATH_INFO
    ['/lr/page?q=a%20b&c=%C3%A9&g', '/lr/page?q=a%20b&c=%C3%A9&g'],
    ['/p?', '/p'],
  ])('%j', (target, expected) => {
    expect(djangoFullPath(target)).toBe(expected);
  });

  it('next is the path on the same scheme and host, the absolute URL for a login page elsewhere', () => {
    const request = { url: '/a?b=1', protocol: 'http', host: 'app.example.com:8000' };
    expect(nextFor(request, '/accounts/login/')).toBe('/a?b=1');
    expect(nextFor(request, 'http://app.example.com:8000/login/')).toBe('/a?b=1');
    expect(nextFor(request, '//app.example.com:8000/login/')).toBe('/a?b=1');
    expect(nextFor(request, 'https://app.example.com:8000/login/')).toBe('http://app.example.com:8000/a?b=1');
    expect(nextFor(request, 'http://sso.example.com/login/')).toBe('http://app.example.com:8000/a?b=1');
  });
});
