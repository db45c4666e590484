/**
 * Passport on Nest and Django 3.2's auth share one login, over real HTTP on one SQLite file. The
 * Nest side (nest/passport-server.ts, its own process) logs in with `passport-local` on Django's
 * auth_user through `DjangoPassportSerializer`, on Express (`passport` + `@nestjs/passport`) and on
 * Fastify (`@fastify/passport`); the Django side is test/interop/django_site (`/login` is
 * `auth.login()`, `/whoami` is `request.user`, `/logout` is `auth.logout()`). One Browser carries
 * the same `sessionid` to both.
 */
import { join, dirname } from 'node:path';
import { makeDjangoPassword } from '../../src/exports/auth.js';
import { Browser } from './support/browser.js';
import { buildNestServer, type NestBuild } from './support/build.js';
import { createDatabase, type Database } from './support/databases.js';
import { describeWithEachDjango } from './support/djangos.js';
import { manage, startDjango, startNest, type DjangoEnv, type Server } from './support/processes.js';
import { SECRET_KEY } from './support/values.js';

const PLATFORMS = ['express', 'fastify'] as const;
type Platform = (typeof PLATFORMS)[number];

describeWithEachDjango(['django'], (django) => `Passport on Nest and ${django} share the login (SQLite)`, ({ django: python }, version) => {
  let build: NestBuild | undefined;
  let db: Database;
  let djangoEnv: DjangoEnv;
  let django: Server;
  const nest = {} as Record<Platform, Server>;
  /** Plain passwords of the users made so far. */
  const passwords = new Map<string, string>();

  /**
   * A user made by Django (`create_user`), then given a PBKDF2 password (the interop site hashes
   * with MD5 for speed, which Nest rightly does not verify): what an app's users table holds.
   */
  async function djangoUser(username: string): Promise<number> {
    const { body } = await new Browser().post(django, '/users', { username });
    const password = `pw of ${username} ✓`;
    await db.query('UPDATE auth_user SET password = ? WHERE id = ?', [await makeDjangoPassword(password, { iterations: 1000 }), body.id]);
    passwords.set(username, password);
    return body.id as number;
  }

  beforeAll(async () => {
    build = buildNestServer();
    db = await createDatabase('sqlite', undefined, 'passport', 'interop');
    djangoEnv = { python, dbUrl: db.url, secretKey: SECRET_KEY };
    await manage(djangoEnv, ['migrate', '--noinput', '-v', '0']);
    django = await startDjango(djangoEnv);
    const passportServerJs = join(dirname(build.serverJs), 'passport-server.js');
    for (const platform of PLATFORMS) {
      // startNest passes this process's environment on.
      process.env.INTEROP_PASSPORT_PLATFORM = platform;
      try {
        nest[platform] = await startNest({ serverJs: passportServerJs, dbUrl: db.url, secretKey: SECRET_KEY, tz: 'Asia/Kolkata', djangoVersion: version.release });
      } finally {
        delete process.env.INTEROP_PASSPORT_PLATFORM;
      }
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([django?.stop(), ...PLATFORMS.map((p) => nest[p]?.stop())]);
    await db?.drop();
    build?.remove();
  }, 60_000);

  describe.each(PLATFORMS)('%s', (platform) => {
    const user = (name: string) => `${platform}-${name}`;

    it('a Passport login on Nest is request.user on Django (new key, data kept as by cycle_key); a Passport logout ends it on Django', async () => {
      const id = await djangoUser(user('alice'));
      const browser = new Browser();
      await browser.post(django, '/set', { cart: [1, 2] });
      const planted = browser.cookie;
      expect(planted).toMatch(/^[a-z0-9]{32}$/);

      const login = await browser.post(nest[platform], '/login', { username: user('alice'), password: passwords.get(user('alice')) });
      expect(login.status).toBe(200);
      expect(login.body).toEqual({ user: user('alice') });
      const key = browser.cookie;
      expect(key).toMatch(/^[a-z0-9]{32}$/);
      expect(key).not.toBe(planted);

      // Django: the user (hash checked against auth_user.password), the keys login() writes, the cart.
      expect((await browser.get(django, '/whoami')).body).toEqual({ user: user('alice') });
      const session = (await browser.get(django, '/session')).body;
      expect(session.key).toBe(key);
      expect(session.data).toEqual({
        cart: [1, 2],
        _auth_user_id: String(id),
        _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
        _auth_user_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect((await new Browser(planted).get(django, '/whoami')).body).toEqual({ user: null });
      expect((await browser.get(nest[platform], '/me')).body).toEqual({ user: user('alice'), authenticated: true });

      const logout = await browser.post(nest[platform], '/logout');
      expect(logout.status).toBe(200);
      expect(browser.cookie).toBeNull();
      expect((await new Browser(key).get(django, '/whoami')).body).toEqual({ user: null });
      expect((await new Browser(key).get(nest[platform], '/me')).body).toEqual({ user: null, authenticated: false });
    });

    it("a Django login (auth.login) is a Passport user on Nest; Django's logout ends it on Nest", async () => {
      await djangoUser(user('bob'));
      const browser = new Browser();
      await browser.post(django, '/login', { username: user('bob') });
      const key = browser.cookie;
      expect((await browser.get(nest[platform], '/me')).body).toEqual({ user: user('bob'), authenticated: true });
      expect(browser.cookie).toBe(key); // reading the login rewrites nothing

      await browser.post(django, '/logout');
      expect((await new Browser(key).get(nest[platform], '/me')).body).toEqual({ user: null, authenticated: false });
    });

    it("a password changed by Django (set_password + save) ends the Passport login on both sides", async () => {
      await djangoUser(user('carol'));
      const browser = new Browser();
      await browser.post(nest[platform], '/login', { username: user('carol'), password: passwords.get(user('carol')) });
      const key = browser.cookie;
      expect((await browser.get(nest[platform], '/me')).body.user).toBe(user('carol'));

      await manage(djangoEnv, [
        'shell',
        '-c',
        `from django.contrib.auth.models import User; u = User.objects.get(username='${user('carol')}'); u.set_password('new'); u.save()`,
      ]);
      // Nest's get_user(): the hash no longer matches → anonymous, the session flushed (cookie deleted).
      expect((await browser.get(nest[platform], '/me')).body).toEqual({ user: null, authenticated: false });
      expect(browser.cookie).toBeNull();
      expect((await new Browser(key).get(django, '/whoami')).body).toEqual({ user: null });
    });

    it('a wrong password is refused on Nest and logs no one in on Django', async () => {
      await djangoUser(user('dave'));
      const browser = new Browser();
      const reply = await browser.post(nest[platform], '/login', { username: user('dave'), password: 'wrong' });
      expect(reply.status).toBe(401);
      expect(browser.cookie).toBeNull();
      expect((await browser.get(django, '/whoami')).body).toEqual({ user: null });
    });
  });
});
