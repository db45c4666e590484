import { inspect, type InspectOptions } from 'node:util';
import { ENGINE_NAMES, isEngineName, type EngineName } from './backends/engine-names.js';
import { DEFAULT_MAX_DECODED_BYTES } from './codec/python-json.js';
import { DEFAULT_DJANGO_VERSION, DJANGO_VERSIONS, describeVersion, djangoVersionTraits, isDjangoVersion } from './django-versions.js';
import { SessionBackend } from './backends/session-backend.js';
import { DEFAULT_BACKEND_TIMEOUT_SECONDS } from './backends/backend-timeout.js';
import { DEFAULT_SESSION_SALT } from './codec/session-codec.js';
import type { ResolvedSessionOptions, SessionModuleOptions } from './session-options.interface.js';
import { describeOption, failOption } from './option-checks.js';
import { CACHE_OPTION_DEFAULTS, resolveCacheOptions } from './backends/cache/cache-options.js';
import { resolveFilePath } from './backends/file/file-options.js';
import { resolveDataSourceName } from './backends/typeorm/typeorm-options.js';

/** Django's defaults (`django/conf/global_settings.py`), written as Django writes them. */
export const SESSION_DEFAULTS = {
  secretKeyFallbacks: [] as readonly string[],
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
  salt: DEFAULT_SESSION_SALT,
  djangoVersion: DEFAULT_DJANGO_VERSION,
  maxDecodedBytes: DEFAULT_MAX_DECODED_BYTES,
  engine: 'db',
  // pickleProtocol: 5 with Django's own RedisCache (its pickle.HIGHEST_PROTOCOL).
  cache: CACHE_OPTION_DEFAULTS,
  backendTimeout: DEFAULT_BACKEND_TIMEOUT_SECONDS,
} as const;

/** Options renamed, by their old name: still read, with a warning at start-up. */
export const DEPRECATED_OPTIONS: Readonly<Record<string, string>> = Object.freeze({ storeTimeout: 'backendTimeout' });

/** The warnings for the deprecated option names `input` uses. */
export function deprecatedOptionWarnings(input: SessionModuleOptions | undefined): string[] {
  if (input === null || typeof input !== 'object') return [];
  return Object.entries(DEPRECATED_OPTIONS)
    .filter(([old]) => (input as unknown as Record<string, unknown>)[old] !== undefined)
    .map(([old, current]) => `SessionModule option "${old}" is deprecated: it is now called "${current}"`);
}

/** Every option `SessionModule.forRoot()` takes (the README's options table lists each: a test checks). */
export const SESSION_OPTION_NAMES: readonly string[] = Object.freeze([...Object.keys(SESSION_DEFAULTS), 'secretKey', 'dataSource', 'filePath', 'legacyDecode']);

/** The engines that store sessions in the cache. */
const CACHE_ENGINES: ReadonlySet<unknown> = new Set(['cache', 'cached_db']);

/**
 * The furthest an expiry may lie, either way: 100 years, in seconds. Django has no such bound, but
 * past year 9999 its dates overflow, and a session's expiry that far off is a mistake anyway.
 */
export const MAX_EXPIRY_SECONDS = 100 * 365 * 24 * 60 * 60;

// Defined with the other errors (engines throw it too, and must not import this file: it imports
// every engine); exported here as well, where it always was.
export { SessionConfigError } from './session.errors.js';

// RFC 6265 token characters: what a cookie name may contain.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;


function checkBoolean(options: Record<string, unknown>, name: string): void {
  if (options[name] !== undefined && typeof options[name] !== 'boolean') {
    failOption(name, `must be a boolean, got ${describeOption(options[name])}`);
  }
}

/**
 * Applies the defaults, validates every option and returns a new frozen object.
 * Runs once at boot, so a bad setting stops the app before it serves a request.
 */
export function resolveSessionOptions(input: SessionModuleOptions | undefined): ResolvedSessionOptions {
  if (input === null || typeof input !== 'object') failOption('options', 'must be an object with at least { secretKey }');
  const raw = input as unknown as Record<string, unknown>;
  const known = new Set([...SESSION_OPTION_NAMES, ...Object.keys(DEPRECATED_OPTIONS)]);
  for (const name of Object.keys(raw)) {
    if (!known.has(name)) failOption(name, `is not a known option (known: ${[...known].sort().join(', ')})`);
  }

  if (typeof input.secretKey !== 'string' || input.secretKey.length === 0) {
    failOption('secretKey', 'is required: a non-empty string (Django\'s SECRET_KEY)');
  }
  const fallbacks = input.secretKeyFallbacks ?? SESSION_DEFAULTS.secretKeyFallbacks;
  if (!Array.isArray(fallbacks) || fallbacks.some((k) => typeof k !== 'string' || k.length === 0)) {
    failOption('secretKeyFallbacks', 'must be an array of non-empty strings');
  }

  const cookieName = input.cookieName ?? SESSION_DEFAULTS.cookieName;
  if (typeof cookieName !== 'string' || !COOKIE_NAME.test(cookieName)) {
    failOption('cookieName', `must be a cookie token (letters, digits, !#$%&'*+-.^_\`|~), got ${describeOption(cookieName)}`);
  }

  const cookieAge = input.cookieAge ?? SESSION_DEFAULTS.cookieAge;
  if (typeof cookieAge !== 'number' || !Number.isInteger(cookieAge) || cookieAge < 0 || cookieAge > MAX_EXPIRY_SECONDS) {
    failOption('cookieAge', `must be a whole number of seconds from 0 to ${MAX_EXPIRY_SECONDS} (100 years), got ${describeOption(cookieAge)}`);
  }

  const cookieDomain = input.cookieDomain ?? SESSION_DEFAULTS.cookieDomain;
  if (cookieDomain !== null && (typeof cookieDomain !== 'string' || !/^\.?[A-Za-z0-9.-]+$/.test(cookieDomain))) {
    failOption('cookieDomain', `must be null or a domain such as ".example.com", got ${describeOption(cookieDomain)}`);
  }

  const cookiePath = input.cookiePath ?? SESSION_DEFAULTS.cookiePath;
  if (typeof cookiePath !== 'string' || !cookiePath.startsWith('/') || /[;\x00-\x1f\x7f]/.test(cookiePath)) {
    failOption('cookiePath', `must start with "/" and contain no ";" or control characters, got ${describeOption(cookiePath)}`);
  }

  for (const name of ['cookieSecure', 'cookieHttpOnly', 'saveEveryRequest', 'expireAtBrowserClose', 'legacyDecode', 'privateCacheControl', 'requestSession']) {
    checkBoolean(raw, name);
  }
  const cookieSecure = input.cookieSecure ?? SESSION_DEFAULTS.cookieSecure;

  const cookieSameSite = input.cookieSameSite ?? SESSION_DEFAULTS.cookieSameSite;
  if (!['Lax', 'Strict', 'None', false].includes(cookieSameSite as string | false)) {
    failOption('cookieSameSite', `must be 'Lax', 'Strict', 'None' or false, got ${describeOption(cookieSameSite)}`);
  }
  if (cookieSameSite === 'None' && !cookieSecure) {
    // Browsers reject SameSite=None cookies without Secure; the session would silently never stick.
    failOption('cookieSameSite', "is 'None', which browsers accept only with cookieSecure: true");
  }
  if (cookieName.startsWith('__Secure-') && !cookieSecure) {
    failOption('cookieName', 'starts with "__Secure-", which browsers accept only with cookieSecure: true');
  }
  if (cookieName.startsWith('__Host-') && (!cookieSecure || cookieDomain !== null || cookiePath !== '/')) {
    failOption('cookieName', 'starts with "__Host-", which needs cookieSecure: true, cookieDomain: null and cookiePath: "/"');
  }

  const touchAfter = input.touchAfter ?? SESSION_DEFAULTS.touchAfter;
  if (touchAfter !== null && (typeof touchAfter !== 'number' || !Number.isInteger(touchAfter) || touchAfter < 0 || touchAfter >= cookieAge)) {
    failOption('touchAfter', `must be null (off) or a whole number of seconds from 0 to less than cookieAge (${cookieAge}), got ${describeOption(touchAfter)}`);
  }

  const maxDecodedBytes = input.maxDecodedBytes ?? SESSION_DEFAULTS.maxDecodedBytes;
  if (!Number.isSafeInteger(maxDecodedBytes) || maxDecodedBytes < 1024) {
    failOption('maxDecodedBytes', `must be a whole number of bytes, at least 1024, got ${describeOption(maxDecodedBytes)}`);
  }

  if (input.backendTimeout !== undefined && input.storeTimeout !== undefined) {
    failOption('storeTimeout', 'is the old name of "backendTimeout": give only backendTimeout');
  }
  const backendTimeout = input.backendTimeout ?? input.storeTimeout ?? SESSION_DEFAULTS.backendTimeout;
  if (typeof backendTimeout !== 'number' || !Number.isFinite(backendTimeout) || backendTimeout < 0.01 || backendTimeout > 600) {
    failOption(input.backendTimeout === undefined && input.storeTimeout !== undefined ? 'storeTimeout' : 'backendTimeout', `must be a number of seconds from 0.01 to 600, got ${describeOption(backendTimeout)}`);
  }

  const djangoVersion = input.djangoVersion ?? SESSION_DEFAULTS.djangoVersion;
  if (!isDjangoVersion(djangoVersion)) {
    failOption('djangoVersion', `must name the Django release the app shares sessions with, one of ${DJANGO_VERSIONS.map((v) => `'${v}'`).join(', ')}; got ${describeVersion(djangoVersion)}`);
  }
  const traits = djangoVersionTraits(djangoVersion);

  const salt = input.salt ?? SESSION_DEFAULTS.salt;
  if (typeof salt !== 'string' || salt.length === 0) failOption('salt', 'must be a non-empty string');

  const dataSource = resolveDataSourceName(input.dataSource);

  const engine = input.engine ?? SESSION_DEFAULTS.engine;
  const isBackendClass = typeof engine === 'function' && engine.prototype instanceof SessionBackend;
  if (!isEngineName(engine) && !isBackendClass && !(engine instanceof SessionBackend)) {
    failOption('engine', `must be one of ${ENGINE_NAMES.map((n) => `'${n}'`).join(', ')}, or a SessionBackend subclass or instance; got ${describeOption(engine)}`);
  }
  const cache = resolveCacheOptions(input.cache, CACHE_ENGINES.has(engine) ? (engine as EngineName) : null);
  if (cache?.backend === 'django.core.cache.backends.redis.RedisCache' && !traits.hasRedisCache) {
    failOption('cache.backend', `is Django's own RedisCache, which Django ${djangoVersion} does not have (it came in 4.0): use django-redis ('django_redis.cache.RedisCache') or set djangoVersion`);
  }

  const filePath = resolveFilePath(input.filePath);

  return redacted({
    secretKey: input.secretKey,
    secretKeyFallbacks: Object.freeze([...fallbacks]),
    cookieName,
    cookieAge,
    cookieDomain,
    cookiePath,
    cookieSecure,
    cookieHttpOnly: input.cookieHttpOnly ?? SESSION_DEFAULTS.cookieHttpOnly,
    cookieSameSite,
    saveEveryRequest: input.saveEveryRequest ?? SESSION_DEFAULTS.saveEveryRequest,
    expireAtBrowserClose: input.expireAtBrowserClose ?? SESSION_DEFAULTS.expireAtBrowserClose,
    touchAfter,
    privateCacheControl: input.privateCacheControl ?? SESSION_DEFAULTS.privateCacheControl,
    requestSession: input.requestSession ?? SESSION_DEFAULTS.requestSession,
    salt,
    djangoVersion,
    legacyDecode: input.legacyDecode ?? traits.legacyDecode,
    maxDecodedBytes,
    backendTimeout,
    dataSource,
    engine,
    cache,
    filePath,
  });
}

/**
 * Django's `check --deploy` test for a weak key (security.W009 for `SECRET_KEY`, W025 for each
 * fallback): fewer than 50 characters, fewer than 5 distinct ones, or the prefix `startproject`
 * gives the key it generates for development.
 */
export function isWeakSecretKey(key: string): boolean {
  return key.length < 50 || new Set(key).size < 5 || key.startsWith('django-insecure-');
}

/** A `cookieAge` past this (5 years) is more likely milliseconds than a session's lifetime. */
const SUSPICIOUS_COOKIE_AGE = 5 * 365 * 24 * 60 * 60;

/** How loud an option warning is: `error` where the setting is exploitable as it stands. */
export interface OptionWarning {
  readonly level: 'warn' | 'error';
  readonly message: string;
}

/**
 * What the resolved options deserve a word about at boot, as Django's `check --deploy` gives:
 * a weak secret key (louder on `signed_cookies`, where every visitor holds data signed with it and
 * can test guesses offline), and values that are almost surely a unit mistake. Never the values.
 */
export function optionWarnings(options: ResolvedSessionOptions): OptionWarning[] {
  const warnings: OptionWarning[] = [];
  const weak = (which: string) =>
    `${which} has fewer than 50 characters, fewer than 5 distinct characters, or starts with "django-insecure-" ` +
    '(the development key Django generates); generate a long random value (Django\'s get_random_secret_key()), ' +
    'or the sessions it signs can be forged (security.W009)';
  if (isWeakSecretKey(options.secretKey)) {
    warnings.push(
      options.engine === 'signed_cookies'
        ? {
            level: 'error',
            message: `${weak('secretKey')}. On the signed_cookies engine every visitor holds a session signed with it and can guess the key offline, then sign any session, a login included.`,
          }
        : { level: 'warn', message: weak('secretKey') },
    );
  }
  options.secretKeyFallbacks.forEach((key, i) => {
    if (isWeakSecretKey(key)) warnings.push({ level: 'warn', message: weak(`secretKeyFallbacks[${i}]`).replace('W009', 'W025') });
  });
  if (options.cookieAge > SUSPICIOUS_COOKIE_AGE) {
    const years = Math.round(options.cookieAge / (365 * 24 * 60 * 60));
    warnings.push({
      level: 'warn',
      message: `cookieAge is about ${years} years: it is in seconds, as Django's SESSION_COOKIE_AGE (milliseconds given by mistake?)`,
    });
  }
  return warnings;
}

/** What printing the options shows instead of a secret, or of a client that may hold a password. */
export const REDACTED = '[secret]';

/**
 * Freezes the resolved options so that printing them never shows a secret: `util.inspect`
 * (`console.log`), `JSON.stringify` and Nest's `Logger` see `secretKey` and each fallback as
 * `[secret]`, and the Redis client by its class name. The values stay readable as properties;
 * the two hooks are non-enumerable, so the object compares and spreads as the plain options.
 */
function redacted(options: Omit<ResolvedSessionOptions, typeof inspect.custom | 'toJSON'>): ResolvedSessionOptions {
  const printable = () => ({
    ...options,
    secretKey: REDACTED,
    secretKeyFallbacks: options.secretKeyFallbacks.map(() => REDACTED),
    cache: options.cache && { ...options.cache, client: `[${(options.cache.client as object).constructor?.name ?? 'Redis'} client]` },
  });
  Object.defineProperties(options, {
    toJSON: { value: printable },
    [inspect.custom]: { value: (_depth: number, inspectOptions: InspectOptions) => inspect(printable(), inspectOptions) },
  });
  return Object.freeze(options) as ResolvedSessionOptions;
}

/** `cache`: required (with a client) by the cache engines, checked whenever given. */

/**
 * What an option's value is, for a message, never the value itself: a configuration error is
 * printed at boot, logged and often shipped to an error tracker, and the value may be a secret
 * put in the wrong option (a key as `cookieName`, a Redis URL with its password as the client).
 * The kind and, for a string, its length are enough to see what went wrong.
 */
