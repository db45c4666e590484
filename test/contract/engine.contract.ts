/**
 * The contract every engine keeps — Django's `SessionTestsMixin` run against each backend, in
 * spirit: `load`, `exists`, `save(mustCreate)` with `CreateError`/`UpdateError`, `create`,
 * `delete`, `clearExpired`, expiry, and the session's data coming back exactly (types, unicode,
 * key order). Run unchanged on every engine × store by the *.spec.ts files beside it; each
 * target says only how to build its engine on a fresh, private store.
 *
 * Engines that store nothing (signed cookies) keep their own part of it: see `stores`.
 */
import {
  CreateError,
  SessionBackend,
  UpdateError,
  type SessionExpiry,
} from '../../src/index.js';
import { describeWith, type Service } from '../support/env.js';

export interface EngineTarget {
  /** Shown in the suite title, e.g. "db on sqlite3". */
  title: string;
  services?: Service[];
  /** A fresh engine on a private store (an empty table, directory or key prefix); `close` drops it. */
  open(env: Record<Service, string>): Promise<{ backend: SessionBackend; close(): Promise<void> }>;
  /** False for engines whose key is the data (signed cookies): no CreateError/UpdateError, nothing to delete. */
  stores?: boolean;
  /** False for an engine that never notes a loaded session's stored expiry (`touchAfter` then never touches its sessions). Default true. */
  notesExpiry?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const inSeconds = (age: number): SessionExpiry => ({ date: new Date(Date.now() + age * 1000), age });
const DAY = inSeconds(86_400);
const map = (object: Record<string, unknown>) => new Map(Object.entries(object));

/** Every JSON type Django stores, unicode Python escapes, integer-like keys in their own order. */
const VALUES = new Map<string, unknown>([
  ['b', 'second key, listed first'],
  ['10', 'an integer-like key after "b" (a JS object would move it first)'],
  ['int', 42],
  ['negative', -7],
  ['big', 9007199254740991],
  ['float', 1.5],
  ['yes', true],
  ['no', false],
  ['nothing', null],
  ['text', 'Zoë — 日本語 😀 "quoted" \\ back\nslash </script> \u007f \u2028'],
  ['list', [1, 'two', [3], { four: 4 }]],
  ['nested', { a: { b: { c: [true, null, 0.25] } }, 'key with spaces': 'v' }],
  ['empty_object', {}],
  ['empty_list', []],
  ['_auth_user_id', '1'],
]);

export function defineEngineContract(target: EngineTarget): void {
  const stores = target.stores ?? true;
  describeWith(target.services ?? [], `engine contract: ${target.title}`, (env) => {
    let backend: SessionBackend;
    let close: () => Promise<void>;

    beforeAll(async () => {
      ({ backend, close } = await target.open(env));
    }, 60_000);

    afterAll(async () => {
      await close?.();
    }, 60_000);

    it('isValidKey() refuses what cannot name a session before any I/O: empty, too short, path tricks, non-strings', () => {
      for (const junk of ['', 'abc', '../../../../etc/passwd', 'a/b/c/d/e/f/g/h', 'x'.repeat(5000), undefined, null, 42]) {
        expect(backend.isValidKey(junk)).toBe(false);
      }
    });

    it('create() stores the data under a new valid key; load() gives it back exactly, keys in order', async () => {
      const key = await backend.create(VALUES, DAY);
      expect(backend.isValidKey(key)).toBe(true);
      const loaded = await backend.load(key);
      expect([...loaded!.keys()]).toEqual([...VALUES.keys()]);
      expect(Object.fromEntries(loaded!)).toEqual(Object.fromEntries(VALUES));
    });

    it('an empty session round-trips as an empty map (not as "no session")', async () => {
      const key = await backend.create(new Map(), DAY);
      expect(await backend.load(key)).toEqual(new Map());
    });

    if (stores) {
      // (A signed cookie cannot hold it: that engine refuses it at save; see its own suite.)
      it('a 100 KB value round-trips', async () => {
        const big = map({ blob: 'session '.repeat(12_800) });
        const key = await backend.create(big, DAY);
        expect(await backend.load(key)).toEqual(big);
      });

      it('an unknown key: load() is null, exists() is false, delete() is no error', async () => {
        const key = backend.newKey();
        await expect(backend.load(key)).resolves.toBeNull();
        await expect(backend.exists(key)).resolves.toBe(false);
        await expect(backend.delete(key)).resolves.toBeUndefined();
      });

      it('new keys are 32 characters of [a-z0-9] and differ', () => {
        const keys = new Set(Array.from({ length: 50 }, () => backend.newKey()));
        expect(keys.size).toBe(50);
        for (const key of keys) expect(key).toMatch(/^[a-z0-9]{32}$/);
      });

      it('save(mustCreate) on a taken key: CreateError, the stored data unchanged', async () => {
        const key = await backend.create(map({ first: 1 }), DAY);
        await expect(backend.exists(key)).resolves.toBe(true);
        await expect(backend.save(key, map({ second: 2 }), DAY, true)).rejects.toBeInstanceOf(CreateError);
        expect(await backend.load(key)).toEqual(map({ first: 1 }));
      });

      it('two concurrent creates of one key: exactly one wins, the other gets CreateError', async () => {
        const key = backend.newKey();
        const results = await Promise.allSettled([backend.save(key, map({ n: 1 }), DAY, true), backend.save(key, map({ n: 2 }), DAY, true)]);
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(rejected).toHaveLength(1);
        expect(rejected[0]!.reason).toBeInstanceOf(CreateError);
        expect([1, 2]).toContain((await backend.load(key))!.get('n'));
      });

      it('save() updates in place under the same key', async () => {
        const key = await backend.create(map({ v: 'before' }), DAY);
        await expect(backend.save(key, map({ v: 'after', more: [1] }), DAY, false)).resolves.toBe(key);
        expect(await backend.load(key)).toEqual(map({ v: 'after', more: [1] }));
      });

      it('save() of a session deleted meanwhile: UpdateError, and it is not resurrected', async () => {
        const key = await backend.create(map({ user: 'alice' }), DAY);
        await backend.delete(key); // a logout in another tab
        await expect(backend.save(key, map({ user: 'alice', cart: 1 }), DAY, false)).rejects.toBeInstanceOf(UpdateError);
        await expect(backend.exists(key)).resolves.toBe(false);
        await expect(backend.load(key)).resolves.toBeNull();
      });

      it('save() of a key that never existed: UpdateError', async () => {
        await expect(backend.save(backend.newKey(), map({ a: 1 }), DAY, false)).rejects.toBeInstanceOf(UpdateError);
      });

      it('delete() removes the session', async () => {
        const key = await backend.create(map({ bye: true }), DAY);
        await backend.delete(key);
        await expect(backend.load(key)).resolves.toBeNull();
        await expect(backend.exists(key)).resolves.toBe(false);
      });

      it('a session saved with a 1-second expiry is gone after it; one with a day is not', async () => {
        // As SessionStore saves a session after setExpiry(1): the data says it too.
        const short = await backend.create(map({ _session_expiry: 1, v: 'short' }), inSeconds(1));
        const long = await backend.create(map({ v: 'long' }), DAY);
        expect((await backend.load(short))?.get('v')).toBe('short');
        await sleep(2100);
        await expect(backend.load(short)).resolves.toBeNull();
        expect((await backend.load(long))?.get('v')).toBe('long');
      });
    } else {
      it('exists() is always false and delete() does nothing (nothing is stored)', async () => {
        const key = await backend.create(map({ a: 1 }), DAY);
        await expect(backend.exists(key)).resolves.toBe(false);
        await backend.delete(key);
        expect(await backend.load(key)).toEqual(map({ a: 1 }));
      });

      it('every save makes a new key holding the data; the old key keeps the old data', async () => {
        const first = await backend.create(map({ v: 1 }), DAY);
        await sleep(1100); // a new timestamp
        const second = await backend.save(first, map({ v: 2 }), DAY, false);
        expect(second).not.toBe(first);
        expect(await backend.load(second)).toEqual(map({ v: 2 }));
      });
    }

    describe('touch() (the touchAfter option)', () => {
      const cheap = () => backend.touch !== SessionBackend.prototype.touch;

      it('a session touched with a new expiry outlives its old one, under the same key (stores) and with its data', async () => {
        const data = map({ _session_expiry: 2, v: 'touched' });
        const key = await backend.create(data, inSeconds(2));
        await sleep(1200);
        const touched = await backend.touch(key, data, inSeconds(2));
        if (stores) expect(touched).toBe(key);
        await sleep(1200); // 2.4 s after the save, 1.2 s after the touch
        expect(await backend.load(touched)).toEqual(data);
        // Not left to expire during the clearExpired() test below (which counts what it sweeps).
        if (stores) await backend.delete(touched);
      });

      if (stores) {
        it('touch() of a session deleted meanwhile: UpdateError, and it is not resurrected', async () => {
          const key = await backend.create(map({ user: 'alice' }), DAY);
          await backend.delete(key);
          await expect(backend.touch(key, map({ user: 'alice' }), DAY)).rejects.toBeInstanceOf(UpdateError);
          await expect(backend.load(key)).resolves.toBeNull();
        });

        it('an engine with a touch of its own writes the expiry alone: the stored data stays as it was', async () => {
          if (!cheap()) return; // the default touch() is a full save
          const key = await backend.create(map({ v: 'stored' }), DAY);
          await backend.touch(key, map({ v: 'not written' }), inSeconds(2 * 86_400));
          expect(await backend.load(key)).toEqual(map({ v: 'stored' }));
        });
      }

      if (target.notesExpiry ?? true) {
        it('load() notes when the stored expiry was set only while tracksStoredExpiry is on; a touch moves it', async () => {
          const tracked = backend.tracksStoredExpiry;
          try {
            const key = await backend.create(map({ v: 1 }), inSeconds(600));
            backend.tracksStoredExpiry = false;
            expect(SessionBackend.storedExpiryOf((await backend.load(key))!)).toBeUndefined();
            backend.tracksStoredExpiry = true;
            const first = SessionBackend.storedExpiryOf((await backend.load(key))!);
            // When it expires (db, cache: now + 600 s), or when it was written (file, signed cookies: now).
            const setAt = (note: typeof first) => (note === undefined ? NaN : 'writtenAt' in note ? note.writtenAt : note.expiresAt - 600_000);
            expect(Math.abs(setAt(first) - Date.now())).toBeLessThan(2000);
            await sleep(1100);
            const touched = await backend.touch(key, map({ v: 1 }), inSeconds(600));
            const second = SessionBackend.storedExpiryOf((await backend.load(touched))!);
            expect(setAt(second) - setAt(first)).toBeGreaterThanOrEqual(900);
          } finally {
            backend.tracksStoredExpiry = tracked;
          }
        });
      }
    });

    it('clearExpired(): removes exactly the expired sessions and counts them, or is a no-op where the store expires them itself', async () => {
      await backend.clearExpired(); // whatever earlier tests left
      const expired = await Promise.all([1, 2].map((n) => backend.create(map({ _session_expiry: 1, n }), inSeconds(1))));
      const live = await backend.create(map({ n: 3 }), DAY);
      await sleep(2100);
      const count = await backend.clearExpired();
      if (backend.sweepsExpired) {
        expect(count).toBe(2);
        for (const key of expired) await expect(backend.exists(key)).resolves.toBe(false);
      } else {
        expect(count).toBe(0);
      }
      expect((await backend.load(live))?.get('n')).toBe(3);
      await expect(backend.clearExpired()).resolves.toBe(0);
    });
  });
}
