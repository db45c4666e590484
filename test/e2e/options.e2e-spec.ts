/**
 * Module options at boot: invalid options stop the app at start-up with a
 * message naming the option — with forRoot and with forRootAsync —, forRootAsync takes options
 * from an injected provider, and `dataSource` picks a named TypeORM DataSource.
 */
import { Injectable, Module } from '@nestjs/common';
import {
  PLATFORMS,
  sessionCookieOf,
  startApp,
  stored,
  TEST_SECRET,
  type TestApp,
} from '../support/app.js';
import { SessionConfigError, SessionModule, SessionService, type SessionModuleOptions } from '../../src/index.js';
import { SessionOpsController } from '../support/controllers.js';

/** A stand-in for @nestjs/config (not installed): a provider that hands out settings. */
@Injectable()
class SettingsService {
  private readonly values: Record<string, unknown> = {
    SECRET_KEY: TEST_SECRET,
    SESSION_COOKIE_NAME: 'async_sid',
    SESSION_COOKIE_AGE: 1800,
  };
  get<T>(name: string): T {
    return this.values[name] as T;
  }
}

@Module({ providers: [SettingsService], exports: [SettingsService] })
class SettingsModule {}

const SETTINGS = Symbol('SETTINGS');

describe.each(PLATFORMS)('options at boot on %s', (platform) => {
  async function bootFails(session: SessionModuleOptions | ReturnType<typeof SessionModule.forRootAsync>): Promise<Error> {
    let app: TestApp | undefined;
    try {
      app = await startApp({ platform, session, controllers: [SessionOpsController] });
    } catch (error) {
      return error as Error;
    }
    await app.close();
    throw new Error('the app started');
  }

  describe('forRoot() refuses bad options at start-up, naming the option', () => {
    it.each<[string, Record<string, unknown>, RegExp]>([
      ['no secretKey ({})', {}, /"secretKey"/],
      ['an empty secretKey', { secretKey: '' }, /"secretKey"/],
      ['a negative cookieAge', { secretKey: TEST_SECRET, cookieAge: -1 }, /"cookieAge"/],
      ['a fractional cookieAge', { secretKey: TEST_SECRET, cookieAge: 1.5 }, /"cookieAge"/],
      ['cookieSameSite None without cookieSecure', { secretKey: TEST_SECRET, cookieSameSite: 'None' }, /"cookieSameSite".*cookieSecure/],
      ['an unknown cookieSameSite', { secretKey: TEST_SECRET, cookieSameSite: 'lax' }, /"cookieSameSite"/],
      ['a cookieName that is not a token', { secretKey: TEST_SECRET, cookieName: 'my session' }, /"cookieName"/],
      ['a cookiePath without a leading /', { secretKey: TEST_SECRET, cookiePath: 'app' }, /"cookiePath"/],
      ['a non-boolean cookieHttpOnly', { secretKey: TEST_SECRET, cookieHttpOnly: 'yes' }, /"cookieHttpOnly"/],
      ['a misspelt option', { secretKey: TEST_SECRET, cookieAgeSeconds: 60 }, /"cookieAgeSeconds"/],
    ])('%s', async (_what, options, message) => {
      const error = await bootFails(options as unknown as SessionModuleOptions);
      expect(error).toBeInstanceOf(SessionConfigError);
      expect(error.message).toMatch(message);
    });

    it('a dataSource name no TypeORM DataSource has: fails at start-up naming it', async () => {
      const error = await bootFails({ secretKey: TEST_SECRET, dataSource: 'nowhere' });
      expect(error.message).toMatch(/"nowhere"/);
    });
  });

  describe('forRootAsync({ imports, useFactory, inject })', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({
        platform,
        session: SessionModule.forRootAsync({
          imports: [SettingsModule],
          inject: [SettingsService],
          useFactory: (settings: SettingsService) => ({
            secretKey: settings.get<string>('SECRET_KEY'),
            cookieName: settings.get<string>('SESSION_COOKIE_NAME'),
            cookieAge: settings.get<number>('SESSION_COOKIE_AGE'),
          }),
        }),
        controllers: [SessionOpsController],
      });
    });
    afterAll(() => t?.close());

    it('uses the options the factory built: cookie name and age, signing key', async () => {
      const client = t.client('async_sid');
      const reply = await client.ops([['set', 'a', 1]]);
      expect(reply.setCookies.map((c) => c.name)).toEqual(['async_sid']);
      const cookie = sessionCookieOf(reply, 'async_sid')!;
      expect(cookie.attributes['max-age']).toBe('1800');
      expect((await stored(t.db, cookie.value, TEST_SECRET))!.data).toEqual({ a: 1 });
      expect((await client.ops([['get', 'a']])).json().results).toEqual([1]);
    });

    it('the resolved options are frozen and complete (defaults filled in)', () => {
      const { options } = t.app.get(SessionService);
      expect(Object.isFrozen(options)).toBe(true);
      expect(options).toMatchObject({ cookieName: 'async_sid', cookieAge: 1800, cookiePath: '/', cookieSameSite: 'Lax', cookieHttpOnly: true });
    });
  });

  describe('forRootAsync() validates too', () => {
    it('an async factory without secretKey fails at start-up naming it', async () => {
      const error = await bootFails(
        SessionModule.forRootAsync({
          imports: [SettingsModule],
          inject: [SettingsService],
          useFactory: async (settings: SettingsService) => ({ cookieName: settings.get<string>('SESSION_COOKIE_NAME') }) as SessionModuleOptions,
        }),
      );
      expect(error).toBeInstanceOf(SessionConfigError);
      expect(error.message).toMatch(/"secretKey"/);
    });

    it('an async factory with a negative cookieAge fails naming it', async () => {
      const error = await bootFails(
        SessionModule.forRootAsync({
          useFactory: () => ({ secretKey: TEST_SECRET, cookieAge: -5 }),
        }),
      );
      expect(error.message).toMatch(/"cookieAge"/);
    });

    it('a plain value provider can be injected by token', async () => {
      @Module({ providers: [{ provide: SETTINGS, useValue: { secret: TEST_SECRET } }], exports: [SETTINGS] })
      class TokenModule {}
      const t = await startApp({
        platform,
        session: SessionModule.forRootAsync({
          imports: [TokenModule],
          inject: [SETTINGS],
          useFactory: (s: { secret: string }) => ({ secretKey: s.secret, cookieName: 'by_token' }),
        }),
        controllers: [SessionOpsController],
      });
      try {
        const reply = await t.client('by_token').ops([['set', 'a', 1]]);
        expect(sessionCookieOf(reply, 'by_token')).toBeDefined();
      } finally {
        await t.close();
      }
    });
  });

  describe('dataSource: a named TypeORM DataSource', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({
        platform,
        dataSourceName: 'sessions',
        session: { secretKey: TEST_SECRET, dataSource: 'sessions' },
        controllers: [SessionOpsController],
      });
    });
    afterAll(() => t?.close());

    it('sessions are read and written through it', async () => {
      const client = t.client();
      const reply = await client.ops([['set', 'a', 'named']]);
      const key = sessionCookieOf(reply)!.value;
      expect((await stored(t.db, key))!.data).toEqual({ a: 'named' });
      t.sql.reset();
      expect((await client.ops([['get', 'a']])).json().results).toEqual(['named']);
      expect(t.sql.verbs).toEqual(['SELECT']);
    });
  });
});
