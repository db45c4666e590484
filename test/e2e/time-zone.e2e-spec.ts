/**
 * `expire_date` is UTC whatever the server's time zone (Django with USE_TZ=True). On a machine in
 * UTC a local-time mistake cannot show, so there this file re-runs itself in a child Jest process
 * with TZ=America/Chicago (a Node process reads TZ at start-up; Jest's sandboxed process.env
 * cannot change it) and passes only if every test passes there.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DJANGO_DATETIME, PLATFORMS, parseStoredDate, sessionCookieOf, startApp, type TestApp } from '../support/app.js';
import { DataSource } from 'typeorm';
import { SessionEntity } from '../../src/index.js';
import { useDjangoDateText } from '../../src/exports/engines.js';
import { SessionOpsController, UNDEFINED } from '../support/controllers.js';

const PROBE_TZ = 'America/Chicago';
const THIS_FILE = 'test/e2e/time-zone.e2e-spec.ts';
const utcHere = new Date(2020, 0, 1).getTimezoneOffset() === 0 && new Date(2020, 6, 1).getTimezoneOffset() === 0;

/** A UTC instant in Django's text form, with its microseconds. */
function djangoText(ms: number, withFraction: boolean): string {
  const iso = new Date(ms).toISOString(); // 2030-01-02T03:04:05.678Z
  return withFraction ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}000` : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

if (utcHere && process.env.SESSION_TZ_PROBE !== '1') {
  describe(`expire_date in another time zone (${PROBE_TZ})`, () => {
    it(`every test of this file passes when the process runs with TZ=${PROBE_TZ}`, () => {
      const jest = resolve('node_modules/jest/bin/jest.js');
      expect(existsSync(resolve(THIS_FILE))).toBe(true);
      const child = spawnSync(process.execPath, ['--experimental-vm-modules', jest, '--runTestsByPath', THIS_FILE, '--runInBand', '--ci', '--reporters=default'], {
        env: { ...process.env, TZ: PROBE_TZ, SESSION_TZ_PROBE: '1' },
        encoding: 'utf8',
        timeout: 90_000,
      });
      const output = `${child.stdout}\n${child.stderr}`;
      const failures = output
        .split('\n')
        .filter((line) => /●|Expected|Received|✕|Tests:/.test(line))
        .join('\n');
      if (child.status !== 0) throw new Error(`TZ=${PROBE_TZ} run failed (exit ${child.status}):\n${failures || output}`);
      expect(output).toMatch(/Tests:\s+\d+ passed, \d+ total/);
    }, 120_000);
  });
} else {
  describe.each(PLATFORMS)(`expire_date is UTC with TZ=${process.env.TZ ?? '(local)'} on %s`, (platform) => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ platform, controllers: [SessionOpsController] });
    });
    afterAll(() => t?.close());

    it('the process really is outside UTC (else this file proves nothing)', () => {
      expect(new Date(2020, 0, 1).getTimezoneOffset()).not.toBe(0);
    });

    it('a save writes now + cookieAge in UTC (not local time)', async () => {
      const sentAt = Date.now();
      const key = sessionCookieOf(await t.client().ops([['set', 'a', 1]]))!.value;
      const text = (await t.db.row(key))!.expire_date;
      expect(text).toMatch(DJANGO_DATETIME);
      const ms = parseStoredDate(text);
      expect(ms).toBeGreaterThanOrEqual(sentAt + 1209600_000 - 1000);
      expect(ms).toBeLessThanOrEqual(Date.now() + 1209600_000 + 1000);
    });

    it('a row expiring in 2 minutes (UTC) is loaded; one that expired 2 minutes ago is not', async () => {
      const client = t.client();
      const key = sessionCookieOf(await client.ops([['set', 'a', 'here']]))!.value;
      await t.db.run('UPDATE django_session SET expire_date = ? WHERE session_key = ?', [djangoText(Date.now() + 120_000, true), key]);
      expect((await client.ops([['get', 'a']])).json().results).toEqual(['here']);
      await t.db.run('UPDATE django_session SET expire_date = ? WHERE session_key = ?', [djangoText(Date.now() - 120_000, true), key]);
      expect((await client.ops([['get', 'a']], { cookie: `sessionid=${key}` })).json().results).toEqual([UNDEFINED]);
    });

    it.each([
      ['with microseconds (as Django and this module write it)', true],
      ['without a fraction', false],
    ])('SessionEntity.expireDate is the stored UTC instant, %s', async (_what, withFraction) => {
      const key = sessionCookieOf(await t.client().ops([['set', 'a', 1]]))!.value;
      const instant = Date.UTC(2031, 4, 5, 5, 5, 5, withFraction ? 678 : 0);
      await t.db.run('UPDATE django_session SET expire_date = ? WHERE session_key = ?', [djangoText(instant, withFraction), key]);
      const entity = await t.dataSource.getRepository(SessionEntity).findOneByOrFail({ sessionKey: key });
      expect(entity.expireDate.toISOString()).toBe(new Date(instant).toISOString());
    });

    it('a plain DataSource outside Nest (a CLI script, say) reads expireDate exactly after useDjangoDateText()', async () => {
      const key = sessionCookieOf(await t.client().ops([['set', 'a', 1]]))!.value;
      const instant = Date.UTC(2031, 4, 5, 5, 5, 5, 678);
      await t.db.run('UPDATE django_session SET expire_date = ? WHERE session_key = ?', [djangoText(instant, true), key]);
      const plain = await new DataSource({ type: 'sqlite', database: t.file, entities: [SessionEntity] }).initialize();
      try {
        const repo = plain.getRepository(SessionEntity);
        // Without it, TypeORM reads the 6-digit fraction as local time (this is why it exists).
        expect((await repo.findOneByOrFail({ sessionKey: key })).expireDate.getTime()).not.toBe(instant);
        useDjangoDateText(plain);
        expect((await repo.findOneByOrFail({ sessionKey: key })).expireDate.toISOString()).toBe(new Date(instant).toISOString());
      } finally {
        await plain.destroy();
      }
    });

    it('setExpiry(Date) writes that instant in UTC', async () => {
      const target = Date.now() + 3_600_000;
      const key = sessionCookieOf(await t.client().ops([['set', 'a', 1], ['setExpiry', { date: new Date(target).toISOString() }]]))!.value;
      expect(Math.abs(parseStoredDate((await t.db.row(key))!.expire_date) - target)).toBeLessThanOrEqual(1500);
    });
  });
}
