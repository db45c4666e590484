/**
 * SessionStore's flags and dictionary semantics — the cases of Django's SessionTestsMixin and
 * SessionBaseTests: which calls mark it accessed or modified, keys, expiry, the test cookie — on a
 * real backend: the SessionService of a Nest application context over a temporary SQLite file. No mocks: when a test needs the storage to
 * misbehave (a key collision), it makes the real database do it.
 */
import 'reflect-metadata';
import type { DataSource } from 'typeorm';
import {
  CreateError,
  KeyError,
  resolveSessionOptions,
  SessionEntity,
  SessionService,
  SessionStore,
  UpdateError,
  type SessionBackend,
  type SessionExpiry,
} from '../../src/index.js';
import { TypeOrmSessionBackend } from '../../src/exports/engines.js';
import { startSessionContext, type SessionContext } from '../support/app.js';

const AGE = 1209600;
const SECRET = 'unit-test-secret';

let t: SessionContext;
let sessions: SessionService;
let dataSource: DataSource;

beforeAll(async () => {
  t = await startSessionContext({ label: 'unit-store', session: { secretKey: SECRET } });
  sessions = t.sessions;
  dataSource = t.dataSource;
});

afterAll(() => t?.close());

/** Django's `SessionStore()`: a new, keyless session. */
const fresh = <T extends Record<string, any> = Record<string, any>>() => new SessionStore<T>(sessions, null, null);

/** A saved session holding `data`, re-opened from the database: flags start false. */
async function reopened(data: Record<string, unknown>): Promise<SessionStore> {
  const created = await sessions.create(data);
  return sessions.load(created.sessionKey!);
}

/** The row of `key` as the database holds it, decoded. */
async function rowData(key: string): Promise<Record<string, unknown> | undefined> {
  const row = await dataSource.getRepository(SessionEntity).findOneBy({ sessionKey: key });
  return row?.getDecoded();
}

/** A store sharing the service's codec and backend under other options (Django's override_settings). */
function storeWith(options: Record<string, unknown>, backend: SessionBackend = sessions.backend): SessionStore {
  return new SessionStore({ options: resolveSessionOptions({ secretKey: SECRET, ...options }), backend }, null, null);
}

const flags = (s: SessionStore) => ({ accessed: s.accessed, modified: s.modified });

describe('SessionStore flags and dictionary (SessionTestsMixin)', () => {
  it('a new store is neither modified nor accessed', () => {
    expect(flags(fresh())).toEqual({ accessed: false, modified: false });
  });

  it('a store loaded from the database is neither modified nor accessed', async () => {
    expect(flags(await reopened({ a: 1 }))).toEqual({ accessed: false, modified: false });
  });

  it('get() of a missing key: undefined, or the default given; accessed, not modified', () => {
    const s = fresh();
    expect(s.get('cat')).toBeUndefined();
    expect(s.get('cat', 'dflt')).toBe('dflt');
    expect(s.get('cat', null)).toBeNull();
    expect(flags(s)).toEqual({ accessed: true, modified: false });
  });

  it('get() of a stored falsy value (0, \'\', false, null) gives the value, not the default', () => {
    const s = fresh();
    s.update({ zero: 0, empty: '', no: false, nil: null });
    expect([s.get('zero', 9), s.get('empty', 'x'), s.get('no', true), s.get('nil', 'x')]).toEqual([0, '', false, null]);
  });

  it('set() marks the store modified and returns it; pop() gives the value back', () => {
    const s = fresh();
    expect(s.set('some key', 'exists')).toBe(s);
    expect(s.modified).toBe(true);
    expect(s.pop('some key')).toBe('exists');
  });

  it('pop() of a present key: the value; accessed and modified; the key is gone', async () => {
    const s = await reopened({ 'some key': 'exists' });
    expect(s.pop('some key')).toBe('exists');
    expect(flags(s)).toEqual({ accessed: true, modified: true });
    expect(s.get('some key')).toBeUndefined();
    expect(s.has('some key')).toBe(false);
  });

  it('pop() of a missing key with a default (also null or undefined): the default; accessed, not modified', async () => {
    const s = await reopened({ other: 1 });
    expect(s.pop('some key', 'does not exist')).toBe('does not exist');
    expect(s.pop('some key', null)).toBeNull();
    expect(s.pop('some key', undefined)).toBeUndefined();
    expect(flags(s)).toEqual({ accessed: true, modified: false });
  });

  it('pop() of a missing key without a default throws KeyError naming the key; accessed, not modified', async () => {
    const s = await reopened({ other: 1 });
    let thrown: unknown;
    try {
      s.pop('some key');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(KeyError);
    expect((thrown as KeyError).name).toBe('KeyError');
    expect((thrown as KeyError).key).toBe('some key');
    expect(flags(s)).toEqual({ accessed: true, modified: false });
  });

  it('setDefault(): inserts and returns the value when absent, returns the existing value unchanged when present; accessed and modified', () => {
    const s = fresh();
    expect(s.setDefault('foo', 'bar')).toBe('bar');
    expect(s.setDefault('foo', 'baz')).toBe('bar');
    expect(s.get('foo')).toBe('bar');
    expect(flags(s)).toEqual({ accessed: true, modified: true });
  });

  it('setDefault() of a present key only reads: accessed, not modified', async () => {
    const s = await reopened({ foo: 'bar' });
    expect(s.setDefault('foo', 'baz')).toBe('bar');
    expect(flags(s)).toEqual({ accessed: true, modified: false });
  });

  it('update() stores the values; accessed and modified — even update({})', async () => {
    const s = await reopened({ a: 1 });
    s.update({ update: 'key', a: 2 });
    expect(s.get('update')).toBe('key');
    expect(s.get('a')).toBe(2);
    expect(flags(s)).toEqual({ accessed: true, modified: true });
    const t = await reopened({ a: 1 });
    t.update({});
    expect(flags(t)).toEqual({ accessed: true, modified: true });
  });

  it('update() checks every value before storing any: a bad value or a non-object argument is a TypeError and nothing is stored', () => {
    const s = fresh();
    expect(() => s.update({ good: 1, bad: undefined } as Record<string, unknown>)).toThrow(TypeError);
    expect(s.keys()).toEqual([]);
    expect(() => s.update(null as unknown as Record<string, unknown>)).toThrow(TypeError);
    expect(() => s.update([1, 2] as unknown as Record<string, unknown>)).toThrow(TypeError);
  });

  it('has(): true for a present key, false for a missing one; accessed, not modified', async () => {
    const s = await reopened({ some: 1 });
    expect(s.has('some')).toBe(true);
    expect(s.has('other')).toBe(false);
    expect(flags(s)).toEqual({ accessed: true, modified: false });
  });

  it('values(): [] on an empty store (accessed); after a save and reload, the values (accessed, not modified)', async () => {
    const s = fresh();
    expect(s.values()).toEqual([]);
    expect(s.accessed).toBe(true);
    s.set('some key', 1);
    await s.save();
    const t = await sessions.load(s.sessionKey!);
    expect(t.values()).toEqual([1]);
    expect(flags(t)).toEqual({ accessed: true, modified: false });
  });

  it('keys(): the keys; accessed, not modified', async () => {
    const s = await reopened({ x: 1 });
    expect(s.keys()).toEqual(['x']);
    expect(flags(s)).toEqual({ accessed: true, modified: false });
  });

  it('items(): [key, value] pairs; accessed, not modified', async () => {
    const s = await reopened({ x: 1, y: [2] });
    expect(s.items()).toEqual([
      ['x', 1],
      ['y', [2]],
    ]);
    expect(flags(s)).toEqual({ accessed: true, modified: false });
  });

  it('clear(): no items left; accessed and modified; the key is kept, so isEmpty() is false', async () => {
    const s = await reopened({ x: 1 });
    const key = s.sessionKey;
    s.clear();
    expect(s.items()).toEqual([]);
    expect(flags(s)).toEqual({ accessed: true, modified: true });
    expect(s.sessionKey).toBe(key);
    expect(s.isEmpty()).toBe(false);
  });

  it('delete(): removes the key, modified; of an absent key: KeyError, modified unchanged', async () => {
    const s = await reopened({ x: 1 });
    expect(() => s.delete('absent')).toThrow(KeyError);
    expect(flags(s)).toEqual({ accessed: true, modified: false });
    s.delete('x');
    expect(flags(s)).toEqual({ accessed: true, modified: true });
    expect(s.has('x')).toBe(false);
  });

  it('keys keep their insertion order, through a save and reload', async () => {
    const s = fresh();
    s.set('zulu', 1).set('alpha', 2).set('mike', 3);
    s.set('alpha', 'changed');
    expect(s.keys()).toEqual(['zulu', 'alpha', 'mike']);
    await s.save();
    expect((await sessions.load(s.sessionKey!)).keys()).toEqual(['zulu', 'alpha', 'mike']);
  });

  it('integer-like keys keep their insertion order through a save and reload, as a Python dict does', async () => {
    const s = fresh();
    s.set('b', 1).set('10', 2).set('2', 3).set('a', 4);
    expect(s.keys()).toEqual(['b', '10', '2', 'a']);
    await s.save();
    expect((await sessions.load(s.sessionKey!)).keys()).toEqual(['b', '10', '2', 'a']);
  });

  it('set() refuses non-string keys and non-JSON values with a TypeError, storing nothing', () => {
    const s = fresh();
    expect(() => s.set(1 as unknown as string, 'x')).toThrow(TypeError);
    expect(() => s.set('d', new Date() as unknown as string)).toThrow(/"d".*Date/);
    expect(() => s.set('u', undefined)).toThrow(/"u" is undefined/);
    expect(s.keys()).toEqual([]);
    expect(s.modified).toBe(false);
  });

  it('toJSON(): a plain copy, not a live view', async () => {
    const s = await reopened({ a: 1 });
    const copy = s.toJSON() as Record<string, unknown>;
    expect(copy).toEqual({ a: 1 });
    copy.b = 2;
    expect(s.has('b')).toBe(false);
  });

  it('the nested-mutation gotcha: mutating a value in place is not a modification; modified = true forces the save', async () => {
    const s = await reopened({ foo: {} });
    (s.get('foo') as Record<string, unknown>).bar = 'baz';
    expect(s.modified).toBe(false);
    s.modified = true;
    expect(s.modified).toBe(true);
    await s.save();
    expect(await rowData(s.sessionKey!)).toEqual({ foo: { bar: 'baz' } });
  });

  it('accessed is read-only', () => {
    const s = fresh();
    expect(() => {
      (s as unknown as { accessed: boolean }).accessed = true;
    }).toThrow(TypeError);
    expect(s.accessed).toBe(false);
  });
});

describe('SessionStore storage (SessionTestsMixin)', () => {
  it('save(): the row exists and holds the data, and the in-memory data is kept', async () => {
    const s = fresh();
    s.set('x', 1);
    await s.save();
    expect(await sessions.exists(s.sessionKey!)).toBe(true);
    expect(s.get('x')).toBe(1);
    expect(await rowData(s.sessionKey!)).toEqual({ x: 1 });
  });

  it('flush(): the old key no longer exists, sessionKey is null, the data is gone; modified and accessed', async () => {
    const s = await reopened({ foo: 'bar' });
    const old = s.sessionKey!;
    await s.flush();
    expect(await sessions.exists(old)).toBe(false);
    expect(s.sessionKey).toBeNull();
    expect(flags(s)).toEqual({ accessed: true, modified: true });
    expect(s.get('foo')).toBeUndefined();
    expect(s.isEmpty()).toBe(true);
  });

  it('cycleKey(): a new key, the old row gone, the same items in the same order in memory and in the new row', async () => {
    const s = await reopened({ a: 'c', b: 'd', z: [1] });
    const old = s.sessionKey!;
    const before = s.items();
    await s.cycleKey();
    expect(s.sessionKey).not.toBe(old);
    expect(s.sessionKey).toMatch(/^[a-z0-9]{32}$/);
    expect(await sessions.exists(old)).toBe(false);
    expect(s.items()).toEqual(before);
    expect(s.modified).toBe(true);
    expect(await rowData(s.sessionKey!)).toEqual({ a: 'c', b: 'd', z: [1] });
  });

  it('cycleKey() on a store whose data was never read still carries the data over to the new row', async () => {
    const s = await reopened({ a: 'c', b: 'd' });
    await s.cycleKey();
    await s.save();
    expect(await rowData(s.sessionKey!)).toEqual({ a: 'c', b: 'd' });
  });

  it('a store built with an invalid key ("1") saves under a fresh key, with no data, and no row for "1"', async () => {
    const s = await sessions.load('1');
    await s.save();
    expect(s.sessionKey).not.toBe('1');
    expect(s.sessionKey).toMatch(/^[a-z0-9]{32}$/);
    expect(s.keys()).toEqual([]);
    expect(await sessions.exists('1')).toBe(false);
  });

  it('an empty-string key is rejected: sessionKey null', async () => {
    expect((await sessions.load('')).sessionKey).toBeNull();
    expect(new SessionStore(sessions, '', null).sessionKey).toBeNull();
  });

  it('a 7-character key is rejected even when a row has it; an 8-character key is accepted and kept', async () => {
    const data = sessions.encode({ x: 'stored' });
    const expire = new Date(Date.now() + 3600_000).toISOString().replace('T', ' ').replace('Z', '000');
    for (const key of ['1234567', '12345678']) {
      await dataSource.query('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)', [key, data, expire]);
    }
    const short = await sessions.load('1234567');
    expect(short.sessionKey).toBeNull();
    expect(short.get('x')).toBeUndefined();
    const ok = await sessions.load('12345678');
    expect(ok.sessionKey).toBe('12345678');
    expect(ok.get('x')).toBe('stored');
  });

  it('40 characters is the longest key accepted; 41 is rejected', async () => {
    const data = sessions.encode({ x: 'forty' });
    const expire = new Date(Date.now() + 3600_000).toISOString().replace('T', ' ').replace('Z', '000');
    const forty = 'k'.repeat(40);
    await dataSource.query('INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?, ?, ?)', [forty, data, expire]);
    expect((await sessions.load(forty)).get('x')).toBe('forty');
    expect((await sessions.load('k'.repeat(41))).sessionKey).toBeNull();
  });

  it('sessionKey cannot be assigned: TypeError, the key unchanged', async () => {
    const s = await reopened({ a: 1 });
    const key = s.sessionKey;
    expect(() => {
      (s as unknown as { sessionKey: string }).sessionKey = 'a1b2c3d4e5f6g7h8';
    }).toThrow(TypeError);
    expect(s.sessionKey).toBe(key);
  });

  it('a session saved with an expiry in the past (setExpiry(-10)) is not loadable: a store opened with its key has none of its data', async () => {
    const s = fresh();
    s.set('foo', 'bar');
    s.setExpiry(-10);
    await s.save();
    const other = await sessions.load(s.sessionKey!);
    expect(other.has('foo')).toBe(false);
    expect(other.keys()).toEqual([]);
  });

  it('loading an unknown key: empty and keyless, no record created; a later save uses a new key, never the unknown one', async () => {
    const s = await sessions.load('someunknownkey');
    expect(s.get('a')).toBeUndefined();
    expect(s.sessionKey).toBeNull();
    expect(await sessions.exists('someunknownkey')).toBe(false);
    s.set('a', 1);
    await s.save();
    expect(s.sessionKey).not.toBe('someunknownkey');
    expect(await sessions.exists('someunknownkey')).toBe(false);
  });

  it('a save after another store deleted the row raises UpdateError and does not resurrect it', async () => {
    const s = fresh();
    s.set('foo', 'bar');
    await s.save();
    const key = s.sessionKey!;
    const other = await sessions.load(key);
    await other.flush(); // logout in another context
    s.set('foo', 'changed');
    await expect(s.save()).rejects.toBeInstanceOf(UpdateError);
    expect(await sessions.exists(key)).toBe(false);
    expect((await sessions.load(key)).keys()).toEqual([]);
  });

  it('new keys: 32 characters of [a-z0-9], all different, every character used', async () => {
    const keys = new Set<string>();
    for (let i = 0; i < 100; i++) keys.add((await sessions.create({ i })).sessionKey!);
    expect(keys.size).toBe(100);
    for (const key of keys) expect(key).toMatch(/^[a-z0-9]{32}$/);
    const used = new Set([...keys].join(''));
    expect([...used].sort().join('')).toBe('0123456789abcdefghijklmnopqrstuvwxyz');
  });

  it('a key collision on create retries with another key (the database refuses the duplicate)', async () => {
    // A backend that, on the first INSERT, gets the key taken just before — a real UNIQUE violation.
    const attempts: string[] = [];
    class Racing extends TypeOrmSessionBackend {
      override async save(key: string, data: ReadonlyMap<string, unknown>, expiry: SessionExpiry, mustCreate: boolean) {
        if (mustCreate) {
          attempts.push(key);
          if (attempts.length === 1) await super.save(key, new Map([['other', 'session']]), expiry, true);
        }
        return super.save(key, data, expiry, mustCreate);
      }
    }
    const racing = new Racing(dataSource, sessions.codec);
    const s = storeWith({}, racing);
    s.set('mine', 1);
    await s.save();
    expect(attempts).toHaveLength(2);
    expect(s.sessionKey).toBe(attempts[1]);
    expect(await rowData(attempts[0]!)).toEqual({ other: 'session' });
    expect(await rowData(attempts[1]!)).toEqual({ mine: 1 });
  });

  it('a create that keeps colliding gives up with CreateError (no endless loop)', async () => {
    let attempts = 0;
    class AlwaysTaken extends TypeOrmSessionBackend {
      override async save(key: string, data: ReadonlyMap<string, unknown>, expiry: SessionExpiry, mustCreate: boolean) {
        if (mustCreate) {
          attempts++;
          await super.save(key, data, expiry, true);
        }
        return super.save(key, data, expiry, mustCreate);
      }
    }
    const alwaysTaken = new AlwaysTaken(dataSource, sessions.codec);
    const s = storeWith({}, alwaysTaken);
    s.set('a', 1);
    await expect(s.save()).rejects.toBeInstanceOf(CreateError);
    expect(attempts).toBeGreaterThan(1);
    expect(attempts).toBeLessThanOrEqual(100);
  });
});

describe('SessionStore expiry (SessionTestsMixin)', () => {
  const within = (ms: number, expected: number, slack = 1000) => {
    expect(Math.abs(ms - expected)).toBeLessThanOrEqual(slack);
  };

  it('no custom expiry, and after setExpiry(0): the expiry age is cookieAge', () => {
    const s = fresh();
    expect(s.getExpiryAge()).toBe(AGE);
    s.setExpiry(0);
    expect(s.getExpiryAge()).toBe(AGE);
  });

  it('setExpiry(10): age 10, date now + 10 s, modified', () => {
    const s = fresh();
    s.setExpiry(10);
    expect(s.modified).toBe(true);
    expect(s.getExpiryAge()).toBe(10);
    within(s.getExpiryDate().getTime(), Date.now() + 10_000);
  });

  it('setExpiry(Date in 10 s): that date, age 10', () => {
    const s = fresh();
    const target = new Date(Date.now() + 10_000);
    s.setExpiry(target);
    within(s.getExpiryDate().getTime(), target.getTime());
    expect(s.getExpiryAge()).toBe(10);
  });

  it('setExpiry(Date) is stored as whole seconds (the form every Django version reads)', async () => {
    const s = fresh();
    s.setExpiry(new Date(Date.now() + 90_000));
    await s.save();
    expect(await rowData(s.sessionKey!)).toEqual({ _session_expiry: 90 });
  });

  it('setExpiry(null) after a custom expiry: back to cookieAge, _session_expiry removed; modified', async () => {
    const s = fresh();
    s.setExpiry(10);
    s.setExpiry(null);
    expect(s.getExpiryAge()).toBe(AGE);
    const t = await reopened({ _session_expiry: 10 });
    t.setExpiry(null);
    expect(t.modified).toBe(true);
    expect(t.has('_session_expiry')).toBe(false);
  });

  it('setExpiry(null) without a custom expiry: not modified', async () => {
    const s = await reopened({ a: 1 });
    s.setExpiry(null);
    expect(s.modified).toBe(false);
  });

  it('setExpiry() refuses what is not seconds, a Date or null', () => {
    const s = fresh();
    expect(() => s.setExpiry(Number.NaN)).toThrow(TypeError);
    expect(() => s.setExpiry(new Date('nonsense'))).toThrow(TypeError);
    expect(() => s.setExpiry('10' as unknown as number)).toThrow(TypeError);
    expect(s.modified).toBe(false);
  });

  it('getExpireAtBrowserClose() with expireAtBrowserClose false: setExpiry(10) false, 0 true, null false', () => {
    const s = storeWith({ expireAtBrowserClose: false });
    s.setExpiry(10);
    expect(s.getExpireAtBrowserClose()).toBe(false);
    s.setExpiry(0);
    expect(s.getExpireAtBrowserClose()).toBe(true);
    s.setExpiry(null);
    expect(s.getExpireAtBrowserClose()).toBe(false);
  });

  it('getExpireAtBrowserClose() with expireAtBrowserClose true: setExpiry(10) false, 0 true, null true', () => {
    const s = storeWith({ expireAtBrowserClose: true });
    s.setExpiry(10);
    expect(s.getExpireAtBrowserClose()).toBe(false);
    s.setExpiry(0);
    expect(s.getExpireAtBrowserClose()).toBe(true);
    s.setExpiry(null);
    expect(s.getExpireAtBrowserClose()).toBe(true);
  });

  it('a different cookieAge is the default age, also after setExpiry(0) and setExpiry(null)', () => {
    const s = storeWith({ cookieAge: 86400 });
    expect(s.getExpiryAge()).toBe(86400);
    s.setExpiry(0);
    expect(s.getExpiryAge()).toBe(86400);
    s.setExpiry(null);
    expect(s.getExpiryAge()).toBe(86400);
  });

  it('the row\'s expire_date is the expiry date at save time', async () => {
    const s = fresh();
    s.set('a', 1);
    s.setExpiry(3600);
    const before = Date.now();
    await s.save();
    const row = await dataSource.getRepository(SessionEntity).findOneByOrFail({ sessionKey: s.sessionKey! });
    expect(row.expireDate.getTime()).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    expect(row.expireDate.getTime()).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000);
  });
});

describe('SessionStore test cookie and emptiness (SessionBaseTests)', () => {
  it('the test cookie: absent → setTestCookie() → testCookieWorked() → deleteTestCookie() → absent', () => {
    const s = fresh();
    expect(s.testCookieWorked()).toBe(false);
    s.setTestCookie();
    expect(s.get('testcookie')).toBe('worked');
    expect(s.testCookieWorked()).toBe(true);
    s.deleteTestCookie();
    expect(s.testCookieWorked()).toBe(false);
    expect(s.has('testcookie')).toBe(false);
  });

  it('a test cookie survives a save and reload (it is checked on the next request)', async () => {
    const s = fresh();
    s.setTestCookie();
    await s.save();
    expect((await sessions.load(s.sessionKey!)).testCookieWorked()).toBe(true);
  });

  it('a fresh store is empty; isEmpty() does not mark it accessed', () => {
    const s = fresh();
    expect(s.isEmpty()).toBe(true);
    expect(s.accessed).toBe(false);
  });

  it('a keyless store with data is not empty; a keyed store without data is not empty', async () => {
    const s = fresh();
    s.set('a', 1);
    expect(s.isEmpty()).toBe(false);
    const keyed = await sessions.create();
    expect(keyed.isEmpty()).toBe(false);
  });
});
