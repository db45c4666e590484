/**
 * Django's CSRF protection and `nestjs-django-session/csrf` on one site, both ways, against each
 * Django: a token from a Django-rendered form (`{% csrf_token %}`) is accepted by a Nest POST, a
 * token Nest issued by a Django view (`@csrf_protect`, test/interop/django_site/interop_site/
 * csrf_views.py), a login on either side (Django's `auth.login()`, our `login()`) rotates the
 * secret for both, and a cross-origin POST is refused by both with the same reason — with the
 * secret in the `csrftoken` cookie and in the session (`CSRF_USE_SESSIONS` / `useSessions`).
 *
 * Django runs test/interop/django_site (serve.py) on a SQLite file; the Nest app runs in this
 * process on the same file (the sessions and auth_user are shared), with `djangoVersion` set to the
 * Django under test. Both listen on 127.0.0.1, so one cookie jar serves both, as in a browser.
 */
import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Module, Post, Req, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Session, SessionEntity, SessionModule, type DjangoVersion, type SessionStore } from '../../src/index.js';
import { login } from '../../src/exports/auth.js';
import { CsrfModule, CsrfToken, getCsrfToken } from '../../src/exports/csrf.js';
import { maskCsrfSecret, newCsrfSecret, unmaskCsrfToken } from '../../src/csrf/csrf-tokens.js';
import { removeSqliteFile, tempSqliteFile } from '../support/app.js';
import { parseSetCookie } from './support/browser.js';
import { describeWithEachDjango } from './support/djangos.js';
import { manage, startDjango, type DjangoEnv, type Server } from './support/processes.js';
import { SECRET_KEY } from './support/values.js';

@Controller('csrf')
class NestCsrfController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Get('token')
  token(@CsrfToken() token: string) {
    return { token };
  }

  @Post('submit')
  @HttpCode(200)
  submit(@Body() body: Record<string, unknown>) {
    return { ok: true, name: body?.name ?? null };
  }

  @Post('login')
  @HttpCode(200)
  async logIn(@Session() session: SessionStore, @Body() body: { username: string }, @Req() req: object) {
    const rows = (await this.dataSource.query('SELECT id, password FROM auth_user WHERE username = ?', [body.username])) as Array<{ id: number; password: string }>;
    await login(session, rows[0]!);
    return { ok: true, token: getCsrfToken(req) };
  }

  @Get('session')
  readSession(@Session() session: SessionStore) {
    return { csrf: session.get('_csrftoken', null) ?? null, user: session.get('_auth_user_id', null) ?? null };
  }
}

interface Answer {
  status: number;
  body: any;
  text: string;
}

/** A browser: one cookie jar for both servers (same host), form or JSON bodies, any header. */
class Jar {
  readonly cookies = new Map<string, string>();

  async send(
    url: string,
    method: string,
    path: string,
    options: { form?: Record<string, string>; json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (options.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    } else if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    const res = await fetch(url + path, { method, headers, body });
    const text = await res.text();
    if (res.status >= 500) throw new Error(`${method} ${url}${path} answered ${res.status}: ${text.slice(0, 500)}`);
    for (const raw of res.headers.getSetCookie()) {
      const { name, value, attributes } = parseSetCookie(raw);
      if (value === '' || value === '""' || attributes['max-age'] === '0') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // HTML
    }
    return { status: res.status, body: parsed, text };
  }
}

/** The reason of a refusal: Django's failure view answers `{reason}`, Nest's ForbiddenException `{message}`. */
function reasonOf(answer: Answer): string | null {
  if (answer.status !== 403) return null;
  return (answer.body?.reason ?? answer.body?.message ?? answer.text) as string;
}

describeWithEachDjango(['django'], (django) => `${django} and Nest share CSRF tokens (csrftoken cookie and CSRF_USE_SESSIONS)`, ({ django: python }, version) => {
  const djangoVersion = version.release as DjangoVersion;
  const legacy = version.since < 400;
  // Django 3.2 writes (and keeps) a masked token; 4.1+ the secret.
  const storedFormat = legacy ? /^[A-Za-z0-9]{64}$/ : /^[A-Za-z0-9]{32}$/;

  describe.each([
    ['in the csrftoken cookie', false],
    ['in the session (useSessions)', true],
  ] as const)('the secret %s', (_title, useSessions) => {
    const file = tempSqliteFile('interop-csrf');
    let django: Server;
    let nestApp: INestApplication;
    let nest: string;
    let users = 0;

    beforeAll(async () => {
      const env: DjangoEnv = {
        python,
        dbUrl: `sqlite://${file}`,
        secretKey: SECRET_KEY,
        extra: {
          INTEROP_CSRF_USE_SESSIONS: useSessions ? '1' : '0',
          // 3.2 lists hosts; 4.0+ origins with a scheme (and `*.` for subdomains).
          INTEROP_CSRF_TRUSTED_ORIGINS: legacy ? '.trusted.test' : 'http://*.trusted.test',
          INTEROP_SECURE_PROXY: '1',
        },
      };
      await manage(env, ['migrate', '--noinput', '-v', '0']);
      django = await startDjango(env);

      @Module({
        imports: [
          TypeOrmModule.forRoot({ type: 'sqlite', database: file, entities: [SessionEntity], busyTimeout: 5_000 }),
          SessionModule.forRoot({ secretKey: SECRET_KEY, djangoVersion }),
          CsrfModule.forRoot({ useSessions, trustedOrigins: ['http://*.trusted.test'] }),
        ],
        controllers: [NestCsrfController],
      })
      class NestCsrfModule {}
      nestApp = await NestFactory.create(NestCsrfModule, { logger: false });
      nestApp.getHttpAdapter().getInstance().set('trust proxy', true);
      await nestApp.listen(0, '127.0.0.1');
      nest = (await nestApp.getUrl()).replace('[::1]', '127.0.0.1');
    }, 90_000);

    afterAll(async () => {
      await nestApp?.close();
      await django?.stop();
      await removeSqliteFile(file);
    });

    /** What holds the secret for this jar: the cookie, or `_csrftoken` in the shared session (as Django reads it). */
    async function storedSecret(jar: Jar): Promise<string | null> {
      if (!useSessions) return jar.cookies.get('csrftoken') ?? null;
      return ((await jar.send(django.url, 'GET', '/csrf/session')).body.csrf as string | null) ?? null;
    }

    async function newUser(jar: Jar): Promise<string> {
      const username = `user${++users}`;
      expect((await jar.send(django.url, 'POST', '/users', { json: { username } })).status).toBe(200);
      return username;
    }

    /** The same request on both sides: both refuse with `reason`, or both accept (null). */
    async function expectBoth(jar: Jar, options: { form?: Record<string, string>; headers?: Record<string, string> }, reason: string | null): Promise<void> {
      const onDjango = await jar.send(django.url, 'POST', '/csrf/submit', options);
      const onNest = await jar.send(nest, 'POST', '/csrf/submit', options);
      expect({ django: reasonOf(onDjango), nest: reasonOf(onNest) }).toEqual({ django: reason, nest: reason });
      if (reason === null) expect([onDjango.status, onNest.status]).toEqual([200, 200]);
    }

    it('a token from a Django-rendered form ({% csrf_token %}) is accepted by a Nest POST; a wrong one refused by both alike', async () => {
      const jar = new Jar();
      const page = await jar.send(django.url, 'GET', '/csrf/form');
      const token = /name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"/.exec(page.text)?.[1];
      expect(token).toBeDefined();
      const stored = await storedSecret(jar);
      expect(stored).toMatch(storedFormat);
      if (useSessions) expect(jar.cookies.has('csrftoken')).toBe(false);

      const accepted = await jar.send(nest, 'POST', '/csrf/submit', { form: { csrfmiddlewaretoken: token!, name: 'ü form' } });
      expect(accepted.status).toBe(200);
      expect(accepted.body).toEqual({ ok: true, name: 'ü form' });
      await expectBoth(jar, { form: { csrfmiddlewaretoken: token! } }, null);

      const wrong = maskCsrfSecret(newCsrfSecret());
      await expectBoth(jar, { form: { csrfmiddlewaretoken: wrong } }, legacy ? 'CSRF token missing or incorrect.' : 'CSRF token from POST incorrect.');
      await expectBoth(jar, { headers: { 'X-CSRFToken': 'short' } }, legacy ? 'CSRF token missing or incorrect.' : "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.");
      await expectBoth(jar, {}, legacy ? 'CSRF token missing or incorrect.' : 'CSRF token missing.');
      await expectBoth(new Jar(), { form: { csrfmiddlewaretoken: token! } }, 'CSRF cookie not set.');
    });

    it('a token Nest issued is accepted by a Django view, in the form field and in the X-CSRFToken header', async () => {
      const jar = new Jar();
      const { token } = (await jar.send(nest, 'GET', '/csrf/token')).body as { token: string };
      expect(token).toMatch(/^[A-Za-z0-9]{64}$/);
      const stored = await storedSecret(jar);
      expect(stored).toMatch(storedFormat);
      expect(unmaskCsrfToken(token)).toBe(stored!.length === 64 ? unmaskCsrfToken(stored!) : stored);

      const form = await jar.send(django.url, 'POST', '/csrf/submit', { form: { csrfmiddlewaretoken: token, name: 'from Nest' } });
      expect(form.status).toBe(200);
      expect(form.body).toEqual({ ok: true, name: 'from Nest' });
      expect((await jar.send(django.url, 'POST', '/csrf/submit', { headers: { 'X-CSRFToken': token } })).status).toBe(200);
      // And Django's own next token is Nest's secret still (Django kept it).
      const djangos = (await jar.send(django.url, 'GET', '/csrf/token')).body.token as string;
      expect(unmaskCsrfToken(djangos)).toBe(unmaskCsrfToken(token));
    });

    it("Django's login (auth.login → rotate_token) rotates the secret for Nest too: the old token is refused by both, the new one accepted", async () => {
      const jar = new Jar();
      const username = await newUser(jar);
      const old = (await jar.send(nest, 'GET', '/csrf/token')).body.token as string;
      const before = await storedSecret(jar);
      const loggedIn = await jar.send(django.url, 'POST', '/csrf/login', { json: { username }, headers: { 'X-CSRFToken': old } });
      expect(loggedIn.status).toBe(200);
      const after = await storedSecret(jar);
      expect(after).toMatch(storedFormat);
      expect(after).not.toBe(before);
      expect((await jar.send(nest, 'GET', '/csrf/session')).body.user).toEqual(expect.any(String));

      await expectBoth(jar, { headers: { 'X-CSRFToken': old } }, legacy ? 'CSRF token missing or incorrect.' : "CSRF token from the 'X-Csrftoken' HTTP header incorrect.");
      const fresh = (await jar.send(nest, 'GET', '/csrf/token')).body.token as string;
      await expectBoth(jar, { headers: { 'X-CSRFToken': fresh } }, null);
    });

    it("Nest's login() rotates the secret for Django too: the old token is refused by both, the new one accepted", async () => {
      const jar = new Jar();
      const username = await newUser(jar);
      const old = (await jar.send(django.url, 'GET', '/csrf/token')).body.token as string;
      const before = await storedSecret(jar);
      const loggedIn = await jar.send(nest, 'POST', '/csrf/login', { json: { username }, headers: { 'X-CSRFToken': old } });
      expect(loggedIn.status).toBe(200);
      const after = await storedSecret(jar);
      expect(after).toMatch(storedFormat);
      expect(after).not.toBe(before);
      // Django sees the login Nest made.
      expect((await jar.send(django.url, 'GET', '/whoami')).body).toEqual({ user: username });

      await expectBoth(jar, { headers: { 'X-CSRFToken': old } }, legacy ? 'CSRF token missing or incorrect.' : "CSRF token from the 'X-Csrftoken' HTTP header incorrect.");
      await expectBoth(jar, { headers: { 'X-CSRFToken': loggedIn.body.token } }, null);
    });

    it('a cross-origin POST is refused by both with the same reason; a trusted (wildcard) origin is accepted by both', async () => {
      const jar = new Jar();
      const token = (await jar.send(django.url, 'GET', '/csrf/token')).body.token as string;
      // What another site can make the browser send: the cookies, not the token.
      await expectBoth(jar, { form: { name: 'x' }, headers: { origin: 'https://evil.example' } }, legacy ? 'CSRF token missing or incorrect.' : 'Origin checking failed - https://evil.example does not match any trusted origins.');
      // Even with the token, 4.0+ refuse a foreign Origin (3.2 did not check it).
      await expectBoth(jar, { form: { csrfmiddlewaretoken: token }, headers: { origin: 'https://evil.example' } }, legacy ? null : 'Origin checking failed - https://evil.example does not match any trusted origins.');
      await expectBoth(jar, { form: { csrfmiddlewaretoken: token }, headers: { origin: 'http://app.trusted.test' } }, null);
    });

    it('on HTTPS (X-Forwarded-Proto behind a proxy), no Referer or a foreign one is refused by both with the same reason', async () => {
      const jar = new Jar();
      const token = (await jar.send(nest, 'GET', '/csrf/token')).body.token as string;
      const https = { 'x-forwarded-proto': 'https' };
      await expectBoth(jar, { form: { csrfmiddlewaretoken: token }, headers: https }, 'Referer checking failed - no Referer.');
      await expectBoth(jar, { form: { csrfmiddlewaretoken: token }, headers: { ...https, referer: 'https://evil.example/page' } }, 'Referer checking failed - https://evil.example/page does not match any trusted origins.');
      await expectBoth(jar, { form: { csrfmiddlewaretoken: token }, headers: { ...https, referer: 'http://127.0.0.1/' } }, 'Referer checking failed - Referer is insecure while host is secure.');
      await expectBoth(jar, { form: { csrfmiddlewaretoken: token }, headers: { ...https, referer: 'https://www.trusted.test/' } }, null);
    });
  });
});
