/**
 * login / logout / getUser / updateSessionAuthHash: what django.contrib.auth does to a session
 * (login(), logout(), get_user(), update_session_auth_hash() of Django 3.2, plus 4.1.8's fallback
 * keys), on real SessionStores of a Nest application context over a temporary SQLite file. The
 * `_auth_user_hash` values are Django's own (test/fixtures/django-auth/hashes.json).
 */
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { resolveSessionOptions, SessionService, SessionStore } from '../../src/index.js';
import {
  AUTH_SESSION_KEYS,
  getUser,
  login,
  logout,
  MODEL_BACKEND,
  sessionAuthHash,
  updateSessionAuthHash,
} from '../../src/exports/auth.js';
import { startSessionContext, type SessionContext } from '../support/app.js';

const fixtures = JSON.parse(readFileSync(new URL('../fixtures/django-auth/hashes.json', import.meta.url), 'utf8')) as {
  django: string;
  session_auth_hash: Array<[string, string, string, string]>;
};
/** A stored password hash, a SECRET_KEY, and Django's get_session_auth_hash() / legacy SHA-1 hash for them. */
const [PASSWORD, SECRET, DJANGO_HASH, DJANGO_LEGACY_HASH] = fixtures.session_auth_hash[0]!;
/** The same user after a password change (another stored hash). */
const NEW_PASSWORD = fixtures.session_auth_hash[1]![0];
const OLD_SECRET = 'the-secret-before-rotation';

let t: SessionContext;
let sessions: SessionService;

beforeAll(async () => {
  t = await startSessionContext({ label: 'unit-auth', session: { secretKey: SECRET } });
  sessions = t.sessions;
});

afterAll(() => t?.close());

const alice = { id: 5, password: PASSWORD };
const bob = { id: 6, password: fixtures.session_auth_hash[1]![0] };

/** A saved session holding `data`, re-opened from the database. */
async function stored(data: Record<string, unknown>): Promise<SessionStore> {
  const created = await sessions.create(data);
  return sessions.load(created.sessionKey!);
}

/** A session logged in (by Django's rules) as `user`, saved and re-opened. */
async function loggedIn(user: { id: number; password: string }, extra: Record<string, unknown> = {}, secretKey = SECRET): Promise<SessionStore> {
  return stored({
    ...extra,
    [AUTH_SESSION_KEYS.userId]: String(user.id),
    [AUTH_SESSION_KEYS.backend]: MODEL_BACKEND,
    [AUTH_SESSION_KEYS.hash]: sessionAuthHash(user.password, secretKey),
  });
}

/** A lookup over `users` that records what it was asked for. */
function lookupOf(...users: Array<{ id: number; password: string }>) {
  const asked: string[] = [];
  const lookup = async (id: string) => {
    asked.push(id);
    return users.find((u) => String(u.id) === id) ?? null;
  };
  return Object.assign(lookup, { asked });
}

describe('login()', () => {
  it(`writes what Django ${fixtures.django}'s login() writes: the id as a string, ModelBackend, get_session_auth_hash()`, async () => {
    const session = new SessionStore(sessions, null, null);
    await login(session, alice);
    expect(session.toJSON()).toEqual({
      _auth_user_id: '5',
      _auth_user_backend: 'django.contrib.auth.backends.ModelBackend',
      _auth_user_hash: DJANGO_HASH,
    });
    await session.save();
    expect((await sessions.load(session.sessionKey!)).toJSON()).toEqual(session.toJSON());
  });

  it('an anonymous session keeps its data under a new key; the old row is deleted', async () => {
    const session = await stored({ cart: [1, 2] });
    const oldKey = session.sessionKey!;
    await login(session, alice);
    expect(session.sessionKey).not.toBe(oldKey);
    expect(session.get('cart')).toEqual([1, 2]);
    await expect(sessions.exists(oldKey)).resolves.toBe(false);
    await session.save();
    expect((await sessions.load(session.sessionKey!)).get(AUTH_SESSION_KEYS.userId)).toBe('5');
  });

  it('a session of another user is flushed first: none of its data survives', async () => {
    const session = await loggedIn(bob, { cart: ['bob'] });
    const oldKey = session.sessionKey!;
    await login(session, alice);
    expect(session.toJSON()).toEqual({ _auth_user_id: '5', _auth_user_backend: MODEL_BACKEND, _auth_user_hash: DJANGO_HASH });
    await expect(sessions.exists(oldKey)).resolves.toBe(false);
    await session.save();
    expect(session.sessionKey).not.toBe(oldKey);
  });

  it('the same user under an older password hash is flushed too', async () => {
    const session = await loggedIn({ id: 5, password: NEW_PASSWORD }, { cart: ['old'] });
    const oldKey = session.sessionKey!;
    await login(session, alice);
    expect(session.has('cart')).toBe(false);
    await expect(sessions.exists(oldKey)).resolves.toBe(false);
  });

  it('the same user with the same hash: neither flushed nor cycled (Django leaves the session as it is)', async () => {
    const session = await loggedIn(alice, { cart: ['kept'] });
    const key = session.sessionKey;
    await login(session, alice);
    expect(session.sessionKey).toBe(key);
    expect(session.get('cart')).toEqual(['kept']);
  });

  it('an id stored as a number by other code is still the same user', async () => {
    const session = await stored({ _auth_user_id: 5, _auth_user_backend: MODEL_BACKEND, _auth_user_hash: DJANGO_HASH, cart: ['kept'] });
    await login(session, alice);
    expect(session.get('cart')).toEqual(['kept']);
    expect(session.get(AUTH_SESSION_KEYS.userId)).toBe('5');
  });

  it('a missing or non-string stored hash counts as another login: flushed', async () => {
    for (const hash of [undefined, null, 42]) {
      const data: Record<string, unknown> = { _auth_user_id: '5', _auth_user_backend: MODEL_BACKEND, cart: ['x'] };
      if (hash !== undefined) data._auth_user_hash = hash;
      const session = await stored(data);
      await login(session, alice);
      expect(session.has('cart')).toBe(false);
    }
  });

  it('records the given backend, and primary keys of every kind as Django writes them', async () => {
    const session = new SessionStore(sessions, null, null);
    await login(session, { id: 10n ** 20n, password: PASSWORD }, { backend: 'accounts.backends.EmailBackend' });
    expect(session.get(AUTH_SESSION_KEYS.userId)).toBe('100000000000000000000');
    expect(session.get(AUTH_SESSION_KEYS.backend)).toBe('accounts.backends.EmailBackend');
    await login(session, { id: '0b6e8a4e-6c5c-4c1c-9f53-2b1f1c1d8a11', password: PASSWORD });
    expect(session.get(AUTH_SESSION_KEYS.userId)).toBe('0b6e8a4e-6c5c-4c1c-9f53-2b1f1c1d8a11');
  });

  it('signs with the module\'s secretKey by default, or the one given', async () => {
    const session = new SessionStore(sessions, null, null);
    await login(session, alice, { secretKey: 'another' });
    expect(session.get(AUTH_SESSION_KEYS.hash)).toBe(sessionAuthHash(PASSWORD, 'another'));
    expect(session.get(AUTH_SESSION_KEYS.hash)).not.toBe(DJANGO_HASH);
  });

  it.each([
    ['an id that is not a key', { id: 1.5, password: PASSWORD }, /id must be/],
    ['an object id', { id: {}, password: PASSWORD }, /id must be/],
    ['a password that was not selected', { id: 5, password: undefined }, /stored hash/],
  ])('refuses %s, leaving the session untouched', async (_title, user, message) => {
    const session = await stored({ cart: [1] });
    const key = session.sessionKey;
    await expect(login(session, user as never)).rejects.toThrow(message);
    expect(session.sessionKey).toBe(key);
    expect(session.toJSON()).toEqual({ cart: [1] });
  });

  it('needs secretKey when the session does not come from a SessionModule', async () => {
    const session = await stored({});
    const orphan = Object.create(SessionStore.prototype) as SessionStore;
    await expect(login(orphan, alice)).rejects.toThrow(/pass `secretKey`/);
    await expect(login(session, alice, { secretKey: '' })).rejects.toThrow(/non-empty/);
  });
});

describe('logout()', () => {
  it('flushes: data gone, row deleted, no key', async () => {
    const session = await loggedIn(alice, { cart: [1] });
    const key = session.sessionKey!;
    await logout(session);
    expect(session.toJSON()).toEqual({});
    expect(session.sessionKey).toBeNull();
    await expect(sessions.exists(key)).resolves.toBe(false);
  });
});

describe('getUser()', () => {
  it('returns the user whose hash matches; the lookup gets the id as a string', async () => {
    const session = await loggedIn(alice);
    const lookup = lookupOf(alice, bob);
    await expect(getUser(session, lookup)).resolves.toBe(alice);
    expect(lookup.asked).toEqual(['5']);
  });

  it('accepts what Django wrote (its own hash value)', async () => {
    const session = await stored({ _auth_user_id: '5', _auth_user_backend: MODEL_BACKEND, _auth_user_hash: DJANGO_HASH });
    await expect(getUser(session, lookupOf(alice))).resolves.toBe(alice);
  });

  it('an anonymous session is null without a lookup', async () => {
    const lookup = lookupOf(alice);
    await expect(getUser(new SessionStore(sessions, null, null), lookup)).resolves.toBeNull();
    await expect(getUser(await stored({ cart: [1] }), lookup)).resolves.toBeNull();
    expect(lookup.asked).toEqual([]);
  });

  it.each([
    ['no _auth_user_backend', { _auth_user_id: '5', _auth_user_hash: DJANGO_HASH }],
    ['a backend not in AUTHENTICATION_BACKENDS', { _auth_user_id: '5', _auth_user_backend: 'other.Backend', _auth_user_hash: DJANGO_HASH }],
    ['a null id', { _auth_user_id: null, _auth_user_backend: MODEL_BACKEND, _auth_user_hash: DJANGO_HASH }],
    ['a user that no longer exists', { _auth_user_id: '99', _auth_user_backend: MODEL_BACKEND, _auth_user_hash: DJANGO_HASH }],
  ])('%s: null, and the session is kept (as Django)', async (_title, data) => {
    const session = await stored({ ...data, cart: [1] });
    await expect(getUser(session, lookupOf(alice))).resolves.toBeNull();
    expect(session.get('cart')).toEqual([1]);
    await expect(sessions.exists(session.sessionKey!)).resolves.toBe(true);
  });

  it('accepts another backend when it is listed in `backends`', async () => {
    const session = await stored({ _auth_user_id: '5', _auth_user_backend: 'accounts.EmailBackend', _auth_user_hash: DJANGO_HASH });
    await expect(getUser(session, lookupOf(alice), { backends: [MODEL_BACKEND, 'accounts.EmailBackend'] })).resolves.toBe(alice);
  });

  it('after a password change the hash no longer matches: null, and the session is flushed (row deleted)', async () => {
    const session = await loggedIn(alice, { cart: [1] });
    const key = session.sessionKey!;
    await expect(getUser(session, lookupOf({ id: 5, password: NEW_PASSWORD }))).resolves.toBeNull();
    expect(session.toJSON()).toEqual({});
    await expect(sessions.exists(key)).resolves.toBe(false);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['not a string', 42],
    ['one character short', DJANGO_HASH.slice(0, -1)],
  ])('a hash that is %s: flushed', async (_title, hash) => {
    const data: Record<string, unknown> = { _auth_user_id: '5', _auth_user_backend: MODEL_BACKEND };
    if (hash !== undefined) data._auth_user_hash = hash;
    const session = await stored(data);
    await expect(getUser(session, lookupOf(alice))).resolves.toBeNull();
    expect(session.sessionKey).toBeNull();
  });

  describe('secretKeyFallbacks (Django 4.1.8+, ticket #34384)', () => {
    it('a hash made with a fallback key is accepted, the key cycled and the hash replaced', async () => {
      const session = await loggedIn(alice, { cart: [1] }, OLD_SECRET);
      const oldKey = session.sessionKey!;
      await expect(getUser(session, lookupOf(alice), { secretKey: SECRET, secretKeyFallbacks: [OLD_SECRET] })).resolves.toBe(alice);
      expect(session.get(AUTH_SESSION_KEYS.hash)).toBe(DJANGO_HASH);
      expect(session.get('cart')).toEqual([1]);
      expect(session.sessionKey).not.toBe(oldKey);
      await expect(sessions.exists(oldKey)).resolves.toBe(false);
    });

    it("defaults to the module's secretKey and secretKeyFallbacks", async () => {
      const saved = await loggedIn(alice, {}, OLD_SECRET);
      const rotated = resolveSessionOptions({ secretKey: SECRET, secretKeyFallbacks: [OLD_SECRET] });
      const session = new SessionStore({ options: rotated, backend: sessions.backend }, saved.sessionKey, new Map(Object.entries(saved.toJSON())));
      await expect(getUser(session, lookupOf(alice))).resolves.toBe(alice);
      expect(session.get(AUTH_SESSION_KEYS.hash)).toBe(DJANGO_HASH);
    });

    it('without the fallback the old hash is a mismatch: flushed', async () => {
      const session = await loggedIn(alice, {}, OLD_SECRET);
      await expect(getUser(session, lookupOf(alice))).resolves.toBeNull();
      expect(session.sessionKey).toBeNull();
    });
  });

  describe('legacyHash: the SHA-1 hash of Django < 3.1, which 3.2 accepts', () => {
    const legacyLogin = { _auth_user_id: '5', _auth_user_backend: MODEL_BACKEND, _auth_user_hash: DJANGO_LEGACY_HASH };

    it(`accepts Django ${fixtures.django}'s _legacy_get_session_auth_hash() with legacyHash: true, as is`, async () => {
      const session = await stored(legacyLogin);
      const key = session.sessionKey;
      await expect(getUser(session, lookupOf(alice), { legacyHash: true })).resolves.toBe(alice);
      expect(session.sessionKey).toBe(key);
      expect(session.get(AUTH_SESSION_KEYS.hash)).toBe(DJANGO_LEGACY_HASH);
    });

    it("accepts it by default when the session's module says djangoVersion: '3.2'", async () => {
      const django32 = await startSessionContext({ label: 'unit-auth-32', session: { secretKey: SECRET, djangoVersion: '3.2' } });
      try {
        const session = await django32.sessions.load((await django32.sessions.create(legacyLogin)).sessionKey!);
        await expect(getUser(session, lookupOf(alice))).resolves.toBe(alice);
        expect(session.get(AUTH_SESSION_KEYS.hash)).toBe(DJANGO_LEGACY_HASH);
      } finally {
        await django32.close();
      }
    });

    it('refuses it by default (djangoVersion 5.2, as Django 4.0+): flushed', async () => {
      const session = await stored(legacyLogin);
      await expect(getUser(session, lookupOf(alice))).resolves.toBeNull();
      expect(session.sessionKey).toBeNull();
    });

    it('refuses it with legacyHash: false (Django 4.0+): flushed', async () => {
      const session = await stored(legacyLogin);
      await expect(getUser(session, lookupOf(alice), { legacyHash: false })).resolves.toBeNull();
      expect(session.sessionKey).toBeNull();
    });
  });

  it('a failing lookup rejects and leaves the session alone', async () => {
    const session = await loggedIn(alice, { cart: [1] });
    await expect(getUser(session, () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    expect(session.get('cart')).toEqual([1]);
    await expect(sessions.exists(session.sessionKey!)).resolves.toBe(true);
  });

  it('a user without its password column is a TypeError, not a logout', async () => {
    const session = await loggedIn(alice);
    await expect(getUser(session, async () => ({ id: 5 }) as never)).rejects.toThrow(/stored hash/);
    await expect(sessions.exists(session.sessionKey!)).resolves.toBe(true);
  });

  it('accepts a synchronous lookup', async () => {
    const session = await loggedIn(alice);
    await expect(getUser(session, () => alice)).resolves.toBe(alice);
  });
});

describe('updateSessionAuthHash()', () => {
  it("keeps the current session logged in after the user's password change; the other sessions end", async () => {
    const here = await loggedIn(alice, { cart: [1] });
    const elsewhere = await loggedIn(alice);
    const oldKey = here.sessionKey!;
    const changed = { id: 5, password: NEW_PASSWORD };
    await updateSessionAuthHash(here, changed);
    expect(here.sessionKey).not.toBe(oldKey);
    expect(here.get('cart')).toEqual([1]);
    await expect(getUser(here, lookupOf(changed))).resolves.toBe(changed);
    await expect(getUser(elsewhere, lookupOf(changed))).resolves.toBeNull();
  });

  it("only cycles the key of a session that is not this user's", async () => {
    const session = await loggedIn(bob);
    await updateSessionAuthHash(session, { id: 5, password: NEW_PASSWORD });
    expect(session.get(AUTH_SESSION_KEYS.hash)).toBe(sessionAuthHash(bob.password, SECRET));
  });
});
