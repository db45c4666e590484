/**
 * `resolveSessionOptions`: every default is Django's (django/conf/global_settings.py), every
 * invalid option fails with a message naming it, and the result is a new, frozen object.
 */
import { tmpdir } from 'node:os';
import {
  resolveSessionOptions,
  SESSION_DEFAULTS,
  SessionBackend,
  SessionBackendUnavailable,
  SessionConfigError,
  SessionStoreUnavailable,
  type SessionModuleOptions,
} from '../../src/index.js';
import { deprecatedOptionWarnings } from '../../src/session-options.js';
import { TypeOrmSessionBackend } from '../../src/exports/engines.js';

const resolve = (options: Record<string, unknown>) => resolveSessionOptions(options as unknown as SessionModuleOptions);

describe('resolveSessionOptions', () => {
  describe('defaults: Django\'s settings', () => {
    it('fills in every option as Django\'s global_settings.py does', () => {
      expect(resolve({ secretKey: 'k' })).toEqual({
        secretKey: 'k',
        secretKeyFallbacks: [], // SECRET_KEY_FALLBACKS
        cookieName: 'sessionid', // SESSION_COOKIE_NAME
        cookieAge: 1209600, // SESSION_COOKIE_AGE: 60 * 60 * 24 * 7 * 2
        cookieDomain: null, // SESSION_COOKIE_DOMAIN
        cookiePath: '/', // SESSION_COOKIE_PATH
        cookieSecure: false, // SESSION_COOKIE_SECURE
        cookieHttpOnly: true, // SESSION_COOKIE_HTTPONLY
        cookieSameSite: 'Lax', // SESSION_COOKIE_SAMESITE
        saveEveryRequest: false, // SESSION_SAVE_EVERY_REQUEST
        expireAtBrowserClose: false, // SESSION_EXPIRE_AT_BROWSER_CLOSE
        touchAfter: null, // not a Django setting: idle expiry without a write per request (off)
        privateCacheControl: false, // not a Django setting: Django sends no Cache-Control
        requestSession: false, // not a Django setting: req.session for Express/Fastify middleware
        salt: 'django.contrib.sessions.SessionStore',
        djangoVersion: '5.2', // not a Django setting: the release sharing the sessions, the current LTS
        legacyDecode: false, // follows djangoVersion: Django 4.0+ reads no pre-3.1 session data
        maxDecodedBytes: 4 * 1024 * 1024, // not a Django setting: how far a stored session may inflate
        backendTimeout: 3, // not a Django setting: seconds before a stuck store answers 503
        dataSource: undefined,
        engine: 'db', // SESSION_ENGINE: django.contrib.sessions.backends.db
        cache: null, // only the cache engines need it
        filePath: tmpdir(), // SESSION_FILE_PATH: None, i.e. tempfile.gettempdir()
      });
    });

    it('SESSION_DEFAULTS holds the same values', () => {
      expect(SESSION_DEFAULTS).toEqual({
        secretKeyFallbacks: [],
        cookieName: 'sessionid',
        cookieAge: 60 * 60 * 24 * 7 * 2,
        cookieDomain: null,
        cookiePath: '/',
        cookieSecure: false,
        cookieHttpOnly: true,
        cookieSameSite: 'Lax',
        saveEveryRequest: false,
        expireAtBrowserClose: false,
        touchAfter: null,
        privateCacheControl: false,
        requestSession: false,
        salt: 'django.contrib.sessions.SessionStore',
        djangoVersion: '5.2',
        maxDecodedBytes: 4 * 1024 * 1024,
        engine: 'db',
        // CACHES: KEY_PREFIX, VERSION, BACKEND; django-redis SERIALIZER, PICKLE_VERSION (5 with Django's own RedisCache)
        cache: { keyPrefix: '', version: 1, backend: 'django_redis.cache.RedisCache', serializer: 'pickle', pickleProtocol: 4 },
        backendTimeout: 3,
      });
    });

    it.each([
      ['3.2', true],
      ['4.0', false],
      ['5.2', false],
      ['6.1', false],
    ] as const)("djangoVersion '%s' implies legacyDecode: %s (Django 4.0 removed the pre-3.1 formats)", (djangoVersion, legacyDecode) => {
      expect(resolve({ secretKey: 'k', djangoVersion })).toMatchObject({ djangoVersion, legacyDecode });
      expect(resolve({ secretKey: 'k', djangoVersion, legacyDecode: !legacyDecode })).toMatchObject({ djangoVersion, legacyDecode: !legacyDecode });
    });

    it.each([
      ['an unknown release', '6.2', "'6.2'"],
      ['a number', 5.2, 'the number 5.2'],
      ['a release with its patch level', '5.2.1', "'5.2.1'"],
      ['not a version at all', 'secret-looking text', 'a string of 19 characters'],
    ])('refuses djangoVersion as %s, listing the releases it knows', (_what, djangoVersion, described) => {
      expect(() => resolve({ secretKey: 'k', djangoVersion: djangoVersion as never })).toThrow(
        `SessionModule option "djangoVersion" must name the Django release the app shares sessions with, one of '3.2', '4.0', '4.1', '4.2', '5.0', '5.1', '5.2', '6.0', '6.1'; got ${described}`,
      );
    });

    it('storeTimeout, the old name of backendTimeout, is still read (with a start-up warning); both at once is an error', () => {
      expect(resolve({ secretKey: 'k', storeTimeout: 0.5 }).backendTimeout).toBe(0.5);
      expect(resolve({ secretKey: 'k', storeTimeout: 0.5 })).not.toHaveProperty('storeTimeout');
      expect(deprecatedOptionWarnings({ secretKey: 'k', storeTimeout: 0.5 })).toEqual(['SessionModule option "storeTimeout" is deprecated: it is now called "backendTimeout"']);
      expect(deprecatedOptionWarnings({ secretKey: 'k', backendTimeout: 0.5 })).toEqual([]);
      expect(() => resolve({ secretKey: 'k', storeTimeout: 1, backendTimeout: 2 })).toThrow('SessionModule option "storeTimeout" is the old name of "backendTimeout": give only backendTimeout');
      expect(() => resolve({ secretKey: 'k', storeTimeout: 0 })).toThrow(/^SessionModule option "storeTimeout" must be a number of seconds from 0.01 to 600/);
    });

    it('touchAfter: null (off), or whole seconds from 0 to under cookieAge; anything else stops the boot', () => {
      expect(resolve({ secretKey: 'k', touchAfter: 60 }).touchAfter).toBe(60);
      expect(resolve({ secretKey: 'k', touchAfter: 0 }).touchAfter).toBe(0);
      expect(resolve({ secretKey: 'k', cookieAge: 3600, touchAfter: 3599 }).touchAfter).toBe(3599);
      expect(resolve({ secretKey: 'k', touchAfter: null }).touchAfter).toBeNull();
      for (const touchAfter of [-1, 1.5, '60', true, Number.NaN, Infinity, 1209600]) {
        expect(() => resolve({ secretKey: 'k', touchAfter })).toThrow(/^SessionModule option "touchAfter" must be null \(off\) or a whole number of seconds from 0 to less than cookieAge \(1209600\)/);
      }
      expect(() => resolve({ secretKey: 'k', cookieAge: 60, touchAfter: 60 })).toThrow(/"touchAfter" .* less than cookieAge \(60\)/);
    });

    it('SessionStoreUnavailable, the old name of SessionBackendUnavailable, is the same class', () => {
      expect(SessionStoreUnavailable).toBe(SessionBackendUnavailable);
      expect(new SessionStoreUnavailable('down')).toBeInstanceOf(SessionBackendUnavailable);
    });

    it('keeps every valid value given', () => {
      const given = {
        secretKey: 'k',
        secretKeyFallbacks: ['old1', 'old2'],
        cookieName: '__Host-sid',
        cookieAge: 0,
        cookieDomain: null,
        cookiePath: '/',
        cookieSecure: true,
        cookieHttpOnly: false,
        cookieSameSite: 'None' as const,
        saveEveryRequest: true,
        expireAtBrowserClose: true,
        touchAfter: null, // (a number must be under cookieAge, 0 here)
        privateCacheControl: true,
        requestSession: true,
        salt: 'django.contrib.sessions.MyStore',
        djangoVersion: '3.2' as const,
        legacyDecode: false, // given: it wins over what djangoVersion implies
        maxDecodedBytes: 65536,
        backendTimeout: 0.5,
        dataSource: 'sessions',
        engine: 'file' as const,
        filePath: '/var/lib/sessions',
      };
      expect(resolveSessionOptions(given)).toEqual({ ...given, cache: null });
    });

    it.each([
      ['cookieSameSite false (attribute left out)', { cookieSameSite: false }],
      ['cookieSameSite Strict', { cookieSameSite: 'Strict' }],
      ['a domain with a leading dot', { cookieDomain: '.example.com' }],
      ['a domain without', { cookieDomain: 'example.com' }],
      ['a deeper path', { cookiePath: '/app/v1/' }],
      ['a __Secure- name with cookieSecure', { cookieName: '__Secure-sid', cookieSecure: true }],
      ['a cookie name with token punctuation', { cookieName: "s!#$%&'*+-.^_`|~1" }],
    ])('accepts %s', (_what, extra) => {
      expect(() => resolve({ secretKey: 'k', ...extra })).not.toThrow();
    });
  });

  describe('the result', () => {
    it('is frozen, and so are its fallback keys', () => {
      const options = resolve({ secretKey: 'k', secretKeyFallbacks: ['old'] });
      expect(Object.isFrozen(options)).toBe(true);
      expect(Object.isFrozen(options.secretKeyFallbacks)).toBe(true);
      expect(() => {
        (options as { cookieAge: number }).cookieAge = 1;
      }).toThrow(TypeError);
      expect(() => (options.secretKeyFallbacks as string[]).push('x')).toThrow(TypeError);
      expect(options.cookieAge).toBe(1209600);
    });

    it('is a new object: the input is not changed, and later changes to it are not seen', () => {
      const fallbacks = ['old'];
      const input = { secretKey: 'k', secretKeyFallbacks: fallbacks, cookieAge: 60 };
      const options = resolve(input);
      expect(options).not.toBe(input);
      expect(input).toEqual({ secretKey: 'k', secretKeyFallbacks: ['old'], cookieAge: 60 });
      expect(Object.isFrozen(input)).toBe(false);
      fallbacks.push('later');
      input.cookieAge = 5;
      expect(options.secretKeyFallbacks).toEqual(['old']);
      expect(options.cookieAge).toBe(60);
    });
  });

  describe('invalid options fail with a SessionConfigError naming the option', () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['secretKey missing', {}, 'secretKey'],
      ['secretKey empty', { secretKey: '' }, 'secretKey'],
      ['secretKey not a string', { secretKey: 42 }, 'secretKey'],
      ['secretKeyFallbacks not an array', { secretKey: 'k', secretKeyFallbacks: 'old' }, 'secretKeyFallbacks'],
      ['secretKeyFallbacks with an empty key', { secretKey: 'k', secretKeyFallbacks: ['old', ''] }, 'secretKeyFallbacks'],
      ['cookieName empty', { secretKey: 'k', cookieName: '' }, 'cookieName'],
      ['cookieName with a space', { secretKey: 'k', cookieName: 'my sid' }, 'cookieName'],
      ['cookieName with ";"', { secretKey: 'k', cookieName: 'sid;x' }, 'cookieName'],
      ['cookieName with "="', { secretKey: 'k', cookieName: 'sid=x' }, 'cookieName'],
      ['cookieName not a string', { secretKey: 'k', cookieName: 1 }, 'cookieName'],
      ['cookieName __Secure- without cookieSecure', { secretKey: 'k', cookieName: '__Secure-sid' }, 'cookieName'],
      ['cookieName __Host- without cookieSecure', { secretKey: 'k', cookieName: '__Host-sid' }, 'cookieName'],
      ['cookieName __Host- with a domain', { secretKey: 'k', cookieName: '__Host-sid', cookieSecure: true, cookieDomain: 'example.com' }, 'cookieName'],
      ['cookieName __Host- with a path', { secretKey: 'k', cookieName: '__Host-sid', cookieSecure: true, cookiePath: '/app' }, 'cookieName'],
      ['cookieAge negative', { secretKey: 'k', cookieAge: -1 }, 'cookieAge'],
      ['cookieAge over 100 years (past year 9999 Django\'s dates overflow)', { secretKey: 'k', cookieAge: 100 * 365 * 86400 + 1 }, 'cookieAge'],
      ['cookieAge fractional', { secretKey: 'k', cookieAge: 1.5 }, 'cookieAge'],
      ['cookieAge a string', { secretKey: 'k', cookieAge: '3600' }, 'cookieAge'],
      ['cookieAge NaN', { secretKey: 'k', cookieAge: Number.NaN }, 'cookieAge'],
      ['cookieAge Infinity', { secretKey: 'k', cookieAge: Number.POSITIVE_INFINITY }, 'cookieAge'],
      ['cookieDomain with a space', { secretKey: 'k', cookieDomain: 'exa mple.com' }, 'cookieDomain'],
      ['cookieDomain with ";"', { secretKey: 'k', cookieDomain: 'example.com;x' }, 'cookieDomain'],
      ['cookieDomain a number', { secretKey: 'k', cookieDomain: 5 }, 'cookieDomain'],
      ['cookiePath without a leading /', { secretKey: 'k', cookiePath: 'app' }, 'cookiePath'],
      ['cookiePath with ";"', { secretKey: 'k', cookiePath: '/a;b' }, 'cookiePath'],
      ['cookiePath with a control character', { secretKey: 'k', cookiePath: '/a\nb' }, 'cookiePath'],
      ['cookieSecure not a boolean', { secretKey: 'k', cookieSecure: 'true' }, 'cookieSecure'],
      ['cookieHttpOnly not a boolean', { secretKey: 'k', cookieHttpOnly: 1 }, 'cookieHttpOnly'],
      ['saveEveryRequest not a boolean', { secretKey: 'k', saveEveryRequest: 'yes' }, 'saveEveryRequest'],
      ['expireAtBrowserClose not a boolean', { secretKey: 'k', expireAtBrowserClose: 0 }, 'expireAtBrowserClose'],
      ['legacyDecode not a boolean', { secretKey: 'k', legacyDecode: null }, 'legacyDecode'],
      ['cookieSameSite lower-case', { secretKey: 'k', cookieSameSite: 'lax' }, 'cookieSameSite'],
      ['cookieSameSite unknown', { secretKey: 'k', cookieSameSite: 'Sometimes' }, 'cookieSameSite'],
      ['cookieSameSite true', { secretKey: 'k', cookieSameSite: true }, 'cookieSameSite'],
      ['cookieSameSite None without cookieSecure', { secretKey: 'k', cookieSameSite: 'None' }, 'cookieSameSite'],
      ['salt empty', { secretKey: 'k', salt: '' }, 'salt'],
      ['dataSource empty', { secretKey: 'k', dataSource: '' }, 'dataSource'],
      ['dataSource not a string', { secretKey: 'k', dataSource: {} }, 'dataSource'],
      ['an unknown option', { secretKey: 'k', cookie_age: 60 }, 'cookie_age'],
      ['a misspelt option', { secretKey: 'k', cookieAgeSeconds: 60 }, 'cookieAgeSeconds'],
    ];

    it.each(cases)('%s', (_what, options, name) => {
      let thrown: unknown;
      try {
        resolve(options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(SessionConfigError);
      expect((thrown as Error).name).toBe('SessionConfigError');
      expect((thrown as Error).message).toMatch(new RegExp(`^SessionModule option "${name}" `));
    });

    it('the None-without-Secure message says why', () => {
      expect(() => resolve({ secretKey: 'k', cookieSameSite: 'None' })).toThrow(/cookieSecure: true/);
    });

    it.each([
      ['undefined', undefined],
      ['null', null],
      ['a string', 'secret'],
    ])('options that are %s: a SessionConfigError asking for { secretKey }', (_what, value) => {
      expect(() => resolveSessionOptions(value as unknown as SessionModuleOptions)).toThrow(SessionConfigError);
      expect(() => resolveSessionOptions(value as unknown as SessionModuleOptions)).toThrow(/secretKey/);
    });
  });

  describe('engine and its companions (SESSION_ENGINE, CACHES, SESSION_FILE_PATH)', () => {
    const client = { get() {}, set() {} };

    it.each(['db', 'cache', 'cached_db', 'signed_cookies', 'file'])('accepts the built-in engine %s', (engine) => {
      const extra = engine.startsWith('cache') ? { cache: { client } } : {};
      expect(resolve({ secretKey: 'k', engine, ...extra }).engine).toBe(engine);
    });

    it('accepts a SessionBackend subclass and a SessionBackend instance', () => {
      class Mine extends TypeOrmSessionBackend {}
      expect(resolve({ secretKey: 'k', engine: Mine }).engine).toBe(Mine);
      const instance = new Mine(() => { throw new Error('not used'); });
      expect(resolve({ secretKey: 'k', engine: instance }).engine).toBe(instance);
    });

    it.each([
      ['an unknown name', 'redis', /"engine" must be one of 'db'.*got a string of 5 characters/],
      ["Django's dotted path", 'django.contrib.sessions.backends.db', /"engine" must be one of/],
      ['a class that is not a SessionBackend', class NotABackend {}, /"engine" .* got a function or class \(NotABackend\)/],
      ['the abstract class itself', SessionBackend, /"engine" must be one of/],
      ['a plain object', { load() {} }, /"engine" .* got an object \(Object\)/],
    ])('refuses %s, naming the option', (_what, engine, message) => {
      expect(() => resolve({ secretKey: 'k', engine })).toThrow(SessionConfigError);
      expect(() => resolve({ secretKey: 'k', engine })).toThrow(message);
    });

    it('cache: resolved with django-redis defaults, the client kept as given (never copied)', () => {
      const cache = resolve({ secretKey: 'k', engine: 'cache', cache: { client } }).cache!;
      expect(cache).toEqual({ client, keyPrefix: '', version: 1, backend: 'django_redis.cache.RedisCache', serializer: 'pickle', pickleProtocol: 4 });
      expect(cache.client).toBe(client);
      expect(Object.isFrozen(cache)).toBe(true);
      expect(resolve({ secretKey: 'k', engine: 'cached_db', cache: { client, keyPrefix: 'site', version: 3, serializer: 'json' } }).cache).toEqual({
        client,
        keyPrefix: 'site',
        version: 3,
        backend: 'django_redis.cache.RedisCache',
        serializer: 'json',
        pickleProtocol: 4,
      });
    });

    it("cache.backend: Django's own RedisCache pickles with protocol 5 (pickle.HIGHEST_PROTOCOL) unless pickleProtocol says otherwise", () => {
      const backend = 'django.core.cache.backends.redis.RedisCache';
      expect(resolve({ secretKey: 'k', engine: 'cache', cache: { client, backend } }).cache).toEqual({
        client,
        keyPrefix: '',
        version: 1,
        backend,
        serializer: 'pickle',
        pickleProtocol: 5,
      });
      expect(resolve({ secretKey: 'k', engine: 'cached_db', cache: { client, backend, pickleProtocol: 4 } }).cache!.pickleProtocol).toBe(4);
      // django-redis's PICKLE_VERSION = 5 (what its pickle.DEFAULT_PROTOCOL is on Python 3.14).
      expect(resolve({ secretKey: 'k', engine: 'cache', cache: { client, pickleProtocol: 5 } }).cache).toMatchObject({ backend: 'django_redis.cache.RedisCache', pickleProtocol: 5 });
    });

    it.each([
      ['another Django cache backend', { backend: 'django.core.cache.backends.locmem.LocMemCache' }, /^SessionModule option "cache.backend" must be Django's CACHES BACKEND, one of 'django_redis.cache.RedisCache', 'django.core.cache.backends.redis.RedisCache'; got a string of 45 characters$/],
      ['a backend class instead of its dotted path', { backend: class RedisCache {} }, /"cache.backend" must be .*; got a function or class \(RedisCache\)$/],
      ["django-redis's JSONSerializer with Django's own RedisCache", { backend: 'django.core.cache.backends.redis.RedisCache', serializer: 'json' }, /"cache.serializer" 'json' is django-redis's JSONSerializer; Django's own RedisCache .* has no JSON serializer/],
      ['pickle protocol 3', { pickleProtocol: 3 }, /^SessionModule option "cache.pickleProtocol" must be 4 or 5 \(django-redis's PICKLE_VERSION\), got a whole number outside that range$/],
      ['pickle protocol -1 (HIGHEST_PROTOCOL in Python)', { pickleProtocol: -1 }, /"cache.pickleProtocol" must be 4 or 5/],
      ['pickle protocol as a string', { pickleProtocol: '5' }, /"cache.pickleProtocol" must be 4 or 5 .*, got a string of 1 characters$/],
    ])('cache: refuses %s, naming the option and the kind of value', (_what, extra, message) => {
      const given = { secretKey: 'k', engine: 'cache', cache: { client, ...extra } };
      expect(() => resolve(given)).toThrow(SessionConfigError);
      expect(() => resolve(given)).toThrow(message);
    });

    it("cache.backend: Django's own RedisCache is refused with djangoVersion '3.2' (it came in 4.0), accepted from '4.0'", () => {
      const backend = 'django.core.cache.backends.redis.RedisCache';
      const given = (djangoVersion: string) => ({ secretKey: 'k', engine: 'cache', djangoVersion, cache: { client, backend } });
      expect(() => resolve(given('3.2'))).toThrow(SessionConfigError);
      expect(() => resolve(given('3.2'))).toThrow(/"cache.backend" is Django's own RedisCache, which Django 3.2 does not have \(it came in 4.0\)/);
      expect(resolve(given('4.0')).cache!.backend).toBe(backend);
      expect(resolve({ ...given('3.2'), cache: { client } }).cache!.backend).toBe('django_redis.cache.RedisCache');
    });

    it('the message for a bad cache.backend names the kind of value, never the value', () => {
      expect(() => resolve({ secretKey: 'k', engine: 'cache', cache: { client, backend: 'redis://:hunter2@host' } })).toThrow(/^(?!.*hunter2).*"cache.backend".*got a string/s);
    });

    it.each([
      ['the cache engine without cache', { engine: 'cache' }, /"cache" is required by engine 'cache'/],
      ['the cached_db engine without cache', { engine: 'cached_db' }, /"cache" is required by engine 'cached_db'/],
      ['no client', { engine: 'cache', cache: {} }, /"cache.client" must be your connected Redis client/],
      ['a client URL instead of a client', { engine: 'cache', cache: { client: 'redis://:hunter2@host' } }, /"cache.client" must be/],
      ['an unknown cache option', { engine: 'cache', cache: { client, prefix: 'x' } }, /"cache.prefix" is not a known option/],
      ['a non-string keyPrefix', { engine: 'cache', cache: { client, keyPrefix: 1 } }, /"cache.keyPrefix" must be a string/],
      ['a fractional version', { engine: 'cache', cache: { client, version: 1.5 } }, /"cache.version" must be an integer/],
      ['an unknown serializer', { engine: 'cache', cache: { client, serializer: 'msgpack' } }, /"cache.serializer" must be 'pickle' or 'json'/],
      ['a cache timeout (the limit is backendTimeout, for every engine)', { engine: 'cache', cache: { client, timeout: 5 } }, /"cache.timeout" is not a known option/],
      ['a zero backendTimeout', { backendTimeout: 0 }, /"backendTimeout" must be a number of seconds from 0.01 to 600/],
      ['a backendTimeout in milliseconds by mistake', { backendTimeout: 3000 }, /"backendTimeout" must be a number of seconds from 0.01 to 600, got a whole number outside that range/],
      ['an empty filePath', { engine: 'file', filePath: '' }, /"filePath" must be a directory path/],
      ['a tiny maxDecodedBytes', { maxDecodedBytes: 10 }, /"maxDecodedBytes" must be a whole number of bytes, at least 1024/],
      ['a fractional maxDecodedBytes', { maxDecodedBytes: 4096.5 }, /"maxDecodedBytes" must be/],
    ])('refuses %s, naming the option', (_what, extra, message) => {
      expect(() => resolve({ secretKey: 'k', ...extra })).toThrow(SessionConfigError);
      expect(() => resolve({ secretKey: 'k', ...extra })).toThrow(message);
    });

    it.each([
      ['cookieName', 'sessionid-hunter2!"'],
      ['cookieDomain', 'hunter2 example.com'],
      ['cookiePath', 'hunter2'],
      ['cookieSameSite', 'hunter2'],
      ['cookieAge', 4_000_000_000],
      ['backendTimeout', 4242],
      ['maxDecodedBytes', 42.42],
      ['cookieSecure', 'hunter2'],
      ['engine', 'hunter2'],
      ['filePath', 4242],
    ])('the message for a bad %s names the option and the kind of value, never the value', (name, value) => {
      let message = '';
      try {
        resolve({ secretKey: 'k', [name]: value });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain(`"${name}"`);
      expect(message).not.toContain(String(value));
      expect(message).not.toContain('hunter2');
      expect(message).toMatch(/got (a|an) /);
    });

    it('a refused client URL does not appear in the message (it may hold a password)', () => {
      expect(() => resolve({ secretKey: 'k', engine: 'cache', cache: { client: 'redis://:hunter2@host' } })).toThrow(/^(?!.*hunter2)/s);
    });
  });
});
