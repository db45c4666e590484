/**
 * The demo's Passport login (examples/demo/passport.ts) is a login Django honours: the demo, as
 * `npm start` makes it (`createDemoApp`), on Express and on Fastify, over real HTTP; Django 3.2
 * (test/interop/django_site, `/whoami` is `request.user`) on the demo's own sqlite file, whose
 * `auth_user` the demo's migration made and seeded (ada / lovelace, `makeDjangoPassword`). One
 * Browser carries the same `sessionid` to both. Django is not migrated: it reads the tables the
 * demo created as its own.
 */
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { DEMO_SECRET } from '../../examples/demo/app.module.js';
import { createDemoApp } from '../../examples/demo/bootstrap.js';
import type { DjangoVersion as DjangoVersionName } from '../../src/django-versions.js';
import { Browser } from './support/browser.js';
import { describeWithEachDjango } from './support/djangos.js';
import { manage, startDjango, type DjangoEnv, type Server } from './support/processes.js';

const PLATFORMS = ['express', 'fastify'] as const;

describeWithEachDjango(['django'], (django) => `the demo: a Passport login that ${django} honours (the demo's sqlite file)`, ({ django: python }, version) => {
  describe.each(PLATFORMS)('on %s', (platform) => {
    let dir: string;
    let app: INestApplication;
    let demo: Server;
    let django: Server;
    let djangoEnv: DjangoEnv;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'demo-passport-'));
      const sqlitePath = join(dir, 'demo.sqlite3');
      // DJANGO_VERSION=<release> npm start: the demo shares the file with this Django.
      app = await createDemoApp({ sqlitePath, secretKey: DEMO_SECRET, platform, djangoVersion: version.release as DjangoVersionName }, { logger: false });
      await app.listen(0, '127.0.0.1');
      const port = (app.getHttpServer().address() as AddressInfo).port;
      demo = { name: `demo (${platform})`, url: `http://127.0.0.1:${port}`, logs: () => '', stop: () => app.close() };
      djangoEnv = { python, dbUrl: `sqlite://${sqlitePath}`, secretKey: DEMO_SECRET };
      django = await startDjango(djangoEnv);
    }, 60_000);

    afterAll(async () => {
      await Promise.all([django?.stop(), demo?.stop()]);
      rmSync(dir, { recursive: true, force: true });
    }, 30_000);

    it("seeds ada in auth_user with a pbkdf2_sha256 hash that Django's own hasher accepts, at its own cost (must_update() is False: her login re-hashes nothing)", async () => {
      const out = await manage(djangoEnv, [
        'shell',
        // Django >= 5.2's shell imports the models and says so on stdout unless verbosity is 0.
        ...(version.since >= 502 ? ['-v', '0'] : []),
        '-c',
        [
          'from django.contrib.auth.hashers import PBKDF2PasswordHasher',
          'from django.contrib.auth.models import User',
          "u = User.objects.get(username='ada')",
          'h = PBKDF2PasswordHasher()',
          "print(u.pk, u.is_active, u.password.split('$')[0], h.verify('lovelace', u.password), h.verify('lovelacE', u.password), h.must_update(u.password))",
        ].join('\n'),
      ]);
      expect(out.trim()).toBe('1 True pbkdf2_sha256 True False False');
    });

    it('a Passport login on the demo is request.user == ada on Django (a new key, the earlier data kept); a Passport logout ends it on Django', async () => {
      const browser = new Browser();
      expect((await browser.get(django, '/whoami')).body).toEqual({ user: null });
      // An anonymous session first (the key a fixation attack would plant).
      expect((await browser.post(demo, '/comment', { comment: 'hi' })).body).toBe('Thanks for your comment!');
      const planted = browser.cookie;
      expect(planted).toMatch(/^[a-z0-9]{32}$/);

      expect((await browser.post(demo, '/passport/login', { username: 'ada', password: 'nope' })).status).toBe(401);
      expect(browser.cookie).toBe(planted);
      const login = await browser.post(demo, '/passport/login', { username: 'ada', password: 'lovelace' });
      expect(login).toMatchObject({ status: 200, body: { user: { id: 1, username: 'ada' } } });
      const key = browser.cookie;
      expect(key).toMatch(/^[a-z0-9]{32}$/);
      expect(key).not.toBe(planted);

      // Django: the user, its hash checked against auth_user.password; the keys login() writes; the comment flag.
      expect((await browser.get(django, '/whoami')).body).toEqual({ user: 'ada' });
      const session = (await browser.get(django, '/session')).body;
      expect(session.key).toBe(key);
      expect(session.data).toEqual({
        has_commented: true,
        _auth_user_id: '1',
        _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
        _auth_user_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect((await new Browser(planted).get(django, '/whoami')).body).toEqual({ user: null });
      expect((await browser.get(demo, '/passport/me')).body).toEqual({ user: { id: 1, username: 'ada' } });

      const logout = await browser.post(demo, '/passport/logout');
      expect(logout.status).toBe(200);
      expect(browser.cookie).toBeNull();
      expect((await new Browser(key).get(django, '/whoami')).body).toEqual({ user: null });
      expect((await new Browser(key).get(demo, '/passport/me')).body).toEqual({ user: null });
    });

    it("a Django login (auth.login) is Passport's req.user on the demo; Django's logout ends it there", async () => {
      const browser = new Browser();
      await browser.post(django, '/login', { username: 'ada' });
      const key = browser.cookie;
      expect(key).toMatch(/^[a-z0-9]{32}$/);
      expect((await browser.get(demo, '/passport/me')).body).toEqual({ user: { id: 1, username: 'ada' } });
      await browser.post(django, '/logout');
      expect((await new Browser(key).get(demo, '/passport/me')).body).toEqual({ user: null });
    });
  });
});
