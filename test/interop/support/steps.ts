/**
 * Steps both interop suites take between the two servers with a Browser, and what they check of
 * them: interop.suite.ts (a shared django_session table) and engines.suite.ts (the other engines).
 */
import { Browser, parseSetCookie, type Reply } from './browser.js';
import type { Database } from './databases.js';
import type { DjangoEnv, Server } from './processes.js';
import { ALICE_AUTH, COOKIE_AGE, PYTHON_TYPES, VALUES, type SideName } from './values.js';

/** What a suite's `beforeAll` sets up: the database, the two servers, Django's settings and alice's id. */
export interface SuiteContext {
  db: Database;
  nest: Server;
  django: Server;
  djangoEnv: DjangoEnv;
  aliceId: number;
}

/** A suite's two servers by name. */
export type Sides = (name: SideName) => Server;

type SetCookie = ReturnType<typeof parseSetCookie>;

/** A cookie's attributes as compared across the sides: lower-cased values, any Expires as 'date'. */
const comparable = (c: SetCookie) => Object.fromEntries(Object.entries(c.attributes).map(([k, v]) => [k, k === 'expires' ? 'date' : v.toLowerCase()]));

/**
 * A first write on each side answers with one session cookie and `Vary: Cookie`; the two cookies
 * have the same name and attributes, Django's defaults. Resolves to them, [Nest's, Django's].
 */
export async function expectSameSessionCookie(side: Sides): Promise<[SetCookie, SetCookie]> {
  const [fromNest, fromDjango] = await Promise.all(
    (['Nest', 'Django'] as const).map(async (name) => {
      const reply = await new Browser().post(side(name), '/set', { a: 1 });
      expect(reply.setCookie).toHaveLength(1);
      expect(reply.vary).toMatch(/\bCookie\b/);
      return parseSetCookie(reply.setCookie[0]!);
    }),
  );
  expect(fromNest!.name).toBe(fromDjango!.name);
  expect(comparable(fromNest!)).toEqual(comparable(fromDjango!));
  expect(comparable(fromDjango!)).toEqual({ expires: 'date', httponly: '', 'max-age': String(COOKIE_AGE), path: '/', samesite: 'lax' });
  return [fromNest!, fromDjango!];
}

/** `writerName` stores VALUES in a new session: 200, and a key of `keyFormat`. Resolves to the browser holding it, the reply and the key. */
export async function expectValuesWritten(side: Sides, writerName: SideName, keyFormat: RegExp): Promise<{ browser: Browser; write: Reply; key: string }> {
  const browser = new Browser();
  const write = await browser.post(side(writerName), '/set', VALUES);
  expect(write.status).toBe(200);
  const key = browser.cookie!;
  expect(key).toMatch(keyFormat);
  return { browser, write, key };
}

/**
 * `browser`, holding `key` (a session just written with VALUES), reads it on `readerName` through
 * the cookie: the same key, values and expiry age (and Python types on Django), nothing saved.
 */
export async function expectValuesRead(browser: Browser, side: Sides, readerName: SideName, key: string): Promise<void> {
  const read = await browser.get(side(readerName), '/session');
  expect(read.body.key).toBe(key);
  expect(read.body.data).toEqual(VALUES);
  expect(read.body.expiry_age).toBe(COOKIE_AGE);
  expect(read.body.browser_close).toBe(false);
  if (readerName === 'Django') expect(read.body.types).toEqual(PYTHON_TYPES);
  expect(read.setCookie).toEqual([]); // a read saves nothing
  expect(browser.cookie).toBe(key);
}

/**
 * `writerName` stores a cart, then logs alice in: a new key (login cycles it: no session fixation)
 * of `keyFormat`; `readerName` reads the cart and Django's `_auth_user_*` keys, and both sides say
 * alice is the user (the reader checks `_auth_user_hash` against her password hash, with the shared
 * SECRET_KEY). Resolves to the key from before the login.
 */
export async function expectLoginCrosses(side: Sides, writerName: SideName, readerName: SideName, keyFormat: RegExp, aliceId: number): Promise<string> {
  const browser = new Browser();
  await browser.post(side(writerName), '/set', { cart: ['apple'] });
  const anonymousKey = browser.cookie!;
  const login = await browser.post(side(writerName), '/login', { username: 'alice' });
  expect(login.status).toBe(200);
  expect(browser.cookie).toMatch(keyFormat);
  expect(browser.cookie).not.toBe(anonymousKey);

  const read = await browser.get(side(readerName), '/session');
  expect(read.body.data).toEqual({ cart: ['apple'], _auth_user_id: String(aliceId), ...ALICE_AUTH });
  expect((await browser.get(side(readerName), '/whoami')).body).toEqual({ user: 'alice' });
  expect((await browser.get(side(writerName), '/whoami')).body).toEqual({ user: 'alice' });
  return anonymousKey;
}

/**
 * The session a modify-cycle-logout test starts from: `creator` logs alice in and stores a cart, a
 * profile and visits; `other` updates it (one Set-Cookie: the same key when `updateKeepsKey`, else
 * a new one, as a signed cookie is the data) and pops `visits`; `creator` reads the result and
 * still says alice. Resolves to the browser, the key `creator` made and what `creator` read.
 */
export async function expectLoggedInSessionModified(
  creator: Server,
  other: Server,
  aliceId: number,
  updateKeepsKey: boolean,
): Promise<{ browser: Browser; createdKey: string; afterModify: Reply }> {
  const browser = new Browser();
  await browser.post(creator, '/login', { username: 'alice' });
  await browser.post(creator, '/set', { cart: ['apple'], profile: { name: 'Zoë', langs: ['fr', '日本語'] }, visits: 1 });
  const createdKey = browser.cookie!;

  const modified = await browser.post(other, '/set', { cart: ['apple', 'pear'], visits: 2 });
  expect(modified.setCookie).toHaveLength(1);
  if (updateKeepsKey) expect(browser.cookie).toBe(createdKey); // an update keeps the key
  else expect(browser.cookie).not.toBe(createdKey); // the cookie is the data
  await browser.post(other, '/pop', { key: 'visits' });
  const afterModify = await browser.get(creator, '/session');
  expect(afterModify.body.data).toEqual({
    _auth_user_id: String(aliceId),
    ...ALICE_AUTH,
    cart: ['apple', 'pear'],
    profile: { name: 'Zoë', langs: ['fr', '日本語'] },
  });
  expect((await browser.get(creator, '/whoami')).body).toEqual({ user: 'alice' });
  return { browser, createdKey, afterModify };
}

/**
 * `writerName` stores `{ x: writerName }` and gives it set_expiry(`seconds`): the expiry age it
 * answers, and the cookie's Max-Age, are `seconds`. Resolves to that reply and the session's key.
 */
export async function expectExpirySet(side: Sides, writerName: SideName, seconds: number): Promise<{ set: Reply; key: string }> {
  const browser = new Browser();
  await browser.post(side(writerName), '/set', { x: writerName });
  const set = await browser.post(side(writerName), '/expiry', { seconds });
  const key = browser.cookie!;
  expect(set.body.expiry_age).toBe(seconds);
  expect(parseSetCookie(set.setCookie[0]!).attributes['max-age']).toBe(String(seconds));
  return { set, key };
}

/**
 * A session Django makes with `{ x: 1 }`, then gives `set_expiry(date)` a minute from now (what
 * Django stores for it differs by version: a datetime on 3.2, its isoformat() str on 4.1+).
 * Resolves to the browser holding its cookie, the key, the target instant and Django's reply.
 */
export async function djangoSessionWithDateExpiry(django: Server): Promise<{ browser: Browser; key: string; target: number; set: Reply }> {
  const browser = new Browser();
  await browser.post(django, '/set', { x: 1 });
  const target = Date.now() + 60_000;
  const set = await browser.post(django, '/expiry', { date: new Date(target).toISOString() });
  return { browser, key: browser.cookie!, target, set };
}
