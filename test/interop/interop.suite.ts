/**
 * Nest and a real Django 3.2 share one `django_session` table and one login, over real HTTP.
 * One suite, run per database by sqlite.spec.ts, postgres.spec.ts and mariadb.spec.ts. On each
 * database it runs twice, once on a table made by each side's migration:
 *
 *  - "Nest first": the Nest app boots (its migration creates the table), then Django runs
 *    `manage.py migrate --fake-initial`;
 *  - "Django first": `manage.py migrate`, then the Nest app boots (its migration must skip).
 *
 * The Nest app runs as its own process in a non-UTC zone (TZ), and Django with another TIME_ZONE,
 * so nothing can lean on the machine's zone. Every step has a route of the same name on both
 * servers (views.py / nest/server.ts), and one Browser carries the same `sessionid` to both.
 */
import { SessionCodec } from '../../src/index.js';
import type { Service } from '../support/env.js';
import { Browser, instant, sleepUntil } from './support/browser.js';
import { buildNestServer, type NestBuild } from './support/build.js';
import { createDatabase, introspectSessionTable, rawExpireDate, type Engine, type TableShape } from './support/databases.js';
import { describeWithEachDjango } from './support/djangos.js';
import { manage, startDjango, startNest, type Server } from './support/processes.js';
import {
  djangoSessionWithDateExpiry,
  expectExpirySet,
  expectLoggedInSessionModified,
  expectLoginCrosses,
  expectSameSessionCookie,
  expectValuesRead,
  expectValuesWritten,
  type SuiteContext,
} from './support/steps.js';
import { allSettled, COOKIE_AGE, DIRECTIONS, MODERN_FORMAT, OLD_SECRET_KEY, SECRET_KEY, VALUES, type SideName } from './support/values.js';

type Creator = 'nest' | 'django';

interface Config {
  creator: Creator;
  nestTz: string;
  djangoTimeZone: string;
}

const CONFIGS: Config[] = [
  { creator: 'nest', nestTz: 'America/New_York', djangoTimeZone: 'Asia/Kolkata' },
  { creator: 'django', nestTz: 'Asia/Kolkata', djangoTimeZone: 'America/Chicago' },
];

/** `expire_date` as Django stores it, spelled as UTC text (see rawExpireDate). */
const STORED_FORM: Record<Engine, { storage: string; text: RegExp }> = {
  // str(datetime) of a UTC datetime: the fraction only when microseconds are not 0.
  sqlite: { storage: 'text', text: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$/ },
  postgres: { storage: 'timestamp with time zone', text: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/ },
  mariadb: { storage: 'datetime(6)', text: /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/ },
};

/**
 * The table `manage.py migrate` makes, as introspectSessionTable reports it (Django's migration
 * sessions.0001_initial: session_key varchar(40) primary key, session_data text, expire_date indexed).
 */
const DJANGO_TABLE: Record<Engine, TableShape> = {
  sqlite: {
    objects: [
      {
        type: 'table',
        name: 'django_session',
        sql: 'CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL)',
      },
      {
        type: 'index',
        name: 'django_session_expire_date_a5c62663',
        sql: 'CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")',
      },
      { type: 'index', name: 'sqlite_autoindex_django_session_1', sql: null },
    ],
    columns: [
      { cid: 0, name: 'session_key', type: 'varchar(40)', notnull: 1, dflt_value: null, pk: 1 },
      { cid: 1, name: 'session_data', type: 'TEXT', notnull: 1, dflt_value: null, pk: 0 },
      { cid: 2, name: 'expire_date', type: 'datetime', notnull: 1, dflt_value: null, pk: 0 },
    ],
    indexes: [
      { name: 'django_session_expire_date_a5c62663', unique: 0, origin: 'c', partial: 0, columns: [{ seqno: 0, name: 'expire_date' }] },
      { name: 'sqlite_autoindex_django_session_1', unique: 1, origin: 'pk', partial: 0, columns: [{ seqno: 0, name: 'session_key' }] },
    ],
  },
  postgres: {
    columns: [
      { ordinal_position: 1, column_name: 'session_key', data_type: 'character varying', character_maximum_length: 40, datetime_precision: null, is_nullable: 'NO', column_default: null, collation_name: null },
      { ordinal_position: 2, column_name: 'session_data', data_type: 'text', character_maximum_length: null, datetime_precision: null, is_nullable: 'NO', column_default: null, collation_name: null },
      { ordinal_position: 3, column_name: 'expire_date', data_type: 'timestamp with time zone', character_maximum_length: null, datetime_precision: 6, is_nullable: 'NO', column_default: null, collation_name: null },
    ],
    indexes: [
      { indexname: 'django_session_expire_date_a5c62663', indexdef: 'CREATE INDEX django_session_expire_date_a5c62663 ON public.django_session USING btree (expire_date)' },
      { indexname: 'django_session_pkey', indexdef: 'CREATE UNIQUE INDEX django_session_pkey ON public.django_session USING btree (session_key)' },
      { indexname: 'django_session_session_key_c0390e0f_like', indexdef: 'CREATE INDEX django_session_session_key_c0390e0f_like ON public.django_session USING btree (session_key varchar_pattern_ops)' },
    ],
    constraints: [{ conname: 'django_session_pkey', contype: 'p', definition: 'PRIMARY KEY (session_key)' }],
  },
  mariadb: {
    columns: [
      { ORDINAL_POSITION: 1, COLUMN_NAME: 'session_key', COLUMN_TYPE: 'varchar(40)', IS_NULLABLE: 'NO', COLUMN_KEY: 'PRI', COLUMN_DEFAULT: null, EXTRA: '' },
      { ORDINAL_POSITION: 2, COLUMN_NAME: 'session_data', COLUMN_TYPE: 'longtext', IS_NULLABLE: 'NO', COLUMN_KEY: '', COLUMN_DEFAULT: null, EXTRA: '' },
      { ORDINAL_POSITION: 3, COLUMN_NAME: 'expire_date', COLUMN_TYPE: 'datetime(6)', IS_NULLABLE: 'NO', COLUMN_KEY: 'MUL', COLUMN_DEFAULT: null, EXTRA: '' },
    ],
    indexes: [
      { INDEX_NAME: 'django_session_expire_date_a5c62663', NON_UNIQUE: 1, SEQ_IN_INDEX: 1, COLUMN_NAME: 'expire_date', INDEX_TYPE: 'BTREE', SUB_PART: null },
      { INDEX_NAME: 'PRIMARY', NON_UNIQUE: 0, SEQ_IN_INDEX: 1, COLUMN_NAME: 'session_key', INDEX_TYPE: 'BTREE', SUB_PART: null },
    ],
  },
};

/** Only the keys DJANGO_TABLE pins (MariaDB's charset columns depend on the server's defaults). */
function pinned(engine: Engine, shape: TableShape | undefined): TableShape | undefined {
  if (shape === undefined || engine !== 'mariadb') return shape;
  const columns = (shape.columns as Array<Record<string, unknown>>).map(
    ({ ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY, COLUMN_DEFAULT, EXTRA }) => ({
      ORDINAL_POSITION,
      COLUMN_NAME,
      COLUMN_TYPE,
      IS_NULLABLE,
      COLUMN_KEY,
      COLUMN_DEFAULT,
      EXTRA,
    }),
  );
  return { columns, indexes: shape.indexes };
}

export interface InteropTarget {
  engine: Engine;
  title: string;
  /** The service whose URL names the database server (none for SQLite). */
  server?: Extract<Service, 'postgres' | 'mysql'>;
}

export function defineInteropSuite(target: InteropTarget): void {
  const services: Service[] = target.server ? ['django', target.server] : ['django'];
  describeWithEachDjango(services, (django) => `Nest and ${django} share django_session and the login on ${target.title}`, (env, version) => {
    const { engine } = target;
    const serverUrl = target.server ? env[target.server] : undefined;
    let build: NestBuild | undefined;
    const shapes: Partial<Record<'nestMade' | 'djangoMade' | 'djangoMadeAfterNest', TableShape>> = {};
    const bookkeeping: Partial<Record<Creator, { django: unknown; typeorm: unknown }>> = {};
    let plainMigrate: string | undefined;

    beforeAll(() => {
      build = buildNestServer();
    });
    afterAll(() => build?.remove());

    for (const config of CONFIGS) {
      const first = config.creator === 'nest' ? "Nest's migration, then Django's migrate --fake-initial" : "Django's migrate, then Nest's migration (skips)";
      describe(`table made by ${first}; Nest TZ=${config.nestTz}, Django TIME_ZONE=${config.djangoTimeZone}`, () => {
        const ctx = {} as SuiteContext;
        const side = (name: SideName): Server => (name === 'Nest' ? ctx.nest : ctx.django);
        const store = async (name: SideName, key: string) => (await new Browser().get(side(name), `/store/${key}`)).body;
        /** The row's expire_date as Django's ORM reads it (ms since epoch). */
        const djangoRowExpiry = async (key: string) => instant((await store('Django', key)).row.expire_date as string);

        beforeAll(async () => {
          ctx.db = await createDatabase(engine, serverUrl, 'interop', config.creator);
          ctx.djangoEnv = { python: env.django, dbUrl: ctx.db.url, secretKey: SECRET_KEY, timeZone: config.djangoTimeZone };
          const nestEnv = {
            serverJs: build!.serverJs,
            dbUrl: ctx.db.url,
            secretKey: SECRET_KEY,
            secretKeyFallbacks: [OLD_SECRET_KEY],
            tz: config.nestTz,
            djangoVersion: version.release,
          };
          if (config.creator === 'nest') {
            ctx.nest = await startNest(nestEnv);
            plainMigrate = await manage(ctx.djangoEnv, ['migrate', '--noinput', '-v', '0']).then(
              () => 'succeeded',
              (error: Error) => error.message,
            );
            await manage(ctx.djangoEnv, ['migrate', '--fake-initial', '--noinput', '-v', '0']);
            shapes.nestMade = await introspectSessionTable(ctx.db);
          } else {
            await manage(ctx.djangoEnv, ['migrate', '--noinput', '-v', '0']);
            shapes.djangoMade = await introspectSessionTable(ctx.db);
            ctx.nest = await startNest(nestEnv);
            shapes.djangoMadeAfterNest = await introspectSessionTable(ctx.db);
          }
          bookkeeping[config.creator] = {
            django: await ctx.db.query(`SELECT app, name FROM django_migrations WHERE app = 'sessions' ORDER BY name`),
            typeorm: await ctx.db.query('SELECT name FROM migrations'),
          };
          ctx.django = await startDjango(ctx.djangoEnv);
          ctx.aliceId = (await new Browser().post(ctx.django, '/users', { username: 'alice' })).body.id;
        }, 120_000);

        afterAll(async () => {
          await Promise.all([ctx.nest?.stop(), ctx.django?.stop()]);
          await ctx.db?.drop();
        }, 60_000);

        it(`the Nest process really runs in ${config.nestTz}`, async () => {
          const { body } = await new Browser().get(ctx.nest, '/tz');
          expect(body.tz).toBe(config.nestTz);
          expect(body.offsetMinutes).not.toBe(0);
        });

        it.each(DIRECTIONS)(
          'a session a %s handler writes is read by %s with the same values, types, expiry and stored form',
          async (writerName, readerName) => {
            const { browser, write, key } = await expectValuesWritten(side, writerName, /^[a-z0-9]{32}$/);

            // Through the cookie, in a handler / view.
            await expectValuesRead(browser, side, readerName, key);

            // Through the store API (Django's SessionStore(key) / SessionService.load(key)).
            const stored = await store(readerName, key);
            expect(stored.exists).toBe(true);
            expect(stored.data).toEqual(VALUES);
            expect(stored.expiry_age).toBe(COOKIE_AGE);
            expect(stored.row.decoded).toEqual(VALUES);
            expect(stored.row.session_data).toMatch(MODERN_FORMAT);
            expect(stored.row.session_data.startsWith('.')).toBe(true); // big enough to be compressed

            // The row expires COOKIE_AGE after the save, as Django's ORM reads it.
            const expires = await djangoRowExpiry(key);
            expect(expires).toBeGreaterThanOrEqual(write.sentAt + COOKIE_AGE * 1000);
            expect(expires).toBeLessThanOrEqual(write.receivedAt + COOKIE_AGE * 1000);

            // Stored as Django stores it on this database (UTC).
            const raw = await rawExpireDate(ctx.db, key);
            expect(raw?.storage).toBe(STORED_FORM[engine].storage);
            expect(raw?.text).toMatch(STORED_FORM[engine].text);
            expect(instant(raw!.text.replace(' ', 'T'))).toBe(expires);
          },
        );

        it('SessionEntity.expireDate (the TypeORM repository) reads the instant Django reads, whoever wrote the row', async () => {
          const viaEntity: Record<string, string> = {};
          const viaDjango: Record<string, string> = {};
          for (const writerName of ['Nest', 'Django'] as const) {
            const browser = new Browser();
            await browser.post(side(writerName), '/set', { by: writerName });
            const key = browser.cookie!;
            viaEntity[writerName] = new Date(instant((await store('Nest', key)).row.expire_date)).toISOString();
            viaDjango[writerName] = new Date(await djangoRowExpiry(key)).toISOString();
          }
          expect(viaEntity).toEqual(viaDjango);
        });

        it('both sides send the same session cookie (name, Max-Age, Path, HttpOnly, SameSite)', async () => {
          const [fromNest, fromDjango] = await expectSameSessionCookie(side);
          expect(Math.abs(Date.parse(fromNest.attributes.expires!) - Date.parse(fromDjango.attributes.expires!))).toBeLessThanOrEqual(2000);
        });

        it.each(DIRECTIONS)('a %s login is a %s login (cycled key, _auth_user_* keys, the same auth hash)', async (writerName, readerName) => {
          const anonymousKey = await expectLoginCrosses(side, writerName, readerName, /^[a-z0-9]{32}$/, ctx.aliceId);
          expect(await store(readerName, anonymousKey)).toMatchObject({ exists: false, data: {} });
        });

        it.each(DIRECTIONS)('%s modifies, cycles and flushes a session %s created; the creator sees each step', async (otherName, creatorName) => {
          const creator = side(creatorName);
          const other = side(otherName);
          // Create, then modify.
          const { browser, createdKey, afterModify } = await expectLoggedInSessionModified(creator, other, ctx.aliceId, true);

          // Cycle: same data under a new key; the old row is gone.
          await browser.post(other, '/cycle');
          const cycledKey = browser.cookie!;
          expect(cycledKey).toMatch(/^[a-z0-9]{32}$/);
          expect(cycledKey).not.toBe(createdKey);
          expect((await browser.get(creator, '/session')).body.data).toEqual(afterModify.body.data);
          expect((await browser.get(creator, '/whoami')).body).toEqual({ user: 'alice' });
          expect(await store(creatorName, createdKey)).toMatchObject({ exists: false, data: {} });
          const stale = new Browser(createdKey);
          expect((await stale.get(creator, '/session')).body.data).toEqual({});
          expect(stale.cookie).toBeNull(); // the creator deletes the stale cookie

          // Flush (logout): row deleted, cookie deleted.
          const flushed = await browser.post(other, '/flush');
          expect(flushed.setCookie).toHaveLength(1);
          expect(browser.cookie).toBeNull();
          expect(await store(creatorName, cycledKey)).toMatchObject({ exists: false, data: {} });
          const replay = new Browser(cycledKey);
          expect((await replay.get(creator, '/whoami')).body).toEqual({ user: null });
          expect((await replay.get(creator, '/session')).body.data).toEqual({});
        });

        it('set_expiry(3) on either side: the other sees the session live at +2 s and gone at +3.5 s', async () => {
          await allSettled(
            DIRECTIONS.map(async ([writerName, readerName]) => {
              const { set, key } = await expectExpirySet(side, writerName, 3);
              expect((await store(readerName, key)).expiry_age).toBe(3);
              const expires = await djangoRowExpiry(key);
              expect(expires).toBeGreaterThanOrEqual(set.sentAt + 3000);
              expect(expires).toBeLessThanOrEqual(set.receivedAt + 3000);

              await sleepUntil(set.receivedAt + 2000);
              const live = new Browser(key);
              expect((await live.get(side(readerName), '/session')).body.data).toEqual({ x: writerName, _session_expiry: 3 });
              expect(live.cookie).toBe(key);

              await sleepUntil(set.receivedAt + 3500);
              const late = new Browser(key);
              expect((await late.get(side(readerName), '/session')).body.data).toEqual({});
              expect(late.cookie).toBeNull();
              // Expired, not deleted: the row waits for clearsessions.
              expect(await store(readerName, key)).toMatchObject({ exists: true, data: {} });
            }),
          );
        });

        if (version.since < 400) {
          it('stock Django 3.2 cannot store set_expiry(datetime) with the JSONSerializer (why Django 5 form is made below)', async () => {
            const browser = new Browser();
            await browser.post(ctx.django, '/set', { x: 1 });
            await expect(browser.post(ctx.django, '/expiry', { date: new Date(Date.now() + 60_000).toISOString() })).rejects.toThrow(
              /answered 500/,
            );
          });
        } else {
          it(`${version.name}'s set_expiry(datetime) keeps the date's isoformat() (the form made below); Nest reads it, saves it, and Django still reads it`, async () => {
            const { browser, key, target, set } = await djangoSessionWithDateExpiry(ctx.django);
            expect(set.body.types).toEqual({ x: 'int', _session_expiry: 'str' });
            const iso = set.body.data._session_expiry as string;
            expect(instant(iso)).toBe(target);

            const read = await browser.get(ctx.nest, '/session');
            expect(read.body.data).toEqual({ x: 1, _session_expiry: iso });
            expect(read.body.expiry_date).toBe(new Date(target).toISOString());
            await browser.post(ctx.nest, '/set', { y: 2 });
            expect(browser.cookie).toBe(key);
            expect(await djangoRowExpiry(key)).toBe(target);
            expect((await browser.get(ctx.django, '/session')).body.data).toEqual({ x: 1, _session_expiry: iso, y: 2 });
          });
        }

        it('set_expiry with a date: Nest → Django as whole seconds; a Django 5 ISO date (+05:30) → Nest, honoured to the second', async () => {
          await allSettled([
            (async () => {
              const browser = new Browser();
              await browser.post(ctx.nest, '/set', { x: 'nest' });
              const target = Date.now() + 3000;
              const set = await browser.post(ctx.nest, '/expiry', { date: new Date(target).toISOString() });
              const key = browser.cookie!;
              const stored = await store('Django', key);
              expect(stored.data).toEqual({ x: 'nest', _session_expiry: 3 });
              expect(stored.types).toEqual({ x: 'str', _session_expiry: 'int' });
              expect(Math.abs((await djangoRowExpiry(key)) - target)).toBeLessThan(1000);
              await sleepUntil(Math.min(target, set.receivedAt + 3000) - 1000);
              expect((await new Browser(key).get(ctx.django, '/session')).body.data).toEqual({ x: 'nest', _session_expiry: 3 });
              await sleepUntil(Math.max(target, set.receivedAt + 3000) + 600);
              expect((await new Browser(key).get(ctx.django, '/session')).body.data).toEqual({});
            })(),
            (async () => {
              const target = Date.now() + 5000;
              // Python's isoformat() of that instant in +05:30, with microseconds.
              const local = new Date(target + 330 * 60_000).toISOString();
              const iso = `${local.slice(0, 23)}456+05:30`;
              const made = JSON.parse(
                await manage(ctx.djangoEnv, ['interop_session', 'create', '--data', '{"x": "django"}', '--django5-expiry-date', iso]),
              ) as { key: string; expire_date: string; data: Record<string, unknown> };
              expect(made.data).toEqual({ x: 'django', _session_expiry: iso });
              expect(instant(made.expire_date)).toBe(target);

              const browser = new Browser(made.key);
              const live = await browser.get(ctx.nest, '/session');
              expect(live.body.data).toEqual({ x: 'django', _session_expiry: iso });
              expect(live.body.expiry_date).toBe(new Date(target).toISOString());
              expect(live.body.expiry_age).toBeGreaterThanOrEqual(0);
              expect(live.body.expiry_age).toBeLessThanOrEqual(5);
              // Nest saves it: the date, not "now + age", stays the row's expiry.
              await browser.post(ctx.nest, '/set', { y: 1 });
              expect(browser.cookie).toBe(made.key);
              expect(await djangoRowExpiry(made.key)).toBe(target);

              await sleepUntil(target - 700);
              expect((await new Browser(made.key).get(ctx.nest, '/session')).body.data).toEqual({ x: 'django', _session_expiry: iso, y: 1 });
              await sleepUntil(target + 700);
              expect((await new Browser(made.key).get(ctx.nest, '/session')).body.data).toEqual({});
            })(),
          ]);
        });

        it("Django's clearsessions deletes what Nest wrote as expired and keeps the live; SessionService.clearExpired() the same for Django's", async () => {
          const write = async (name: SideName, seconds: number) => {
            const browser = new Browser();
            await browser.post(side(name), '/set', { by: name, seconds });
            const reply = await browser.post(side(name), '/expiry', { seconds });
            return { key: browser.cookie!, at: reply.receivedAt };
          };
          const [nestShort, nestLong, djangoShort, djangoLong] = await Promise.all([
            write('Nest', 1),
            write('Nest', 3600),
            write('Django', 4),
            write('Django', 3600),
          ]);
          const exists = async (key: string) => (await store('Django', key)).exists as boolean;

          await sleepUntil(nestShort!.at + 1600);
          expect((await new Browser().post(ctx.django, '/clear-expired')).status).toBe(200);
          expect(await exists(nestShort!.key)).toBe(false);
          expect(await exists(nestLong!.key)).toBe(true);
          expect(await exists(djangoShort!.key)).toBe(true); // still live: 4 s
          expect(await exists(djangoLong!.key)).toBe(true);

          await sleepUntil(djangoShort!.at + 4600);
          const cleared = await new Browser().post(ctx.nest, '/clear-expired');
          expect(cleared.body).toEqual({ deleted: 1 });
          expect(await exists(djangoShort!.key)).toBe(false);
          expect(await exists(djangoLong!.key)).toBe(true);
          expect(await exists(nestLong!.key)).toBe(true);
        });

        it('secretKeyFallbacks: Nest reads data Django signed with the old SECRET_KEY and re-signs it with the new one when it saves', async () => {
          const old = JSON.parse(
            await manage({ ...ctx.djangoEnv, secretKey: OLD_SECRET_KEY }, [
              'interop_session',
              'login',
              '--username',
              'alice',
              '--data',
              JSON.stringify({ plan: 'pro', name: 'Zoë' }),
            ]),
          ) as { key: string; data: Record<string, unknown>; session_data: string };
          // Django 3.2 has no SECRET_KEY_FALLBACKS: with only the new key it reads nothing.
          expect(await store('Django', old.key)).toMatchObject({ exists: true, data: {} });

          const browser = new Browser(old.key);
          expect((await browser.get(ctx.nest, '/session')).body.data).toEqual(old.data);
          const signedWith = (sessionData: string, secretKey: string) => new SessionCodec({ secretKey }).decode(sessionData).status;
          // Reading does not rewrite the row.
          expect((await store('Django', old.key)).row.session_data).toBe(old.session_data);
          expect(signedWith(old.session_data, OLD_SECRET_KEY)).toBe('ok');

          await browser.post(ctx.nest, '/set', { seen_by_nest: true });
          expect(browser.cookie).toBe(old.key);
          const after = await store('Django', old.key);
          expect(after.data).toEqual({ ...old.data, seen_by_nest: true });
          expect(signedWith(after.row.session_data, SECRET_KEY)).toBe('ok');
          expect(signedWith(after.row.session_data, OLD_SECRET_KEY)).toBe('bad-signature');
        });

        // Only Django 3.1/3.2 can write it (DEFAULT_HASHING_ALGORITHM is gone since 4.0).
        (version.since < 400 ? it : it.skip)("Nest reads Django's pre-3.1 format (DEFAULT_HASHING_ALGORITHM='sha1') and rewrites it in the current one", async () => {
          const data = { cart: [1, 2], name: 'Zoë 😀', nested: { deep: { er: null } } };
          const legacy = JSON.parse(
            await manage({ ...ctx.djangoEnv, hashing: 'sha1' }, ['interop_session', 'create', '--data', JSON.stringify(data)]),
          ) as { key: string; data: Record<string, unknown>; session_data: string };
          // standard_base64(hex HMAC-SHA1 + ':' + JSON): no timestamp, no signature field.
          expect(Buffer.from(legacy.session_data, 'base64').toString('latin1')).toMatch(/^[0-9a-f]{40}:\{/);
          expect(legacy.data).toEqual(data);

          const browser = new Browser(legacy.key);
          expect((await browser.get(ctx.nest, '/session')).body.data).toEqual(data);
          await browser.post(ctx.nest, '/set', { touched: true });
          const after = await store('Django', legacy.key);
          expect(after.row.session_data).toMatch(MODERN_FORMAT);
          expect(after.data).toEqual({ ...data, touched: true });
        });
      });
    }

    describe('schema', () => {
      it("Django's migrate makes exactly the table pinned in DJANGO_TABLE (session_key varchar(40) primary key, session_data text, indexed expire_date)", () => {
        expect(pinned(engine, shapes.djangoMade)).toEqual(DJANGO_TABLE[engine]);
      });

      it("Nest's migration makes the same table as Django's migrate (columns, types, lengths, nullability, primary key, indexes)", () => {
        expect(shapes.nestMade).toBeDefined();
        expect(shapes.nestMade).toEqual(shapes.djangoMade);
      });

      it("Nest's migration leaves a table Django made untouched, and records itself", () => {
        expect(shapes.djangoMadeAfterNest).toBeDefined();
        expect(shapes.djangoMadeAfterNest).toEqual(shapes.djangoMade);
        expect(bookkeeping.django?.typeorm).toEqual([{ name: 'CreateDjangoSession1700000000000' }]);
      });

      it('a plain manage.py migrate refuses the table Nest made ("already exists")', () => {
        expect(plainMigrate).toMatch(/django_session.{0,3} already exists/);
      });

      it('Django takes the table Nest made with migrate --fake-initial (sessions.0001_initial recorded as applied)', () => {
        expect(bookkeeping.nest).toEqual({
          django: [{ app: 'sessions', name: '0001_initial' }],
          typeorm: [{ name: 'CreateDjangoSession1700000000000' }],
        });
      });
    });
  });
}
