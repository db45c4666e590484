/**
 * Starts and stops the two servers of an interop suite — Django (test/interop/django_site) and
 * the compiled Nest app — as child processes on free ports, and runs one-shot `manage.py` commands.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './build.js';

export const DJANGO_SITE = join(REPO_ROOT, 'test', 'interop', 'django_site');

export interface Server {
  readonly name: string;
  readonly url: string;
  /** Everything the process wrote to stderr so far (shown when a test fails). */
  readonly logs: () => string;
  stop(): Promise<void>;
}

/** Django's `SESSION_ENGINE` (`django.contrib.sessions.backends.<name>`) and the Nest `engine` option of the same name. */
export type SessionEngineName = 'db' | 'cache' | 'cached_db' | 'signed_cookies' | 'file';

/**
 * Where a non-db engine keeps sessions, the same on both sides: Redis (django-redis's CACHES
 * entry / the `cache` option) for cache and cached_db, a directory for file.
 */
export interface SessionEngineEnv {
  /** Default 'db'. */
  engine?: SessionEngineName;
  /** cache, cached_db: the Redis server. */
  redisUrl?: string;
  /** cache, cached_db: Django's KEY_PREFIX / the `cache.keyPrefix` option. */
  cachePrefix?: string;
  /** cache, cached_db: django-redis's SERIALIZER (pickle: its PickleSerializer, json: its JSONSerializer). */
  cacheSerializer?: 'pickle' | 'json';
  /** cache, cached_db: Django's CACHES BACKEND / the `cache.backend` option (default django-redis). */
  cacheBackend?: 'django_redis.cache.RedisCache' | 'django.core.cache.backends.redis.RedisCache';
  /** file: SESSION_FILE_PATH / the `filePath` option. */
  filePath?: string;
}

/** The INTEROP_* variables both settings.py and nest/server.ts read for a SessionEngineEnv. */
function engineVariables(env: SessionEngineEnv): Record<string, string> {
  const vars: Record<string, string> = {};
  if (env.engine) vars.INTEROP_SESSION_ENGINE = env.engine;
  if (env.redisUrl) vars.INTEROP_REDIS_URL = env.redisUrl;
  if (env.cachePrefix !== undefined) vars.INTEROP_CACHE_PREFIX = env.cachePrefix;
  if (env.cacheSerializer) vars.INTEROP_CACHE_SERIALIZER = env.cacheSerializer;
  if (env.cacheBackend) vars.INTEROP_CACHE_BACKEND = env.cacheBackend;
  if (env.filePath) vars.INTEROP_FILE_PATH = env.filePath;
  return vars;
}

export interface DjangoEnv extends SessionEngineEnv {
  python: string;
  dbUrl: string;
  secretKey: string;
  timeZone?: string;
  /** Django 3.2's DEFAULT_HASHING_ALGORITHM: 'sha1' makes it write the pre-3.1 format. */
  hashing?: 'sha1' | 'sha256';
  /** More INTEROP_* settings a suite's views read (e.g. INTEROP_CSRF_USE_SESSIONS). */
  extra?: Record<string, string>;
}

function djangoEnvironment(env: DjangoEnv): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DJANGO_SETTINGS_MODULE: 'interop_site.settings',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONWARNINGS: 'ignore',
    INTEROP_DB_URL: env.dbUrl,
    INTEROP_SECRET_KEY: env.secretKey,
    INTEROP_TIME_ZONE: env.timeZone ?? 'America/Chicago',
    ...(env.hashing ? { INTEROP_HASHING: env.hashing } : {}),
    ...engineVariables(env),
    ...env.extra,
  };
}

/** Runs `manage.py <args>` and returns its stdout; rejects with stderr on a non-zero exit. */
export function manage(env: DjangoEnv, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      env.python,
      ['manage.py', ...args],
      { cwd: DJANGO_SITE, env: djangoEnvironment(env), timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`manage.py ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

/**
 * Starts a child that prints {"port": N} on a line of its own once it listens (what it logs
 * before, such as Nest's boot warnings, may come first); it exits when its stdin closes.
 */
function startServer(name: string, command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Server> {
  const child: ChildProcess = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise<Server>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${name} did not start within 30 s\n${stderr}`));
    }, 30_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n').slice(0, -1).find((l) => l.startsWith('{"port"'));
      if (line !== undefined) {
        clearTimeout(timer);
        const { port } = JSON.parse(line) as { port: number };
        resolve({ name, url: `http://127.0.0.1:${port}`, logs: () => stderr, stop });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening\n${stderr}`));
    });
  });
}

export function startDjango(env: DjangoEnv): Promise<Server> {
  return startServer('Django', env.python, ['serve.py'], { cwd: DJANGO_SITE, env: djangoEnvironment(env) });
}

export interface NestEnv extends SessionEngineEnv {
  serverJs: string;
  dbUrl: string;
  secretKey: string;
  secretKeyFallbacks?: string[];
  /** The Nest process's time zone (TZ). */
  tz: string;
  /** cache, cached_db: the Redis client library the app connects (default node-redis). */
  redisClient?: 'node-redis' | 'ioredis';
  /** The `djangoVersion` option: the release of the Django under test (its `DjangoVersion.release`). */
  djangoVersion?: string;
}

export function startNest(env: NestEnv): Promise<Server> {
  return startServer('Nest', process.execPath, [env.serverJs], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      TZ: env.tz,
      INTEROP_DB_URL: env.dbUrl,
      INTEROP_SECRET_KEY: env.secretKey,
      INTEROP_SECRET_FALLBACKS: JSON.stringify(env.secretKeyFallbacks ?? []),
      ...engineVariables(env),
      ...(env.redisClient ? { INTEROP_REDIS_CLIENT: env.redisClient } : {}),
      ...(env.djangoVersion ? { INTEROP_DJANGO_VERSION: env.djangoVersion } : {}),
    },
  });
}
