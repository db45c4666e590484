/**
 * The demo app (examples/demo) driven by a real Chromium, as a user drives it:
 *
 * - `startDemo()`: the demo app as `npm start` makes it (`createDemoApp`), on Express, in-process,
 *   listening on a random port, with sessions on a fresh temporary sqlite file. It records, for
 *   every request, the `sessionid` cookie the *server* received (`demo.seen`), and exposes the
 *   engine so a test can read a session's stored data by key.
 * - `launchChromium()`: headless Debian chromium through puppeteer-core (no browser download),
 *   with app.test and evil.test mapped to 127.0.0.1: two sites on one machine.
 * - `startOtherSite()`: a tiny server for the pages of "another site" (a form that auto-submits a
 *   POST to the demo, a link to it), served on a port of its own.
 * - `submit()`: fills nothing, clicks a form's button on the demo page and returns the answer the
 *   page shows.
 */
import 'reflect-metadata';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { INestApplication } from '@nestjs/common';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { parseCookie } from 'cookie';
import { SessionBackend } from '../../src/index.js';
import { DEMO_SECRET } from '../../examples/demo/app.module.js';
import { createDemoApp } from '../../examples/demo/bootstrap.js';

// The page globals the callbacks below use: they run in the browser, and test/tsconfig has no DOM lib.
declare const document: { getElementById(id: string): { textContent: string | null } | null };

/** The host names Chromium resolves to 127.0.0.1: ports do not make sites, host names do. */
export const APP_HOST = 'app.test';
export const EVIL_HOST = 'evil.test';
const HOST_RULES = `--host-resolver-rules=MAP ${APP_HOST} 127.0.0.1, MAP ${EVIL_HOST} 127.0.0.1`;

export const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');

/** One request as the demo server received it. */
export interface SeenRequest {
  method: string;
  host: string;
  path: string;
  /** The `sessionid` cookie the request carried, or `null`. */
  sessionid: string | null;
}

export interface Demo {
  app: INestApplication;
  port: number;
  /** `http://app.test:<port>` */
  origin: string;
  seen: SeenRequest[];
  /** The last request the server received for `method path` (throws if none). */
  last(method: string, path: string): SeenRequest;
  /** What the store holds for a session key (`null`: no such session). */
  stored(sessionKey: string): Promise<Record<string, unknown> | null>;
  close(): Promise<void>;
}

export async function startDemo(): Promise<Demo> {
  const dir = await mkdtemp(join(tmpdir(), 'demo-browser-'));
  const app = await createDemoApp({ sqlitePath: join(dir, 'demo.sqlite3'), secretKey: DEMO_SECRET }, { logger: false });
  const seen: SeenRequest[] = [];
  app.use((req: { method: string; url: string; headers: Record<string, string | undefined> }, _res: unknown, next: () => void) => {
    const cookies = parseCookie(req.headers.cookie ?? '');
    seen.push({ method: req.method, host: req.headers.host ?? '', path: req.url.split('?')[0]!, sessionid: cookies.sessionid ?? null });
    next();
  });
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const backend = app.get(SessionBackend);
  return {
    app,
    port,
    origin: `http://${APP_HOST}:${port}`,
    seen,
    last(method, path) {
      const hit = [...seen].reverse().find((r) => r.method === method && r.path === path);
      if (!hit) throw new Error(`the demo received no ${method} ${path}`);
      return hit;
    },
    async stored(sessionKey) {
      const data = await backend.load(sessionKey);
      return data === null ? null : Object.fromEntries(data);
    },
    async close() {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Headless chromium (`executablePath` = TEST_CHROMIUM), app.test and evil.test on 127.0.0.1. */
export function launchChromium(executablePath: string, options: { userDataDir?: string } = {}): Promise<Browser> {
  return puppeteer.launch({
    executablePath,
    headless: true,
    userDataDir: options.userDataDir,
    args: ['--no-sandbox', '--disable-gpu', HOST_RULES],
  });
}

/** A profile directory for `launchChromium({ userDataDir })`; `blockCookies` = the user turned cookies off. */
export async function makeProfile(options: { blockCookies?: boolean } = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
  if (options.blockCookies) {
    // chrome://settings/cookies → "Block all cookies" is this content setting (2 = block).
    await mkdir(join(dir, 'Default'));
    const preferences = { profile: { default_content_setting_values: { cookies: 2 } } };
    await writeFile(join(dir, 'Default', 'Preferences'), JSON.stringify(preferences));
  }
  return dir;
}

export interface OtherSite {
  port: number;
  /** The page that auto-submits `<form method=post action=<demo>/color>` with `color`. */
  postFormUrl(host: string, color: string): string;
  /** A page with a link (`a#go`) to `<demo>/session`. */
  linkUrl(host: string): string;
  close(): Promise<void>;
}

/** Pages of "another site" (whatever host name the browser uses for it), aimed at the demo. */
export async function startOtherSite(demoOrigin: string): Promise<OtherSite> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const page = (body: string) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html><head><meta charset="utf-8"><title>another site</title></head><body>${body}</body></html>`);
    };
    if (url.pathname === '/post-form') {
      const color = (url.searchParams.get('color') ?? '').replace(/[^a-z-]/g, '');
      page(`<h1>You won a prize!</h1>
<form method="post" action="${demoOrigin}/color"><input type="hidden" name="color" value="${color}"></form>
<script>document.forms[0].submit()</script>`);
    } else if (url.pathname === '/link') {
      page(`<h1>Interesting links</h1><a id="go" href="${demoOrigin}/session">my session on the demo</a>`);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    postFormUrl: (host, color) => `http://${host}:${port}/post-form?color=${color}`,
    linkUrl: (host) => `http://${host}:${port}/link`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Opens the demo's page and waits until it shows the session. */
export async function openDemo(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => document.getElementById('session')?.textContent !== '–', { polling: 'mutation' });
}

/**
 * Clicks the button of the demo page's form for `method path` (the `nth` when there are several)
 * and returns the answer the page shows once the request is done: `{ status, body }`.
 */
export async function submit(page: Page, method: string, path: string): Promise<{ status: number; body: string }> {
  await page.bringToFront(); // the user clicks in the tab they look at
  await page.$eval('#answer', (el) => (el.textContent = '…'));
  await page.click(`form[data-method="${method}"][data-path="${path}"] button`);
  // (Polling on DOM changes, not animation frames: a background tab gets none.)
  await page.waitForFunction(() => document.getElementById('answer')?.textContent !== '…', { polling: 'mutation' });
  const text = await page.$eval('#answer', (el) => el.textContent ?? '');
  const space = text.indexOf(' ');
  return { status: Number(text.slice(0, space)), body: text.slice(space + 1) };
}

/** What the demo page shows under "Session now" (GET /session, as of the last answer). */
export async function shownSession(page: Page): Promise<{ member: string | null; sessionKey: string | null; data: Record<string, unknown>; expireAtBrowserClose: boolean }> {
  return JSON.parse(await page.$eval('#session', (el) => el.textContent ?? ''));
}

/** The page's text parsed as JSON (a navigation that landed on one of the demo's JSON answers). */
export async function pageJson(page: Page): Promise<Record<string, unknown>> {
  return JSON.parse(await page.$eval('body', (el) => el.innerText));
}

/** The value of the browser's `sessionid` cookie for the demo's host (`undefined`: none). */
export async function sessionCookie(page: Page, origin: string) {
  const cookies = await page.browserContext().cookies();
  return cookies.find((c) => c.name === 'sessionid' && c.domain === new URL(origin).hostname);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) as `${string}.png`, fullPage: true });
}
