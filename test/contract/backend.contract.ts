/**
 * The storage contract every SessionBackend must keep — Django's `SessionBase` storage methods
 * (`load`, `exists`, `save(must_create)`, `delete`, `clear_expired`) with the db backend's SQL
 * behaviour (load skips expired rows; the save of a keyed session only UPDATEs and never re-creates
 * a deleted row) — run against each database by the *.spec.ts files beside it, as Django's
 * SessionTestsMixin runs against each of its backends.
 *
 * Rows are also written straight in SQL, in the form Django itself writes `expire_date` on each
 * database, so the backend is checked against Django's rows and not only its own.
 */
import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { CreateDjangoSession1700000000000, CreateError, SessionCodec, SessionEntity, UpdateError } from '../../src/index.js';
import { SWEEP_BATCH_ROWS, TypeOrmSessionBackend } from '../../src/exports/engines.js';
import { describeWith, type Service } from '../support/env.js';
import { defineEngineContract } from './engine.contract.js';
import { createDatabase, rawExpireDate, type Database, type Engine } from '../interop/support/databases.js';

export interface ContractTarget {
  /** Shown in the suite title, e.g. "sqlite3". */
  title: string;
  engine: Engine;
  /** The service naming the database server (none for SQLite). */
  server?: Extract<Service, 'postgres' | 'mysql'>;
  /** TypeORM options for the suite's throwaway database (`url` for servers, `file` for SQLite). */
  dataSource(where: { url: string; file?: string }): DataSourceOptions;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * `str(datetime)` of a UTC instant, as Django writes `expire_date` on SQLite and MySQL with
 * USE_TZ=True: `YYYY-MM-DD HH:MM:SS[.ffffff]`, the fraction left out when it is zero.
 */
export function djangoUtc(ms: number, microseconds = (((ms % 1000) + 1000) % 1000) * 1000): string {
  const d = new Date(ms);
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return microseconds === 0 ? base : `${base}.${pad(microseconds, 6)}`;
}

const newKey = () => randomBytes(16).toString('hex'); // 32 chars of [0-9a-f]
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A throwaway database of the target's kind with the table made by the shipped migration. */
async function migratedDatabase(target: ContractTarget, env: Record<Service, string>, prefix: string): Promise<{ db: Database; dataSource: DataSource }> {
  const serverUrl = target.server ? env[target.server] : undefined;
  const db = await createDatabase(target.engine, serverUrl, prefix, target.title.replace(/\W/g, '').toLowerCase());
  const file = target.engine === 'sqlite' ? new URL(db.url).pathname : undefined;
  const dataSource = new DataSource({
    ...target.dataSource({ url: db.url, file }),
    entities: [SessionEntity],
    migrations: [CreateDjangoSession1700000000000],
    logging: false,
  } as DataSourceOptions);
  await dataSource.initialize();
  await dataSource.runMigrations();
  return { db, dataSource };
}

/** Runs the suites of this file in `zone` (TZ), restored after it, so no date can lean on the machine's zone. */
export function inTimeZone(zone: string): void {
  const machineZone = process.env.TZ;
  beforeAll(() => {
    process.env.TZ = zone;
  });
  afterAll(() => {
    if (machineZone === undefined) delete process.env.TZ;
    else process.env.TZ = machineZone;
  });
}

/** The db engine on one database: the engine contract, then the rows as Django writes them. */
export function defineBackendContract(target: ContractTarget): void {
  const services: Service[] = target.server ? [target.server] : [];
  defineEngineContract({
    title: `db on ${target.title}`,
    services,
    async open(env) {
      const { db, dataSource } = await migratedDatabase(target, env, 'engine');
      const backend = new TypeOrmSessionBackend(dataSource, new SessionCodec({ secretKey: 'engine-contract-secret' }));
      return {
        backend,
        close: async () => {
          await dataSource.destroy();
          await db.drop();
        },
      };
    },
  });

  describeWith(services, `db engine rows as Django writes them, on ${target.title}`, (env) => {
    let db: Database;
    let dataSource: DataSource;
    let backend: TypeOrmSessionBackend;

    /** A row exactly as Django's db backend writes it (its own SQL, its own expire_date form). */
    const insertAsDjango = async (key: string, data: string, expireMs: number, microseconds?: number) => {
      const text = djangoUtc(expireMs, microseconds);
      // PostgreSQL: Django sends an aware datetime; the server stores the instant (timestamptz).
      const value = target.engine === 'postgres' ? `${text}+00:00` : text;
      await db.query('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)', [key, data, value]);
    };

    beforeAll(async () => {
      ({ db, dataSource } = await migratedDatabase(target, env, 'contract'));
      backend = new TypeOrmSessionBackend(dataSource);
    }, 60_000);

    afterAll(async () => {
      await dataSource?.destroy();
      await db?.drop();
    }, 60_000);

    const inOneDay = () => new Date(Date.now() + 86_400_000);

    describe('load / exists', () => {
      it('an unknown key: load() is null, exists() is false', async () => {
        const key = newKey();
        await expect(await backend.loadRow(key)).toBeNull();
        await expect(backend.exists(key)).resolves.toBe(false);
      });

      it('a live row written by Django is loaded as is', async () => {
        const key = newKey();
        await insertAsDjango(key, 'eyJhIjoxfQ:1r31eq:l3BIOCnr7yyAYpte7c_WUHlDz1VMFHFhA8iEt2m8VCc', Date.now() + 3_600_000, 123456);
        await expect((await backend.loadRow(key))?.sessionData ?? null).toBe('eyJhIjoxfQ:1r31eq:l3BIOCnr7yyAYpte7c_WUHlDz1VMFHFhA8iEt2m8VCc');
        await expect(backend.exists(key)).resolves.toBe(true);
      });

      it("loadRow() reads expire_date as the instant Django wrote, whatever the process's time zone", async () => {
        const key = newKey();
        const at = Math.floor(Date.now() / 1000) * 1000 + 3_600_000 + 123;
        await insertAsDjango(key, 'timed', at, 123456);
        expect((await backend.loadRow(key))?.expireDate?.toISOString()).toBe(new Date(at).toISOString());
        const mine = newKey();
        const date = new Date(Date.now() + 7_200_000);
        await backend.saveRow(mine, 'mine', date, true);
        expect((await backend.loadRow(mine))?.expireDate?.toISOString()).toBe(date.toISOString());
      });

      it('an over-long key (1,240 chars, longer than varchar(40)) matches nothing and raises nothing', async () => {
        const key = 'a'.repeat(1240);
        await expect(await backend.loadRow(key)).toBeNull();
        await expect(backend.exists(key)).resolves.toBe(false);
        await expect(backend.delete(key)).resolves.toBeUndefined();
      });

      it('a 40-character key (the column maximum) round-trips', async () => {
        const key = `${newKey()}abcdefgh`;
        expect(key).toHaveLength(40);
        await backend.saveRow(key, 'forty', inOneDay(), true);
        await expect((await backend.loadRow(key))?.sessionData ?? null).toBe('forty');
      });
    });

    describe('save(mustCreate = true): INSERT', () => {
      it('creates the row', async () => {
        const key = newKey();
        await backend.saveRow(key, 'created', inOneDay(), true);
        await expect((await backend.loadRow(key))?.sessionData ?? null).toBe('created');
        await expect(backend.exists(key)).resolves.toBe(true);
      });

      it('throws CreateError on a taken key and leaves the row as it was', async () => {
        const key = newKey();
        await backend.saveRow(key, 'first', inOneDay(), true);
        await expect(backend.saveRow(key, 'second', inOneDay(), true)).rejects.toBeInstanceOf(CreateError);
        await expect((await backend.loadRow(key))?.sessionData ?? null).toBe('first');
      });

      it('throws CreateError on a key taken by an expired row (Django would pick another key)', async () => {
        const key = newKey();
        await insertAsDjango(key, 'expired', Date.now() - 60_000);
        await expect(backend.saveRow(key, 'mine', inOneDay(), true)).rejects.toBeInstanceOf(CreateError);
      });

      it('two concurrent creates of one key: exactly one wins, the other gets CreateError', async () => {
        const key = newKey();
        const results = await Promise.allSettled([
          backend.saveRow(key, 'one', inOneDay(), true),
          backend.saveRow(key, 'two', inOneDay(), true),
        ]);
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(rejected).toHaveLength(1);
        expect(rejected[0]!.reason).toBeInstanceOf(CreateError);
        expect(['one', 'two']).toContain((await backend.loadRow(key))?.sessionData ?? null);
      });
    });

    describe('save(mustCreate = false): UPDATE', () => {
      it('replaces the data and the expiry', async () => {
        const key = newKey();
        await backend.saveRow(key, 'before', inOneDay(), true);
        const later = new Date(Date.now() + 7 * 86_400_000 + 250);
        await backend.saveRow(key, 'after', later, false);
        await expect((await backend.loadRow(key))?.sessionData ?? null).toBe('after');
        expect((await rawExpireDate(db, key))?.text).toBe(djangoUtc(later.getTime()));
      });

      it('saving identical values again is not "row gone" (MySQL counts changed rows, not matched ones)', async () => {
        const key = newKey();
        const expires = new Date(Math.floor(Date.now() / 1000) * 1000 + 86_400_000);
        await backend.saveRow(key, 'same', expires, true);
        await expect(backend.saveRow(key, 'same', expires, false)).resolves.toBeUndefined();
        await expect(backend.saveRow(key, 'same', expires, false)).resolves.toBeUndefined();
      });

      it('throws UpdateError when the row is gone, and does not resurrect it', async () => {
        const key = newKey();
        await backend.saveRow(key, 'logged in', inOneDay(), true);
        await backend.delete(key); // logout in another tab
        await expect(backend.saveRow(key, 'still here?', inOneDay(), false)).rejects.toBeInstanceOf(UpdateError);
        await expect(backend.exists(key)).resolves.toBe(false);
      });

      it('throws UpdateError for a key that never existed', async () => {
        await expect(backend.saveRow(newKey(), 'x', inOneDay(), false)).rejects.toBeInstanceOf(UpdateError);
      });

      it("updates an expired row (Django's UPDATE does not look at expire_date), which makes it live again", async () => {
        const key = newKey();
        await insertAsDjango(key, 'old', Date.now() - 60_000, 500000);
        await expect(await backend.loadRow(key)).toBeNull();
        await backend.saveRow(key, 'renewed', inOneDay(), false);
        await expect((await backend.loadRow(key))?.sessionData ?? null).toBe('renewed');
      });
    });

    describe('delete', () => {
      it('removes the row; deleting a missing row is not an error', async () => {
        const key = newKey();
        await backend.saveRow(key, 'bye', inOneDay(), true);
        await backend.delete(key);
        await expect(backend.exists(key)).resolves.toBe(false);
        await expect(await backend.loadRow(key)).toBeNull();
        await expect(backend.delete(key)).resolves.toBeUndefined();
        await expect(backend.delete(newKey())).resolves.toBeUndefined();
      });
    });

    describe('expiry, compared in SQL against rows in Django’s own form', () => {
      it('load() skips expired rows to the second (Django and backend rows); exists() ignores expiry', async () => {
        // Start just after a whole second, so "the second that just passed" is safely in the past.
        const now = Date.now();
        if (now % 1000 > 700) await sleep(1000 - (now % 1000) + 50);
        const second = Math.floor(Date.now() / 1000) * 1000;
        const rows = {
          djangoPastWholeSecond: { at: second, micro: 0 }, // "YYYY-MM-DD HH:MM:SS": a prefix of "now" with a fraction
          djangoPastMicro: { at: Date.now() - 1000, micro: 999999 },
          djangoPastDay: { at: Date.now() - 86_400_000, micro: 1 },
          djangoLiveWholeSecond: { at: second + 2000, micro: 0 },
          djangoLiveMicro: { at: Date.now() + 1500, micro: 1 },
        };
        const keys: Record<string, string> = {};
        for (const [name, { at, micro }] of Object.entries(rows)) {
          keys[name] = newKey();
          await insertAsDjango(keys[name]!, name, at, micro);
        }
        keys.backendPast = newKey();
        await backend.saveRow(keys.backendPast, 'backendPast', new Date(Date.now() - 1000), true);
        keys.backendLive = newKey();
        await backend.saveRow(keys.backendLive, 'backendLive', new Date(Date.now() + 1500), true);

        const loaded: Record<string, string | null> = {};
        for (const [name, key] of Object.entries(keys)) loaded[name] = (await backend.loadRow(key))?.sessionData ?? null;
        expect(loaded).toEqual({
          djangoPastWholeSecond: null,
          djangoPastMicro: null,
          djangoPastDay: null,
          djangoLiveWholeSecond: 'djangoLiveWholeSecond',
          djangoLiveMicro: 'djangoLiveMicro',
          backendPast: null,
          backendLive: 'backendLive',
        });
        for (const key of Object.values(keys)) await expect(backend.exists(key)).resolves.toBe(true);
        for (const key of Object.values(keys)) await backend.delete(key);
      });

      it('clearExpired() deletes exactly the expired rows, whoever wrote them, and says how many', async () => {
        await backend.clearExpired(); // what earlier tests left
        const expired = [newKey(), newKey(), newKey()];
        const live = [newKey(), newKey(), newKey()];
        await insertAsDjango(expired[0]!, 'django, a second ago', Date.now() - 1000, 654321);
        await insertAsDjango(expired[1]!, 'django, last year', Date.now() - 365 * 86_400_000, 0);
        await backend.saveRow(expired[2]!, 'backend, a second ago', new Date(Date.now() - 1000), true);
        await insertAsDjango(live[0]!, 'django, in a minute', Date.now() + 60_000, 1);
        await insertAsDjango(live[1]!, 'django, next year', Date.now() + 365 * 86_400_000, 0);
        await backend.saveRow(live[2]!, 'backend, in a minute', new Date(Date.now() + 60_000), true);

        await expect(backend.clearExpired()).resolves.toBe(3);
        for (const key of expired) await expect(backend.exists(key)).resolves.toBe(false);
        for (const key of live) await expect(backend.exists(key)).resolves.toBe(true);
        await expect(backend.clearExpired()).resolves.toBe(0);
      });

      it('clearExpired() on more expired rows than one batch: deletes them all, in batches, and counts exactly', async () => {
        await backend.clearExpired();
        const expired = 2 * SWEEP_BATCH_ROWS + 345;
        const past = djangoUtc(Date.now() - 3_600_000, 250000);
        const value = target.engine === 'postgres' ? `${past}+00:00` : past;
        for (let start = 0; start < expired; start += 300) {
          const count = Math.min(300, expired - start);
          const rows = Array.from({ length: count }, () => [newKey(), 'old', value]);
          await db.query(`INSERT INTO django_session (session_key, session_data, expire_date) VALUES ${rows.map(() => '(?, ?, ?)').join(', ')}`, rows.flat());
        }
        const live = newKey();
        await backend.saveRow(live, 'live', inOneDay(), true);
        // Count the DELETE statements the sweep runs (TypeORM asks the DataSource's logger at each query).
        const deletes: string[] = [];
        const logger = dataSource.logger;
        const counting = Object.assign(Object.create(logger) as typeof logger, { logQuery: (sql: string) => void (/DELETE/i.test(sql) && deletes.push(sql)) });
        Object.assign(dataSource, { logger: counting });
        try {
          await expect(backend.clearExpired()).resolves.toBe(expired);
        } finally {
          Object.assign(dataSource, { logger });
        }
        // 1,000 + 1,000 + 345 rows: three bounded statements, not one DELETE of everything.
        expect(deletes).toHaveLength(Math.ceil(expired / SWEEP_BATCH_ROWS));
        const [{ n }] = await db.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM django_session');
        expect(Number(n)).toBeGreaterThanOrEqual(1);
        expect((await backend.loadRow(live))?.sessionData).toBe('live');
        await expect(backend.clearExpired()).resolves.toBe(0);
      });

      it('writes expire_date in the form Django writes on this database (UTC, fraction only when not zero on SQLite)', async () => {
        const withFraction = new Date(Date.UTC(2031, 4, 5, 6, 7, 8, 90));
        const wholeSecond = new Date(Date.UTC(2031, 4, 5, 6, 7, 8, 0));
        const [a, b] = [newKey(), newKey()];
        await backend.saveRow(a, 'a', withFraction, true);
        await backend.saveRow(b, 'b', wholeSecond, true);
        const expected =
          target.engine === 'sqlite'
            ? { a: '2031-05-05 06:07:08.090000', b: '2031-05-05 06:07:08', storage: 'text' }
            : { a: '2031-05-05 06:07:08.090000', b: '2031-05-05 06:07:08.000000', storage: target.engine === 'postgres' ? 'timestamp with time zone' : 'datetime(6)' };
        const [rawA, rawB] = [await rawExpireDate(db, a), await rawExpireDate(db, b)];
        expect({ a: rawA?.text, b: rawB?.text, storage: rawA?.storage }).toEqual(expected);
      });
    });

    describe('data', () => {
      it.each([
        ['unicode (not only the ASCII Django writes)', 'Zoë — 日本語 😀 \u2028 "q" \\ é'],
        ['1,000 characters', 'x'.repeat(1000)],
        ['1 MB', 'ab'.repeat(512 * 1024)],
      ])('stores %s exactly', async (_label, data) => {
        const key = newKey();
        await backend.saveRow(key, data, inOneDay(), true);
        await expect((await backend.loadRow(key))?.sessionData ?? null).toBe(data);
        const updated = `${data}!`;
        await backend.saveRow(key, updated, inOneDay(), false);
        await expect((await backend.loadRow(key))?.sessionData ?? null).toBe(updated);
      });
    });
  });
}
