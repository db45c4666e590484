/**
 * `nestjs-django-session/csrf` in a real browser: headless Chromium submits an HTML form a Nest
 * app rendered with `getCsrfToken()` (the hidden `csrfmiddlewaretoken` field and the `csrftoken`
 * cookie, as Django's `{% csrf_token %}` page has them): accepted. The same form without the field
 * is refused ('CSRF token missing.'), and a form on another site posting to the app is refused by
 * the Origin check Chromium's own Origin header triggers.
 */
import 'reflect-metadata';
import { Body, Controller, Get, Header, HttpCode, Module, Post, Req, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import { CreateDjangoSession1700000000000, SessionEntity, SessionModule } from '../../src/index.js';
import { CsrfModule, getCsrfToken } from '../../src/exports/csrf.js';
import { unmaskCsrfToken } from '../../src/csrf/csrf-tokens.js';
import { removeSqliteFile, tempSqliteFile, TEST_SECRET } from '../support/app.js';
import { describeWith } from '../support/env.js';
import { APP_HOST, EVIL_HOST, launchChromium } from './support.js';

declare const document: { body: { innerText: string }; querySelector(s: string): { value: string } | null };

const page = (body: string) => `<!doctype html><html><body>${body}</body></html>`;

@Controller()
class FormController {
  @Get('form')
  @Header('content-type', 'text/html; charset=utf-8')
  form(@Req() req: object) {
    return page(
      `<form method="post" action="/submit"><input type="hidden" name="csrfmiddlewaretoken" value="${getCsrfToken(req)}">` +
        '<input name="name" value="Ada"><button id="send" type="submit">Send</button></form>',
    );
  }

  @Get('form-without-token')
  @Header('content-type', 'text/html; charset=utf-8')
  bareForm() {
    return page('<form method="post" action="/submit"><input name="name" value="Ada"><button id="send" type="submit">Send</button></form>');
  }

  /** Served on the other site's host name: a form posting to the app. */
  @Get('other-site')
  @Header('content-type', 'text/html; charset=utf-8')
  otherSite(@Req() req: { query: Record<string, string> }) {
    return page(`<form method="post" action="${req.query.target}/submit"><input name="name" value="Mallory"><button id="send" type="submit">Send</button></form>`);
  }

  @Post('submit')
  @HttpCode(200)
  @Header('content-type', 'text/html; charset=utf-8')
  submit(@Body() body: { name?: string }) {
    return page(`<p id="answer">Accepted: ${String(body.name).replace(/[<>&"]/g, '')}</p>`);
  }
}

describeWith(['chromium'], 'CSRF forms in Chromium', ({ chromium }) => {
  const file = tempSqliteFile('csrf-browser');
  let app: INestApplication;
  let origin: string;
  let otherOrigin: string;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'sqlite', database: file, entities: [SessionEntity], migrations: [CreateDjangoSession1700000000000], migrationsRun: true }),
        SessionModule.forRoot({ secretKey: TEST_SECRET }),
        CsrfModule.forRoot({}),
      ],
      controllers: [FormController],
    })
    class CsrfBrowserModule {}
    app = await NestFactory.create(CsrfBrowserModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    origin = `http://${APP_HOST}:${port}`;
    otherOrigin = `http://${EVIL_HOST}:${port}`;
    browser = await launchChromium(chromium);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await removeSqliteFile(file);
  });

  beforeEach(async () => {
    context = await browser.createBrowserContext();
  });
  afterEach(async () => {
    await context.close();
  });

  /** Clicks the page's button; the answer's status and text. */
  async function send(tab: Page): Promise<{ status: number; text: string }> {
    const [response] = await Promise.all([tab.waitForNavigation(), tab.click('#send')]);
    return { status: response!.status(), text: await tab.evaluate(() => document.body.innerText) };
  }

  it('a form with the token Nest rendered is accepted; the csrftoken cookie holds its secret', async () => {
    const tab = await context.newPage();
    await tab.goto(`${origin}/form`);
    const token = await tab.evaluate(() => document.querySelector('input[name=csrfmiddlewaretoken]')!.value);
    const cookie = (await context.cookies()).find((c) => c.name === 'csrftoken' && c.domain === APP_HOST);
    expect(cookie).toMatchObject({ sameSite: 'Lax', path: '/', httpOnly: false });
    expect(unmaskCsrfToken(token)).toBe(cookie!.value);
    expect(await send(tab)).toEqual({ status: 200, text: 'Accepted: Ada' });
  });

  it('the same form without the token is refused, though the browser has the cookie', async () => {
    const tab = await context.newPage();
    await tab.goto(`${origin}/form`); // the cookie
    await tab.goto(`${origin}/form-without-token`);
    const answer = await send(tab);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.text)).toMatchObject({ statusCode: 403, message: 'CSRF token missing.' });
  });

  it("a form on another site posting to the app is refused by the Origin check (Chromium's Origin header)", async () => {
    const tab = await context.newPage();
    await tab.goto(`${origin}/form`); // the visitor has the app's cookie
    await tab.goto(`${otherOrigin}/other-site?target=${encodeURIComponent(origin)}`);
    const answer = await send(tab);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.text)).toMatchObject({ message: `Origin checking failed - ${otherOrigin} does not match any trusted origins.` });
  });
});
