/**
 * `nestjs-django-session/csrf` over real HTTP, on Express and on Fastify: Django's
 * CsrfViewMiddleware rules and reason strings, the cookie (4.1+ secret, 3.2 masked token), the
 * session-kept secret (useSessions), rotation by `rotateCsrfToken()` and by our `login()`, and
 * `@CsrfExempt()`. Behind a trusting proxy (`X-Forwarded-Proto: https`) for the HTTPS Referer rules.
 */
import 'reflect-metadata';
import { Body, Controller, Delete, Get, HttpCode, Module, Patch, Post, Put, Req, type DynamicModule, type INestApplication, type ModuleMetadata } from '@nestjs/common';
import { Mutation, Query, Resolver } from '@nestjs/graphql';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CreateDjangoSession1700000000000, Session, SessionEntity, SessionModule, type SessionStore } from '../../src/index.js';
import { login } from '../../src/exports/auth.js';
import { SessionRoutes } from '../../src/session.routes.js';
import { CsrfExempt, CsrfModule, CsrfToken, getCsrfToken, rotateCsrfToken, type CsrfModuleOptions } from '../../src/exports/csrf.js';
import { maskCsrfSecret, newCsrfSecret, unmaskCsrfToken } from '../../src/csrf/csrf-tokens.js';
import { parseSetCookie, PLATFORMS, removeSqliteFile, SqlCounter, tempSqliteFile, TEST_SECRET, type Platform, type SetCookie } from '../support/app.js';
import { graphqlModule } from '../support/graphql.js';

const USER = { id: 7, password: 'pbkdf2_sha256$1000$salt$hash=' };

@Controller('csrf')
class CsrfTestController {
  @Get('token')
  token(@CsrfToken() token: string) {
    return { token };
  }

  @Get('two-tokens')
  twoTokens(@Req() req: object) {
    return { tokens: [getCsrfToken(req), getCsrfToken(req)] };
  }

  /** getCsrfToken() where the handler's own session is read (useSessions: from it, lazily). */
  @Get('session-token')
  sessionToken(@Session() session: SessionStore, @Req() req: object) {
    return { token: getCsrfToken(req), keys: session.keys() };
  }

  @Get('plain')
  plain() {
    return { ok: true };
  }

  @Post('submit')
  @HttpCode(200)
  submit(@Body() body: unknown) {
    return { ok: true, body };
  }

  @Put('submit')
  put() {
    return { ok: true };
  }

  @Patch('submit')
  patch() {
    return { ok: true };
  }

  @Delete('submit')
  remove() {
    return { ok: true };
  }

  @Post('exempt')
  @HttpCode(200)
  @CsrfExempt()
  exempt(@Req() req: object) {
    return { ok: true, token: getCsrfToken(req) };
  }

  @Post('rotate')
  @HttpCode(200)
  rotate(@Req() req: object) {
    rotateCsrfToken(req);
    return { ok: true };
  }

  @Post('login')
  @HttpCode(200)
  async logIn(@Session() session: SessionStore) {
    await login(session, USER);
    return { ok: true };
  }

  @Post('login-then-token')
  @HttpCode(200)
  async logInThenToken(@Session() session: SessionStore, @Req() req: object) {
    await login(session, USER);
    return { token: getCsrfToken(req) };
  }

  @Get('session')
  readSession(@Session() session: SessionStore) {
    return { csrf: session.get('_csrftoken', null) ?? null, user: session.get('_auth_user_id', null) ?? null };
  }
}

@Controller('exempt-all')
@CsrfExempt()
class ExemptController {
  @Post()
  @HttpCode(200)
  post() {
    return { ok: true };
  }
}

interface CsrfApp {
  /** The SQL statements the app ran (reset it before the requests you count). */
  sql: SqlCounter;
  url: string;
  origin: string;
  host: string;
  /** Whether SessionInterceptor runs on every route (`SessionRoutes.interceptsEveryRoute`). */
  interceptsEveryRoute: boolean;
  close(): Promise<void>;
}

async function startCsrfApp(platform: Platform, csrf: CsrfModuleOptions | DynamicModule, session: Record<string, unknown> = {}, imports: NonNullable<ModuleMetadata['imports']> = []): Promise<CsrfApp> {
  const file = tempSqliteFile('csrf');
  const sql = new SqlCounter();
  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'sqlite', database: file, entities: [SessionEntity], migrations: [CreateDjangoSession1700000000000], migrationsRun: true, logger: sql }),
      SessionModule.forRoot({ secretKey: TEST_SECRET, ...session }),
      'module' in csrf ? csrf : CsrfModule.forRoot(csrf),
      ...imports,
    ],
    controllers: [CsrfTestController, ExemptController],
  })
  class CsrfAppModule {}
  let app: INestApplication;
  if (platform === 'fastify') {
    app = await NestFactory.create(CsrfAppModule, new FastifyAdapter({ trustProxy: true }), { logger: false });
  } else {
    app = await NestFactory.create(CsrfAppModule, { logger: false });
    app.getHttpAdapter().getInstance().set('trust proxy', true);
  }
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    sql,
    url,
    origin: url,
    host: url.replace('http://', ''),
    interceptsEveryRoute: app.get(SessionRoutes).interceptsEveryRoute,
    async close() {
      await app.close();
      await removeSqliteFile(file);
    },
  };
}

interface Answer {
  status: number;
  body: any;
  cookies: SetCookie[];
  vary: string | null;
}

/** A browser: a cookie jar, JSON or form bodies, any extra header. */
class Browser {
  readonly jar = new Map<string, string>();
  constructor(private readonly url: string) {}

  get csrfCookie(): string | undefined {
    return this.jar.get('csrftoken');
  }

  async send(method: string, path: string, options: { form?: Record<string, string>; json?: unknown; headers?: Record<string, string>; cookie?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    const cookie = options.cookie ?? [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (cookie !== '') headers.cookie = cookie;
    let body: string | undefined;
    if (options.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    } else if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    const res = await fetch(this.url + path, { method, headers, body });
    const text = await res.text();
    const cookies = res.headers.getSetCookie().map(parseSetCookie);
    for (const c of cookies) {
      if (c.value === '' || c.attributes['max-age'] === '0') this.jar.delete(c.name);
      else this.jar.set(c.name, c.value);
    }
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed, cookies, vary: res.headers.get('vary') };
  }

  /** A token for this browser (GET /csrf/token), which also sets its cookie. */
  async token(): Promise<string> {
    const answer = await this.send('GET', '/csrf/token');
    expect(answer.status).toBe(200);
    return answer.body.token as string;
  }
}

function csrfCookieOf(answer: Answer): SetCookie | undefined {
  const found = answer.cookies.filter((c) => c.name === 'csrftoken');
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0];
}

function expectRefused(answer: Answer, reason: string): void {
  expect(answer.status).toBe(403);
  expect(answer.body).toMatchObject({ statusCode: 403, message: reason });
}

describe.each(PLATFORMS)('CSRF (Django 4.1+ rules and cookie) on %s', (platform) => {
  let app: CsrfApp;
  beforeAll(async () => {
    app = await startCsrfApp(platform, { trustedOrigins: ['http://*.trusted.test', 'https://partner.example'] });
  });
  afterAll(() => app?.close());

  it('costs the routes without @Session() no session: no SQL, no Set-Cookie of the session, SessionInterceptor not made global (cookie mode)', async () => {
    expect(app.interceptsEveryRoute).toBe(false);
    const browser = new Browser(app.url);
    const token = await browser.token();
    browser.jar.set('sessionid', 'a'.repeat(32)); // a session cookie the plain routes must not look up
    app.sql.statements.length = 0;
    const answers = [await browser.send('GET', '/csrf/plain'), await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: token } })];
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers.flatMap((a) => a.cookies.map((c) => c.name))).not.toContain('sessionid');
    expect(app.sql.statements).toEqual([]);
  });

  it('get_token: a masked 64-character token, a new one each call, all of one secret, which the cookie carries (Django 4.1+ form)', async () => {
    const browser = new Browser(app.url);
    const first = await browser.send('GET', '/csrf/two-tokens');
    const [a, b] = first.body.tokens as [string, string];
    expect(a).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(a).not.toBe(b);
    const cookie = csrfCookieOf(first)!;
    expect(cookie.value).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(unmaskCsrfToken(a)).toBe(cookie.value);
    expect(unmaskCsrfToken(b)).toBe(cookie.value);
    expect(cookie.attributes).toMatchObject({ 'max-age': '31449600', path: '/', samesite: 'Lax' });
    expect(cookie.attributes.expires).toBeDefined();
    expect(cookie.attributes.httponly).toBeUndefined();
    expect(first.vary?.split(',').map((v) => v.trim().toLowerCase())).toContain('cookie');
    // Used again: the same secret is sent again (its expiry renewed).
    const again = await browser.send('GET', '/csrf/token');
    expect(csrfCookieOf(again)!.value).toBe(cookie.value);
    expect(unmaskCsrfToken(again.body.token)).toBe(cookie.value);
  });

  it('a response that did not use the token sets no cookie and no Vary', async () => {
    const answer = await new Browser(app.url).send('GET', '/csrf/plain');
    expect(answer.status).toBe(200);
    expect(csrfCookieOf(answer)).toBeUndefined();
    expect(answer.vary).toBeNull();
  });

  it('safe methods are not checked; POST, PUT, PATCH and DELETE are', async () => {
    const browser = new Browser(app.url);
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect((await browser.send(method, '/csrf/plain')).status).not.toBe(403);
    }
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expectRefused(await browser.send(method, '/csrf/submit'), 'CSRF cookie not set.');
    }
  });

  it("refuses with Django's reasons: no cookie, no token, a wrong, short or ill-made token (form field and header)", async () => {
    const browser = new Browser(app.url);
    expectRefused(await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: maskCsrfSecret(newCsrfSecret()) } }), 'CSRF cookie not set.');
    await browser.token();
    expectRefused(await browser.send('POST', '/csrf/submit', { form: { a: '1' } }), 'CSRF token missing.');
    expectRefused(await browser.send('POST', '/csrf/submit', { json: { csrfmiddlewaretoken: await browser.token() } }), 'CSRF token missing.');
    const other = maskCsrfSecret(newCsrfSecret());
    expectRefused(await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: other } }), 'CSRF token from POST incorrect.');
    expectRefused(await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: 'abc' } }), 'CSRF token from POST has incorrect length.');
    expectRefused(await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: '!'.repeat(64) } }), 'CSRF token from POST has invalid characters.');
    expectRefused(await browser.send('POST', '/csrf/submit', { headers: { 'X-CSRFToken': other } }), "CSRF token from the 'X-Csrftoken' HTTP header incorrect.");
    expectRefused(await browser.send('DELETE', '/csrf/submit', { headers: { 'X-CSRFToken': '' } }), "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.");
  });

  it('accepts the token in the form field, in the X-CSRFToken header, and the bare secret (from the cookie) in the header', async () => {
    const browser = new Browser(app.url);
    const token = await browser.token();
    const form = await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: token, name: 'ü' } });
    expect(form.status).toBe(200);
    expect(form.body.body).toMatchObject({ name: 'ü' });
    expect((await browser.send('PUT', '/csrf/submit', { headers: { 'X-CSRFToken': await browser.token() } })).status).toBe(200);
    expect((await browser.send('DELETE', '/csrf/submit', { headers: { 'X-CSRFToken': browser.csrfCookie! } })).status).toBe(200);
    // A wrong field is not rescued by a right header, nor an empty field refused when the header is right.
    expectRefused(
      await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: maskCsrfSecret(newCsrfSecret()) }, headers: { 'X-CSRFToken': token } }),
      'CSRF token from POST incorrect.',
    );
    expect((await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: '' }, headers: { 'X-CSRFToken': token } })).status).toBe(200);
  });

  it('reads the masked cookie older Django wrote (and sends the secret when it next sends the cookie)', async () => {
    const secret = newCsrfSecret();
    const browser = new Browser(app.url);
    browser.jar.set('csrftoken', maskCsrfSecret(secret));
    expect((await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: maskCsrfSecret(secret) } })).status).toBe(200);
    const answer = await browser.send('GET', '/csrf/token');
    expect(csrfCookieOf(answer)!.value).toBe(secret);
  });

  it('a malformed cookie: refused with its reason, and a new cookie sent with the refusal', async () => {
    const browser = new Browser(app.url);
    browser.jar.set('csrftoken', 'short');
    const answer = await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: maskCsrfSecret(newCsrfSecret()) } });
    expectRefused(answer, 'CSRF cookie has incorrect length.');
    expect(csrfCookieOf(answer)!.value).toMatch(/^[A-Za-z0-9]{32}$/);
    browser.jar.set('csrftoken', '#'.repeat(32));
    expectRefused(await browser.send('POST', '/csrf/submit', { headers: { 'X-CSRFToken': 'x' } }), 'CSRF cookie has invalid characters.');
  });

  it('Origin: its own origin and the trusted ones (exact, wildcard subdomains) pass; any other is refused whatever the token', async () => {
    const browser = new Browser(app.url);
    const post = async (origin: string) => browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: await browser.token() }, headers: { origin } });
    expect((await post(app.origin)).status).toBe(200);
    expect((await post('http://trusted.test')).status).toBe(200);
    expect((await post('http://app.trusted.test')).status).toBe(200);
    expect((await post('https://partner.example')).status).toBe(200);
    expectRefused(await post('https://evil.example'), 'Origin checking failed - https://evil.example does not match any trusted origins.');
    expectRefused(await post('https://app.trusted.test'), 'Origin checking failed - https://app.trusted.test does not match any trusted origins.');
    expectRefused(await post('http://eviltrusted.test'), 'Origin checking failed - http://eviltrusted.test does not match any trusted origins.');
    expectRefused(await post('null'), 'Origin checking failed - null does not match any trusted origins.');
    // Its own host over HTTPS is another origin.
    expectRefused(await post(`https://${app.host}`), `Origin checking failed - https://${app.host} does not match any trusted origins.`);
  });

  it('HTTPS (behind a proxy) without an Origin: the strict Referer check, with its reasons', async () => {
    const browser = new Browser(app.url);
    const post = async (headers: Record<string, string>) =>
      browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: await browser.token() }, headers: { 'x-forwarded-proto': 'https', ...headers } });
    expectRefused(await post({}), 'Referer checking failed - no Referer.');
    expectRefused(await post({ referer: 'not a url' }), 'Referer checking failed - Referer is malformed.');
    expectRefused(await post({ referer: `http://${app.host}/form` }), 'Referer checking failed - Referer is insecure while host is secure.');
    expectRefused(await post({ referer: 'https://evil.example/page?x=1' }), 'Referer checking failed - https://evil.example/page?x=1 does not match any trusted origins.');
    expect((await post({ referer: `https://${app.host}/form` })).status).toBe(200);
    expect((await post({ referer: 'https://www.trusted.test/' })).status).toBe(200);
    // Plain HTTP: no Referer needed.
    expect((await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: await browser.token() } })).status).toBe(200);
  });

  it('@CsrfExempt() on a handler or a controller: not checked, get_token still works', async () => {
    const browser = new Browser(app.url);
    const answer = await browser.send('POST', '/csrf/exempt', { headers: { origin: 'https://evil.example' } });
    expect(answer.status).toBe(200);
    expect(unmaskCsrfToken(answer.body.token)).toBe(csrfCookieOf(answer)!.value);
    expect((await browser.send('POST', '/exempt-all')).status).toBe(200);
  });

  it('rotateCsrfToken(): a new secret in the cookie; tokens of the old one are refused', async () => {
    const browser = new Browser(app.url);
    const old = await browser.token();
    const oldSecret = browser.csrfCookie;
    const rotated = await browser.send('POST', '/csrf/rotate', { headers: { 'X-CSRFToken': old } });
    expect(rotated.status).toBe(200);
    expect(csrfCookieOf(rotated)!.value).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(browser.csrfCookie).not.toBe(oldSecret);
    expectRefused(await browser.send('POST', '/csrf/submit', { headers: { 'X-CSRFToken': old } }), "CSRF token from the 'X-Csrftoken' HTTP header incorrect.");
    expect((await browser.send('POST', '/csrf/submit', { headers: { 'X-CSRFToken': await browser.token() } })).status).toBe(200);
  });

  it("our login() rotates the token, as Django's does (and a token taken after it in the same handler is of the new secret)", async () => {
    const browser = new Browser(app.url);
    const old = await browser.token();
    const oldSecret = browser.csrfCookie;
    const loggedIn = await browser.send('POST', '/csrf/login', { headers: { 'X-CSRFToken': old } });
    expect(loggedIn.status).toBe(200);
    expect(csrfCookieOf(loggedIn)!.value).not.toBe(oldSecret);
    expect((await browser.send('GET', '/csrf/session')).body.user).toBe('7');
    expectRefused(await browser.send('POST', '/csrf/submit', { headers: { 'X-CSRFToken': old } }), "CSRF token from the 'X-Csrftoken' HTTP header incorrect.");

    const second = new Browser(app.url);
    const before = await second.token();
    const answer = await second.send('POST', '/csrf/login-then-token', { headers: { 'X-CSRFToken': before } });
    expect(csrfCookieOf(answer)!.value).toBe(unmaskCsrfToken(answer.body.token));
    expect(unmaskCsrfToken(answer.body.token)).not.toBe(unmaskCsrfToken(before));
  });
});

describe.each(PLATFORMS)('CSRF with useSessions (CSRF_USE_SESSIONS) on %s', (platform) => {
  let app: CsrfApp;
  beforeAll(async () => {
    app = await startCsrfApp(platform, { useSessions: true });
  });
  afterAll(() => app?.close());

  it('the secret lives in the session as _csrftoken, no csrftoken cookie; the token is accepted, the session is needed', async () => {
    const browser = new Browser(app.url);
    const issued = await browser.send('GET', '/csrf/token');
    expect(csrfCookieOf(issued)).toBeUndefined();
    expect(browser.jar.get('sessionid')).toMatch(/^[a-z0-9]{32}$/);
    const stored = (await browser.send('GET', '/csrf/session')).body.csrf as string;
    expect(stored).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(unmaskCsrfToken(issued.body.token)).toBe(stored);
    expect((await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: issued.body.token } })).status).toBe(200);

    const stranger = new Browser(app.url);
    stranger.jar.set('csrftoken', stored); // a cookie is no use here
    expectRefused(await stranger.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: issued.body.token } }), 'CSRF cookie not set.');
  });

  it('SessionInterceptor runs on every route (the guard may open the session for the secret)', () => {
    expect(app.interceptsEveryRoute).toBe(true);
  });

  it('the session is read only where the secret is needed: not for a safe request to a handler without @CsrfToken()', async () => {
    const browser = new Browser(app.url);
    const token = await browser.token();
    expect(browser.jar.get('sessionid')).toBeDefined();
    app.sql.statements.length = 0;
    expect((await browser.send('GET', '/csrf/plain')).status).toBe(200);
    expect((await browser.send('POST', '/exempt-all')).status).toBe(200);
    expect(app.sql.statements).toEqual([]);
    // Where the handler reads its session itself, getCsrfToken() takes the secret from it.
    const viaSession = await browser.send('GET', '/csrf/session-token');
    expect(unmaskCsrfToken(viaSession.body.token)).toBe(unmaskCsrfToken(token));
    expect(app.sql.statements.length).toBeGreaterThan(0);
    // Where nothing read it, getCsrfToken() says what to do (a 500: a programming error).
    const unread = await browser.send('GET', '/csrf/two-tokens');
    expect(unread.status).toBe(500);
  });

  it("login() puts a new secret in the session at once, and the old token is refused", async () => {
    const browser = new Browser(app.url);
    const old = await browser.token();
    const oldSecret = (await browser.send('GET', '/csrf/session')).body.csrf;
    expect((await browser.send('POST', '/csrf/login', { headers: { 'X-CSRFToken': old } })).status).toBe(200);
    const after = (await browser.send('GET', '/csrf/session')).body;
    expect(after.user).toBe('7');
    expect(after.csrf).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(after.csrf).not.toBe(oldSecret);
    expectRefused(await browser.send('POST', '/csrf/submit', { headers: { 'X-CSRFToken': old } }), "CSRF token from the 'X-Csrftoken' HTTP header incorrect.");
    expect((await browser.send('POST', '/csrf/submit', { headers: { 'X-CSRFToken': await browser.token() } })).status).toBe(200);
  });
});

describe.each(PLATFORMS)("CSRF as Django 3.2 does it (djangoVersion '3.2') on %s", (platform) => {
  let app: CsrfApp;
  beforeAll(async () => {
    app = await startCsrfApp(platform, {}, { djangoVersion: '3.2' });
  });
  afterAll(() => app?.close());

  it("writes a masked 64-character cookie, keeps it as it is, and reads a 4.1+ secret cookie", async () => {
    const browser = new Browser(app.url);
    const first = await browser.send('GET', '/csrf/token');
    const cookie = csrfCookieOf(first)!.value;
    expect(cookie).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(unmaskCsrfToken(first.body.token)).toBe(unmaskCsrfToken(cookie));
    expect(csrfCookieOf(await browser.send('GET', '/csrf/token'))!.value).toBe(cookie);
    const secret = newCsrfSecret();
    browser.jar.set('csrftoken', secret);
    expect((await browser.send('POST', '/csrf/submit', { headers: { 'X-CSRFToken': maskCsrfSecret(secret) } })).status).toBe(200);
  });

  it("3.2's reasons: one for a missing or wrong token, and no Origin check", async () => {
    const browser = new Browser(app.url);
    expectRefused(await browser.send('POST', '/csrf/submit'), 'CSRF cookie not set.');
    await browser.token();
    expectRefused(await browser.send('POST', '/csrf/submit'), 'CSRF token missing or incorrect.');
    expectRefused(await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: 'x' } }), 'CSRF token missing or incorrect.');
    const token = await browser.token();
    expect((await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: token }, headers: { origin: 'https://evil.example' } })).status).toBe(200);
    expectRefused(
      await browser.send('POST', '/csrf/submit', { form: { csrfmiddlewaretoken: token }, headers: { 'x-forwarded-proto': 'https' } }),
      'Referer checking failed - no Referer.',
    );
  });
});

const typeDefs = /* GraphQL */ `
  type Query {
    hello: String
    token: String
  }
  type Mutation {
    act: Boolean
  }
`;

@Resolver()
class CsrfResolver {
  @Query('hello')
  hello(): string {
    return 'hi';
  }

  @Query('token')
  token(@CsrfToken() token: string): string {
    return token;
  }

  @Mutation('act')
  act(): boolean {
    return true;
  }
}

@Module({ providers: [CsrfResolver] })
class CsrfResolverModule {}


describe.each(PLATFORMS)('CSRF on GraphQL over HTTP (%s: Apollo on Express, Mercurius on Fastify)', (platform) => {
  let app: CsrfApp;
  let unchecked: CsrfApp;
  beforeAll(async () => {
    app = await startCsrfApp(platform, {}, {}, [graphqlModule(platform, typeDefs), CsrfResolverModule]);
    unchecked = await startCsrfApp(platform, { graphql: false }, {}, [graphqlModule(platform, typeDefs), CsrfResolverModule]);
  });
  afterAll(async () => {
    await app?.close();
    await unchecked?.close();
  });

  const errorsOf = (answer: Answer): string[] => ((answer.body?.errors ?? []) as Array<{ message: string }>).map((e) => e.message);

  it('a POSTed operation needs the token in the X-CSRFToken header, as a Django view would; a GET query does not', async () => {
    const browser = new Browser(app.url);
    const refused = await browser.send('POST', '/graphql', { json: { query: 'mutation { act }' } });
    expect(errorsOf(refused)).toEqual(['CSRF cookie not set.']);
    expect(refused.body.data?.act ?? null).toBeNull();
    // A token from a resolver (@CsrfToken()), its cookie sent with the operation's response.
    const viaGraphql = await browser.send('GET', `/graphql?query=${encodeURIComponent('{ token }')}`, { headers: { 'apollo-require-preflight': 'true' } });
    const token = viaGraphql.body.data.token as string;
    expect(unmaskCsrfToken(token)).toBe(csrfCookieOf(viaGraphql)!.value);
    expect(errorsOf(await browser.send('POST', '/graphql', { json: { query: '{ hello }' } }))).toEqual(['CSRF token missing.']);
    expect(errorsOf(await browser.send('POST', '/graphql', { json: { query: 'mutation { act }' }, headers: { origin: 'https://evil.example', 'X-CSRFToken': token } }))).toEqual([
      'Origin checking failed - https://evil.example does not match any trusted origins.',
    ]);
    const accepted = await browser.send('POST', '/graphql', { json: { query: 'mutation { act }' }, headers: { 'X-CSRFToken': token } });
    expect(accepted.body).toEqual({ data: { act: true } });
    const viaGet = await browser.send('GET', `/graphql?query=${encodeURIComponent('{ hello }')}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(viaGet.body).toEqual({ data: { hello: 'hi' } });
  });

  it('graphql: false leaves GraphQL operations unchecked (the HTTP routes still are)', async () => {
    const browser = new Browser(unchecked.url);
    expect((await browser.send('POST', '/graphql', { json: { query: 'mutation { act }' } })).body).toEqual({ data: { act: true } });
    expectRefused(await browser.send('POST', '/csrf/submit'), 'CSRF cookie not set.');
  });
});

describe.each(PLATFORMS)('CSRF settings by forRootAsync on %s', (platform) => {
  let app: CsrfApp;
  beforeAll(async () => {
    const options: CsrfModuleOptions = {
      cookieName: 'xsrf',
      cookieAge: null,
      cookieDomain: '127.0.0.1',
      cookiePath: '/csrf',
      cookieSecure: true,
      cookieHttpOnly: true,
      cookieSameSite: 'Strict',
      headerName: 'HTTP_X_XSRF_TOKEN',
    };
    app = await startCsrfApp(platform, CsrfModule.forRootAsync({ useFactory: async () => options }));
  });
  afterAll(() => app?.close());

  it("the cookie's name and attributes and the header come from the options (Django's names, HTTP_ form of the header)", async () => {
    const browser = new Browser(app.url);
    const issued = await browser.send('GET', '/csrf/token');
    const cookie = issued.cookies.find((c) => c.name === 'xsrf')!;
    expect(cookie.value).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(cookie.attributes).toMatchObject({ domain: '127.0.0.1', path: '/csrf', secure: true, httponly: true, samesite: 'Strict' });
    expect(cookie.attributes['max-age']).toBeUndefined();
    expect(cookie.attributes.expires).toBeUndefined();
    expect(issued.cookies.some((c) => c.name === 'csrftoken')).toBe(false);
    expect((await browser.send('POST', '/csrf/submit', { headers: { 'X-XSRF-Token': issued.body.token } })).status).toBe(200);
    expectRefused(await browser.send('POST', '/csrf/submit', { headers: { 'X-CSRFToken': issued.body.token } }), 'CSRF token missing.');
    expectRefused(await browser.send('POST', '/csrf/submit', { headers: { 'X-XSRF-Token': 'x' } }), "CSRF token from the 'X-Xsrf-Token' HTTP header has incorrect length.");
  });
});

describe('CsrfModule options', () => {
  it('bad options and useSessions without SessionModule fail at start-up with a clear error', async () => {
    for (const [options, message] of [
      [{ trustedOrigins: ['example.com'] }, /trustedOrigins.*scheme/],
      [{ cookieSameSite: 'lax' }, /cookieSameSite/],
      [{ djangoVersion: '2.2' }, /djangoVersion/],
    ] as Array<[CsrfModuleOptions, RegExp]>) {
      @Module({ imports: [CsrfModule.forRoot(options)] })
      class BadModule {}
      await expect(NestFactory.createApplicationContext(BadModule, { logger: false, abortOnError: false })).rejects.toThrow(message);
    }
    @Module({ imports: [CsrfModule.forRoot({ useSessions: true })] })
    class NoSessionModule {}
    const app = await NestFactory.create(NoSessionModule, { logger: false, abortOnError: false }).catch((e: Error) => e);
    const error = app instanceof Error ? app : await app.init().then(() => null, (e: Error) => e);
    expect(error?.message).toMatch(/useSessions.*SessionModule/);
    if (!(app instanceof Error)) await app.close();
  });
});
