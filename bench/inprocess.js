#!/usr/bin/env node
// In-process A/B of the session layer: CPU time per operation, without sockets or a load generator,
// so it stays readable on a busy machine (bench/results/experiments.md, "Issue 11").
//
//   node bench/inprocess.js --lib dist/src/index.js --lib /tmp/old/dist/src/index.js \
//     --what request --route read --driver better-sqlite3 [--engine signed_cookies] [--rounds 3]
//
//   --what request   a whole Nest request through Fastify's inject() (no sockets); --kind ours |
//                    bare | noop (bare with a no-op interceptor: what Nest's interceptor pipeline costs)
//   --what load|save TypeOrmSessionBackend.load()/save() called directly
//   --driver sqlite3 | better-sqlite3 | postgres (BENCH_PG_URL or TEST_POSTGRES_URL; uses database
//                    djs_inprocess, created if missing)
//   --engine         ours' engine for --what request (db, cache, cached_db, signed_cookies, file)
//   --lib 'PATH#JSON'  a build with extra SessionModule options for --what request, e.g. an A/B of
//                    the touchAfter option: --lib 'dist/src/index.js' --lib 'dist/src/index.js#{"touchAfter":60}'
// Each --lib (a build of the library) is run alternately, --rounds times, in a fresh process each;
// operations run 10 at a time (the bench's 10 clients). Prints CPU µs per operation (process CPU:
// all threads, so node-sqlite3's pool too).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensurePostgresDatabase } from './lib/postgres.js';
import { median } from './lib/stats.js';

const { values: opt } = parseArgs({
  options: {
    lib: { type: 'string', multiple: true, default: [] },
    what: { type: 'string', default: 'request' },
    kind: { type: 'string', default: 'ours' },
    route: { type: 'string', default: 'read' },
    driver: { type: 'string', default: 'better-sqlite3' },
    engine: { type: 'string', default: 'db' },
    n: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    child: { type: 'boolean', default: false },
  },
});

if (opt.child) await child();
else parent();

function parent() {
  const libs = opt.lib.length > 0 ? opt.lib : ['dist/src/index.js'];
  const results = new Map(libs.map((lib) => [lib, []]));
  for (let round = 0; round < Number(opt.rounds); round++) {
    for (const lib of libs) {
      const [libPath, extraOptions] = splitLib(lib);
      const args = [import.meta.filename, '--child', '--lib', path.resolve(libPath) + (extraOptions === undefined ? '' : `#${extraOptions}`), '--what', opt.what, '--kind', opt.kind, '--route', opt.route, '--driver', opt.driver, '--engine', opt.engine, ...(opt.n ? ['--n', opt.n] : [])];
      const out = spawnSync(process.execPath, args, { encoding: 'utf8' });
      if (out.status !== 0) {
        console.error(out.stderr || out.stdout);
        process.exit(1);
      }
      results.get(lib).push(Number(out.stdout.trim().split('\n').pop()));
    }
  }
  const label = `${opt.what}${opt.what === 'request' ? ` ${opt.kind} /${opt.route} engine=${opt.engine}` : ''} driver=${opt.driver}`;
  console.log(label);
  for (const [lib, us] of results) console.log(`  ${median(us).toFixed(1).padStart(7)} µs CPU/op (runs: ${us.map((u) => u.toFixed(1)).join(', ')})  ${lib}`);
}

/** `PATH#JSON` → [PATH, JSON]; JSON undefined without a '#'. */
function splitLib(lib) {
  const at = lib.indexOf('#');
  return at < 0 ? [lib, undefined] : [lib.slice(0, at), lib.slice(at + 1)];
}

async function child() {
  await import('reflect-metadata');
  // The root entry, with the subpath entries (exports/*.js beside it) merged in: a build from
  // before those has every name in its root.
  const libUrl = pathToFileURL(splitLib(opt.lib[0])[0]).href;
  const L = { ...(await import(libUrl)) };
  for (const name of ['sqlite', 'engines']) {
    const url = new URL(`exports/${name}.js`, libUrl);
    if (existsSync(fileURLToPath(url))) Object.assign(L, await import(url.href));
  }
  const { DataSource } = await import('typeorm');
  const dir = mkdtempSync(path.join(tmpdir(), 'djs-inprocess-'));
  const database = opt.driver === 'postgres' ? await postgresUrl() : path.join(dir, 'bench.sqlite3');
  const connection =
    opt.driver === 'postgres'
      ? { type: 'postgres', url: database }
      : L.sqliteDataSourceOptions
        ? L.sqliteDataSourceOptions({ database, driver: opt.driver })
        : { type: opt.driver === 'sqlite3' ? 'sqlite' : 'better-sqlite3', database, enableWAL: true };
  const dataSourceOptions = { ...connection, entities: [L.SessionEntity], migrations: [L.CreateDjangoSession1700000000000], migrationsRun: true };
  const n = Number(opt.n ?? (opt.what === 'request' ? 20000 : 10000));
  let cpu;
  try {
    cpu = opt.what === 'request' ? await requests(L, dataSourceOptions, n) : await storeOps(L, DataSource, dataSourceOptions, n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(cpu);
  process.exit(0);
}

async function postgresUrl() {
  const base = process.env.BENCH_PG_URL ?? process.env.TEST_POSTGRES_URL;
  if (!base) throw new Error('--driver postgres needs BENCH_PG_URL or TEST_POSTGRES_URL');
  return (await ensurePostgresDatabase(base, 'djs_inprocess')).url;
}

/** CPU µs per call of `op`, called 10 at a time, after a warm-up. */
async function measure(n, op) {
  const batch = async (count) => {
    for (let i = 0; i < count; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => op(j, i)));
  };
  await batch(Math.min(5000, n));
  const start = process.cpuUsage();
  await batch(n);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

async function storeOps(L, DataSource, dataSourceOptions, n) {
  const ds = await new DataSource(dataSourceOptions).initialize();
  const backend = new L.TypeOrmSessionBackend(ds, new L.SessionCodec({ secretKey: 'bench-secret' }));
  await backend.onModuleInit?.();
  const expiry = () => ({ date: new Date(Date.now() + 86_400_000), age: 86_400 });
  const keys = [];
  for (let i = 0; i < 10; i++) keys.push(await backend.create(new Map([['counter', i]]), expiry()));
  const cpu = await measure(n, (j, i) => (opt.what === 'load' ? backend.load(keys[j]) : backend.save(keys[j], new Map([['counter', i]]), expiry(), false)));
  if (opt.driver === 'postgres') await ds.query('DELETE FROM django_session');
  await backend.onModuleDestroy?.();
  await ds.destroy();
  return cpu;
}

async function requests(L, dataSourceOptions, n) {
  const { Controller, Get, HttpCode, Injectable, Module, Post, UseInterceptors } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { TypeOrmModule } = await import('@nestjs/typeorm');
  const { FastifyAdapter } = await import('@nestjs/platform-fastify');
  const decorate = (cls, name, decorators) => {
    const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, name);
    Object.defineProperty(cls.prototype, name, Reflect.decorate(decorators, cls.prototype, name, descriptor) ?? descriptor);
  };
  const param = (decorator, index) => (target, key) => decorator(target, key, index);
  let counter = 0;
  class Routes {
    read(session) {
      return { counter: session ? session.get('counter', 0) : counter };
    }
    write(session) {
      if (!session) return { counter: ++counter };
      const next = session.get('counter', 0) + 1;
      session.set('counter', next);
      return { counter: next };
    }
  }
  class Noop {
    intercept(_context, next) {
      return next.handle();
    }
  }
  Reflect.decorate([Injectable()], Noop);
  const extra = opt.kind === 'ours' ? [param(L.Session(), 0)] : opt.kind === 'noop' ? [UseInterceptors(Noop)] : [];
  decorate(Routes, 'read', [Get('read'), ...extra]);
  decorate(Routes, 'write', [Post('write'), HttpCode(200), ...extra]);
  Reflect.decorate([Controller()], Routes);
  let redis;
  const extraOptions = splitLib(opt.lib[0])[1];
  const sessionOptions = { secretKey: 'bench-secret', ...(opt.engine === 'db' ? {} : { engine: opt.engine }), ...(extraOptions === undefined ? {} : JSON.parse(extraOptions)) };
  if (opt.engine === 'cache' || opt.engine === 'cached_db') {
    const { createClient } = await import('redis');
    redis = await createClient({ url: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', disableOfflineQueue: true }).connect();
    sessionOptions.cache = { client: redis, keyPrefix: `djs-inprocess-${process.pid}` };
  }
  if (opt.engine === 'file') sessionOptions.filePath = mkdtempSync(path.join(tmpdir(), 'djs-inprocess-files-'));
  class AppModule {}
  Reflect.decorate([Module({ imports: [TypeOrmModule.forRoot(dataSourceOptions), ...(opt.kind === 'ours' ? [L.SessionModule.forRoot(sessionOptions)] : [])], controllers: [Routes] })], AppModule);
  const app = await NestFactory.create(AppModule, new FastifyAdapter(), { logger: ['error'] });
  await app.init();
  const fastify = app.getHttpAdapter().getInstance();
  await fastify.ready();
  const cookies = [];
  for (let i = 0; i < 10; i++) {
    const res = await fastify.inject({ method: 'POST', url: '/write' });
    cookies.push(String([res.headers['set-cookie']].flat()[0] ?? '').split(';')[0]);
  }
  const method = opt.route === 'write' ? 'POST' : 'GET';
  const cpu = await measure(n, async (j) => {
    const res = await fastify.inject({ method, url: `/${opt.route}`, headers: cookies[j] ? { cookie: cookies[j] } : {} });
    if (res.statusCode !== 200) throw new Error(`${method} /${opt.route} answered ${res.statusCode}: ${res.body}`);
  });
  await app.close();
  if (redis) {
    for await (const keys of redis.scanIterator({ MATCH: `djs-inprocess-${process.pid}:*` })) {
      const batch = [keys].flat();
      if (batch.length > 0) await redis.del(batch);
    }
    await redis.close();
  }
  if (sessionOptions.filePath) rmSync(sessionOptions.filePath, { recursive: true, force: true });
  if (dataSourceOptions.type === 'postgres') {
    const { DataSource } = await import('typeorm');
    const ds = await new DataSource({ type: 'postgres', url: dataSourceOptions.url }).initialize();
    await ds.query('DELETE FROM django_session').catch(() => undefined);
    await ds.destroy();
  }
  return cpu;
}
