/**
 * `@LoginRequired()` / `@CurrentUser()` against a real Django on one SQLite file, for each Django
 * version: an anonymous visitor is sent to the very URL Django's `login_required` sends them to
 * (the `Location` of both compared, path for path); a user logged in by Django (`/login`,
 * `auth.login()`) is the Nest handler's user; a password changed by Django (`set_password` +
 * `save`, test/interop/django_site/interop_site/login_required_views.py) logs them out on Nest,
 * which flushes the session as Django's `get_user()` does. The Nest apps (Express and Fastify) run
 * in this process, with `djangoVersion` set to the Django under test.
 */
import 'reflect-metadata';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import type { DjangoVersion } from '../../src/index.js';
import { CurrentUser, DjangoAuthModule, LoginRequired } from '../../src/exports/auth.js';
import { startSqliteApp, type Platform } from '../support/app.js';
import { Browser } from './support/browser.js';
import { createDatabase, type Database } from './support/databases.js';
import { describeWithEachDjango } from './support/djangos.js';
import { manage, startDjango, type Server } from './support/processes.js';
import { SECRET_KEY } from './support/values.js';

interface AuthUser {
  id: number;
  username: string;
  password: string;
}

/** The paths Django's login_required_views.py serves, with the same options. */
@Controller('lr')
class LoginRequiredController {
  @Get('page')
  @LoginRequired()
  page(@CurrentUser() user: AuthUser) {
    return { user: user.username };
  }

  @Get('p/:slug')
  @LoginRequired()
  slug(@CurrentUser() user: AuthUser) {
    return { user: user.username };
  }

  @Get('custom')
  @LoginRequired({ loginUrl: '/login/?from=app&x=a+b', redirectFieldName: 'goto' })
  custom(@CurrentUser() user: AuthUser) {
    return { user: user.username };
  }

  @Get('no-next')
  @LoginRequired({ redirectFieldName: null })
  noNext(@CurrentUser() user: AuthUser) {
    return { user: user.username };
  }

  @Get('elsewhere')
  @LoginRequired({ loginUrl: 'https://accounts.example.com/login/' })
  elsewhere(@CurrentUser() user: AuthUser) {
    return { user: user.username };
  }

  @Get('whoami')
  whoami(@CurrentUser() user: AuthUser | null) {
    return { user: user?.username ?? null };
  }
}

/**
 * Request targets as a client sends them: reserved characters, percent-escapes, UTF-8. (A path that
 * is not UTF-8 never reaches a guard: Express and Fastify refuse such a route parameter with 400;
 * test/unit/login-redirect.spec.ts holds Django's answer for one.)
 */
const TARGETS = [
  '/lr/page',
  '/lr/page?q=a%20b&c=%C3%A9&d=/x&e=%2F&f=a+b&g',
  "/lr/page?x=<'\"{}|^`>",
  '/lr/p/caf%C3%A9%20x',
  '/lr/p/a+b;c=d@e:f',
  "/lr/p/!$&'()*,~",
  '/lr/custom',
  '/lr/no-next?a=1',
  '/lr/elsewhere?a=1&b=%C3%A9',
];

const PLATFORMS: Platform[] = ['express', 'fastify'];

/** The Location of an anonymous GET of `target` (sent as is), the server's own host:port written as HOST. */
async function loginRedirect(url: string, target: string): Promise<{ status: number; location: string | null }> {
  const response = await fetch(url + target, { redirect: 'manual' });
  await response.text();
  return { status: response.status, location: response.headers.get('location')?.replaceAll(encodeURIComponent(new URL(url).host), 'HOST') ?? null };
}

describeWithEachDjango(['django'], (django) => `@LoginRequired on Nest and login_required on ${django} (SQLite)`, ({ django: python }, version) => {
  let db: Database;
  let django: Server;
  const nest = {} as Record<Platform, { app: INestApplication; url: string }>;
  const lookups: string[] = [];

  beforeAll(async () => {
    db = await createDatabase('sqlite', undefined, 'lr', 'interop');
    const djangoEnv = { python, dbUrl: db.url, secretKey: SECRET_KEY };
    await manage(djangoEnv, ['migrate', '--noinput', '-v', '0']);
    django = await startDjango(djangoEnv);
    for (const platform of PLATFORMS) {
      nest[platform] = await startSqliteApp({
        platform,
        file: db.url.slice('sqlite://'.length),
        session: { secretKey: SECRET_KEY, djangoVersion: version.release as DjangoVersion },
        imports: [
          DjangoAuthModule.forRoot({
            loadUser: async (id) => {
              lookups.push(id);
              const [row] = await db.query<AuthUser>('SELECT id, username, password FROM auth_user WHERE id = ?', [Number(id)]);
              return row ?? null;
            },
          }),
        ],
        controllers: [LoginRequiredController],
      });
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([django?.stop(), ...PLATFORMS.map((p) => nest[p]?.app.close())]);
    await db?.drop();
  }, 60_000);

  it.each(PLATFORMS)("an anonymous visitor is sent where Django's login_required sends them, for every target (%s)", async (platform) => {
    for (const target of TARGETS) {
      const fromDjango = await loginRedirect(django.url, target);
      const fromNest = await loginRedirect(nest[platform].url, target);
      expect({ target, ...fromNest }).toEqual({ target, ...fromDjango });
      expect(fromDjango.status).toBe(302);
    }
  });

  describe.each(PLATFORMS)('%s', (platform) => {
    const nestServer = (): Server => ({ name: `Nest (${platform})`, url: nest[platform].url, logs: () => '', stop: async () => {} });

    it("a user logged in by Django is the Nest handler's user, looked up once per request", async () => {
      const { body } = await new Browser().post(django, '/users', { username: `${platform}-ada` });
      const browser = new Browser();
      await browser.post(django, '/login', { username: `${platform}-ada` });
      lookups.length = 0;
      const page = await browser.get(nestServer(), '/lr/page');
      expect(page.status).toBe(200);
      expect(page.body).toEqual({ user: `${platform}-ada` });
      expect(lookups).toEqual([String(body.id)]);
      expect((await browser.get(nestServer(), '/lr/whoami')).body).toEqual({ user: `${platform}-ada` });
    });

    it('a password changed on Django logs the user out on Nest: anonymous there, and the session flushed for both', async () => {
      await new Browser().post(django, '/users', { username: `${platform}-bob` });
      const browser = new Browser();
      await browser.post(django, '/login', { username: `${platform}-bob` });
      const key = browser.cookie;
      expect((await browser.get(nestServer(), '/lr/whoami')).body).toEqual({ user: `${platform}-bob` });

      await new Browser().post(django, '/lr/set-password', { username: `${platform}-bob`, password: 'a new one' });

      const refused = await fetch(`${nest[platform].url}/lr/page`, { headers: { cookie: `sessionid=${key}` }, redirect: 'manual' });
      expect(refused.status).toBe(302);
      expect(refused.headers.get('location')).toBe('/accounts/login/?next=/lr/page');
      expect(refused.headers.getSetCookie().join()).toMatch(/^sessionid=("")?;.*Max-Age=0/i);
      expect(await db.query('SELECT 1 FROM django_session WHERE session_key = ?', [key])).toEqual([]);
      expect((await new Browser(key).get(django, '/whoami')).body).toEqual({ user: null });
    });
  });
});
