/**
 * A session store that cannot be reached in time — a table locked by another process, a database
 * gone — answers 503 with `Retry-After` within `backendTimeout`: never a hang, never a 500 with the
 * driver's words. Measured against real locks on sqlite, PostgreSQL and MariaDB.
 */
import type { INestApplication } from '@nestjs/common';
import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import mysql from 'mysql2/promise';
import { DataSource } from 'typeorm';
import sqlite3 from 'sqlite3';
import { createDatabase, type Database, type Engine } from '../interop/support/databases.js';
import { describeWith, type Service } from '../support/env.js';
import { Client } from '../support/app.js';
import { startVisitApp } from '../support/session-app.js';

const TIMEOUT_SECONDS = 0.5;

const startOn = (typeorm: TypeOrmModuleOptions) => startVisitApp({ secretKey: 'store-timeout-secret', backendTimeout: TIMEOUT_SECONDS }, typeorm);

interface Lock {
  /** Takes a lock that blocks the session table (reads and writes) until released. */
  take(): Promise<void>;
  release(): Promise<void>;
  close(): Promise<void>;
}

interface Target {
  title: string;
  engine: Engine;
  services: Service[];
  typeorm(db: Database): TypeOrmModuleOptions;
  lock(db: Database): Promise<Lock>;
}

const TARGETS: Target[] = [
  {
    title: 'sqlite (a foreign BEGIN EXCLUSIVE, busyTimeout 5 s)',
    engine: 'sqlite',
    services: [],
    typeorm: (db) => ({ type: 'sqlite', database: new URL(db.url).pathname, busyTimeout: 5000 }),
    async lock(db) {
      const conn = new sqlite3.Database(new URL(db.url).pathname);
      const run = (sql: string) => new Promise<void>((resolve, reject) => conn.run(sql, (e) => (e ? reject(e) : resolve())));
      return { take: () => run('BEGIN EXCLUSIVE'), release: () => run('COMMIT'), close: () => new Promise((r) => conn.close(() => r())) };
    },
  },
  {
    title: 'PostgreSQL (a foreign LOCK TABLE ... ACCESS EXCLUSIVE)',
    engine: 'postgres',
    services: ['postgres'],
    typeorm: (db) => ({ type: 'postgres', url: db.url }),
    async lock(db) {
      const dataSource = await new DataSource({ type: 'postgres', url: db.url }).initialize();
      const conn = dataSource.createQueryRunner();
      return {
        take: async () => {
          await conn.startTransaction();
          await conn.query('LOCK TABLE django_session IN ACCESS EXCLUSIVE MODE');
        },
        release: async () => {
          if (conn.isTransactionActive) await conn.commitTransaction();
        },
        close: async () => {
          await conn.release();
          await dataSource.destroy();
        },
      };
    },
  },
  {
    title: 'MariaDB (a foreign LOCK TABLES ... WRITE)',
    engine: 'mariadb',
    services: ['mysql'],
    typeorm: (db) => ({ type: 'mariadb', url: db.url }),
    async lock(db) {
      const conn = await mysql.createConnection(db.url);
      return {
        take: async () => {
          await conn.query('LOCK TABLES django_session WRITE');
        },
        release: async () => {
          await conn.query('UNLOCK TABLES');
        },
        close: () => conn.end(),
      };
    },
  },
];

for (const target of TARGETS) {
  describeWith(target.services, `backendTimeout on ${target.title}`, (env) => {
    let db: Database;
    let app: INestApplication;
    let url: string;
    let lock: Lock;

    beforeAll(async () => {
      const server = target.services[0];
      db = await createDatabase(target.engine, server ? env[server] : undefined, 'timeout', 'x');
      ({ app, url } = await startOn(target.typeorm(db)));
      lock = await target.lock(db);
    }, 60_000);

    afterAll(async () => {
      await lock?.release().catch(() => undefined);
      await lock?.close();
      await app?.close();
      await db?.drop();
    }, 60_000);

    it('while the table is locked, a write and a read answer 503 with Retry-After within the limit, without the driver\'s words; after, all works again', async () => {
      const client = new Client(url);
      const first = await client.post('/visit', { write: true });
      expect(first.status).toBe(200);
      expect(client.sessionKey).toBeDefined();

      await lock.take();
      try {
        for (const body of [{ write: true }, {}]) {
          const started = Date.now();
          const reply = await client.post('/visit', body);
          const took = Date.now() - started;
          expect(reply.status).toBe(503);
          expect(reply.headers.get('retry-after')).toMatch(/^\d+$/);
          expect(reply.json()).toEqual({ statusCode: 503, message: 'The session store is unavailable. Try again shortly.', error: 'Service Unavailable' });
          // The limit, plus the request's own time: well under the 5 s the driver would wait.
          expect(took).toBeLessThan(TIMEOUT_SECONDS * 1000 + 1500);
        }
      } finally {
        await lock.release();
      }
      // Statements that waited on the lock have ended or end now; the app serves sessions again.
      let reply = await client.post('/visit', { write: true });
      for (let i = 0; i < 20 && reply.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 250));
        reply = await client.post('/visit', { write: true });
      }
      expect(reply.status).toBe(200);
      expect(reply.json().visits).toBeGreaterThanOrEqual(1);
    }, 30_000);
  });
}

// node-sqlite3 only: better-sqlite3 is synchronous, so a write waiting on a lock holds the whole
// event loop for its `timeout` (keep that small), whatever connection the reads use.
describe.each(['sqlite'] as const)('%s in WAL mode: reads do not queue behind a write waiting on a lock', (type) => {
  let db: Database;
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    db = await createDatabase('sqlite', undefined, 'walread', type.replace(/\W/g, ''));
    const file = new URL(db.url).pathname;
    ({ app, url } = await startVisitApp(
      { secretKey: 'store-timeout-secret', backendTimeout: 1.5 },
      { type, database: file, enableWAL: true, busyTimeout: 5000 },
    ));
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('while a foreign writer holds the lock, a session write answers 503 after backendTimeout, and a read sent meanwhile answers 200 at once', async () => {
    const client = new Client(url);
    expect((await client.post('/visit', { write: true })).status).toBe(200);
    const conn = new sqlite3.Database(new URL(db.url).pathname);
    const run = (sql: string) => new Promise<void>((resolve, reject) => conn.run(sql, (e) => (e ? reject(e) : resolve())));
    await run('BEGIN IMMEDIATE'); // in WAL mode: blocks writers, never readers
    try {
      const writing = client.post('/visit', { write: true });
      await new Promise((r) => setTimeout(r, 200)); // the write is now waiting on the lock
      const started = Date.now();
      const read = await new Client(url, client.cookieName).post('/visit', {}, { cookie: `sessionid=${client.sessionKey}` });
      const readTook = Date.now() - started;
      expect(read.status).toBe(200);
      expect(read.json()).toEqual({ visits: 1 });
      expect(readTook).toBeLessThan(500);
      expect((await writing).status).toBe(503);
    } finally {
      await run('COMMIT');
      await new Promise<void>((r) => conn.close(() => r()));
    }
  }, 30_000);
});
