/**
 * `DjangoAuthModule`, `@LoginRequired()`, `@UserPassesTest()` and `@CurrentUser()` (Django's
 * `login_required`, `user_passes_test` and `request.user`) on Express and Fastify controllers,
 * GraphQL resolvers (Apollo, Mercurius) and WebSocket gateways (socket.io, ws): real servers,
 * real clients, sessions stored in the SQLite file as Django's `login()` leaves them. The user
 * lookup is counted: once per request, operation or message, and never where nothing asks.
 */
import { Controller, Get, Module } from '@nestjs/common';
import { Query, Resolver } from '@nestjs/graphql';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import {
  CurrentUser,
  DjangoAuthModule,
  LoginRequired,
  MODEL_BACKEND,
  UserPassesTest,
  makeDjangoPassword,
  sessionAuthHash,
  type DjangoAuthModuleOptions,
} from '../../src/exports/auth.js';
import { SessionRoutes } from '../../src/session.routes.js';
import { PLATFORMS, sessionCookieOf, startApp, TEST_SECRET, unknownKey, type Client, type TestApp } from '../support/app.js';
import { ADAPTERS, connect, reply, useAdapter, type SocketClient } from '../support/sockets.js';
import { graphqlModule, GRAPHQL_DRIVERS } from '../support/graphql.js';

/** A row of Django's auth_user, as the app's repository gives it. */
interface User {
  id: number;
  username: string;
  password: string;
  is_staff: boolean;
}

const USERS: User[] = [];
/** Every `loadUser` call, in order (the primary keys asked for). */
const lookups: string[] = [];
const loadUser = async (id: string): Promise<User | null> => {
  lookups.push(id);
  await new Promise((resolve) => setTimeout(resolve, 2)); // a real lookup takes a while: callers overlap
  return USERS.find((u) => u.id === Number(id)) ?? null;
};
const user = (name: string) => USERS.find((u) => u.username === name)!;

beforeAll(async () => {
  USERS.push(
    { id: 1, username: 'alice', password: await makeDjangoPassword('alice pw', { iterations: 1000 }), is_staff: false },
    { id: 2, username: 'root', password: await makeDjangoPassword('root pw', { iterations: 1000 }), is_staff: true },
  );
});

/** What Django's `login()` stores for `name` (or, with `hash`, a login made before a password change). */
function loginKeys(name: string, hash?: string) {
  return { _auth_user_id: String(user(name).id), _auth_user_backend: MODEL_BACKEND, _auth_user_hash: hash ?? sessionAuthHash(user(name).password, TEST_SECRET) };
}

/** A client of `t` holding a stored session logged in as `name` (plus `extra`). */
async function loggedIn(t: TestApp, name: string, extra: Record<string, unknown> = {}, hash?: string): Promise<{ client: Client; key: string }> {
  const key = await t.store.put(unknownKey(), { ...extra, ...loginKeys(name, hash) }, Date.now() + 3600_000);
  const client = t.client();
  client.jar.set('sessionid', key);
  return { client, key };
}

const isStaff = async (u: User) => u.is_staff;

// ---- HTTP --------------------------------------------------------------------------------------

@Controller('lr')
class PagesController {
  @Get('page')
  @LoginRequired()
  page(@CurrentUser() current: User) {
    return { user: current.username };
  }

  @Get('p/:slug')
  @LoginRequired()
  slug() {
    return 'slug';
  }

  @Get('api')
  @LoginRequired({ unauthenticated: 401 })
  api() {
    return 'api';
  }

  @Get('api403')
  @LoginRequired({ unauthenticated: 403 })
  api403() {
    return 'api403';
  }

  @Get('custom')
  @LoginRequired({ loginUrl: '/login/?from=app&x=a+b', redirectFieldName: 'goto' })
  custom() {
    return 'custom';
  }

  @Get('no-next')
  @LoginRequired({ redirectFieldName: null })
  noNext() {
    return 'no-next';
  }

  @Get('elsewhere')
  @LoginRequired({ loginUrl: 'https://accounts.example.com/login/' })
  elsewhere() {
    return 'elsewhere';
  }

  @Get('staff')
  @UserPassesTest(isStaff)
  staff(@CurrentUser() current: User) {
    return { staff: current.username };
  }

  @Get('whoami')
  whoami(@CurrentUser() current: User | null) {
    return { user: current?.username ?? null };
  }

  @Get('plain')
  plain() {
    return 'plain';
  }
}

/** A class-level requirement, and more on one method: stacked, as Django's decorators stack. */
@Controller('members')
@LoginRequired()
class MembersController {
  @Get('home')
  home() {
    return 'home';
  }

  @Get('staff')
  @UserPassesTest(isStaff)
  @UserPassesTest((u: User) => u.username.length > 0)
  staff(@CurrentUser() current: User) {
    return { staff: current.username };
  }
}

describe.each(PLATFORMS)('@LoginRequired / @UserPassesTest / @CurrentUser on %s controllers', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, imports: [DjangoAuthModule.forRoot({ loadUser })], controllers: [PagesController, MembersController] });
  });
  afterAll(() => t?.close());
  beforeEach(() => {
    lookups.length = 0;
  });

  it("an anonymous visitor is redirected (302) to LOGIN_URL with ?next= the page's full path, quoted as Django quotes it", async () => {
    const reply = await t.client().get('/lr/page?q=a%20b&c=%C3%A9&d=/x');
    expect(reply.status).toBe(302);
    expect(reply.headers.get('location')).toBe('/accounts/login/?next=/lr/page%3Fq%3Da%2520b%26c%3D%25C3%25A9%26d%3D/x');
    const path = await t.client().get('/lr/p/caf%C3%A9%20x');
    expect(path.headers.get('location')).toBe('/accounts/login/?next=/lr/p/caf%25C3%25A9%2520x');
    expect(lookups).toEqual([]); // no session: nothing to look up
  });

  it('the decorator\'s loginUrl and redirectFieldName (its query kept, re-quoted), none, or a login page on another host (next is then the absolute URL)', async () => {
    expect((await t.client().get('/lr/custom')).headers.get('location')).toBe('/login/?from=app&x=a%20b&goto=/lr/custom');
    expect((await t.client().get('/lr/no-next?a=1')).headers.get('location')).toBe('/accounts/login/');
    const port = new URL(t.url).port;
    expect((await t.client().get('/lr/elsewhere?a=1')).headers.get('location')).toBe(`https://accounts.example.com/login/?next=http%3A//127.0.0.1%3A${port}/lr/elsewhere%3Fa%3D1`);
  });

  it('unauthenticated: 401 / 403 for APIs', async () => {
    const api = await t.client().get('/lr/api');
    expect(api.status).toBe(401);
    expect(api.headers.get('location')).toBeNull();
    expect((await t.client().get('/lr/api403')).status).toBe(403);
  });

  it('a logged-in user gets through, and the handler\'s @CurrentUser() is that user, looked up once', async () => {
    const { client } = await loggedIn(t, 'alice');
    const reply = await client.get('/lr/page');
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ user: 'alice' });
    expect(reply.vary).toMatch(/cookie/i); // request.user reads the session: Vary: Cookie, as Django
    expect(lookups).toEqual(['1']);
  });

  it('@UserPassesTest: a user who passes gets through; a logged-in one who fails gets 403; an anonymous visitor is redirected', async () => {
    expect((await (await loggedIn(t, 'root')).client.get('/lr/staff')).json()).toEqual({ staff: 'root' });
    const refused = await (await loggedIn(t, 'alice')).client.get('/lr/staff');
    expect(refused.status).toBe(403);
    expect(refused.json()).toMatchObject({ statusCode: 403, message: 'Permission denied' });
    expect((await t.client().get('/lr/staff')).headers.get('location')).toBe('/accounts/login/?next=/lr/staff');
  });

  it('a class requirement, two method tests and @CurrentUser(): one lookup for the request', async () => {
    const { client } = await loggedIn(t, 'root');
    lookups.length = 0;
    expect((await client.get('/members/staff')).json()).toEqual({ staff: 'root' });
    expect(lookups).toEqual(['2']);
    expect((await client.get('/members/home')).text).toBe('home');
    expect(lookups).toEqual(['2', '2']); // the next request looks up again
    expect((await t.client().get('/members/home')).headers.get('location')).toBe('/accounts/login/?next=/members/home');
    expect((await (await loggedIn(t, 'alice')).client.get('/members/staff')).status).toBe(403);
  });

  it('@CurrentUser() alone: null for an anonymous visitor, the user when logged in', async () => {
    expect((await t.client().get('/lr/whoami')).json()).toEqual({ user: null });
    expect((await (await loggedIn(t, 'alice')).client.get('/lr/whoami')).json()).toEqual({ user: 'alice' });
  });

  it('a login whose _auth_user_hash no longer matches (password changed): anonymous, the session flushed and its cookie deleted', async () => {
    const stale = sessionAuthHash('pbkdf2_sha256$1000$old$b2xk', TEST_SECRET);
    const { client, key } = await loggedIn(t, 'alice', { cart: [1] }, stale);
    const reply = await client.get('/lr/page');
    expect(reply.status).toBe(302);
    expect(await t.store.exists(key)).toBe(false);
    expect(sessionCookieOf(reply)?.attributes['max-age']).toBe('0');

    const other = await loggedIn(t, 'alice', {}, stale);
    const whoami = await other.client.get('/lr/whoami');
    expect(whoami.json()).toEqual({ user: null });
    expect(await t.store.exists(other.key)).toBe(false);
    expect(sessionCookieOf(whoami)?.attributes['max-age']).toBe('0');
  });

  it('a route without these decorators: no statement, no lookup, no Vary, even with a logged-in session', async () => {
    const { client } = await loggedIn(t, 'alice');
    t.sql.reset();
    const reply = await client.get('/lr/plain');
    expect(reply.text).toBe('plain');
    expect(t.sql.count).toBe(0);
    expect(lookups).toEqual([]);
    expect(reply.vary ?? '').not.toMatch(/cookie/i);
    // The guarded handlers count as taking the session: SessionInterceptor stays off the other routes.
    expect(t.app.get(SessionRoutes).interceptsEveryRoute).toBe(false);
  });

  it('one SELECT for a guarded request whose handler takes the user (the guard and the parameter share the session and the user)', async () => {
    const { client } = await loggedIn(t, 'root');
    t.sql.reset();
    expect((await client.get('/members/staff')).status).toBe(200);
    expect(t.sql.verbs).toEqual(['SELECT']);
  });
});

describe('DjangoAuthModule options', () => {
  it.each([
    [{ loginUrl: '' }, 'DjangoAuthModule option "loginUrl" must be a non-empty URL or path'],
    [{ loadUser, unauthenticated: 302 }, 'DjangoAuthModule option "unauthenticated" must be \'redirect\', 401 or 403'],
    [{ loadUser, loginurl: '/x' }, 'DjangoAuthModule option "loginurl" is not an option of DjangoAuthModule'],
    [{ passportUser: false }, 'DjangoAuthModule option "loadUser" is required'],
  ])('a bad option stops the boot, naming it (%j)', async (options, message) => {
    await expect(startApp({ platform: 'express', imports: [DjangoAuthModule.forRoot(options as DjangoAuthModuleOptions)], controllers: [PagesController] })).rejects.toThrow(message);
  });

  it('forRootAsync with a factory', async () => {
    const t = await startApp({
      platform: 'express',
      imports: [DjangoAuthModule.forRootAsync({ useFactory: async () => ({ loadUser, loginUrl: '/signin' }) })],
      controllers: [PagesController],
    });
    try {
      expect((await t.client().get('/lr/page')).headers.get('location')).toBe('/signin?next=/lr/page');
      expect((await (await loggedIn(t, 'alice')).client.get('/lr/page')).json()).toEqual({ user: 'alice' });
    } finally {
      await t.close();
    }
  });

  it('the decorators without DjangoAuthModule: the boot fails and says what to import', async () => {
    await expect(startApp({ platform: 'express', controllers: [PagesController] })).rejects.toThrow(/need DjangoAuthModule\.forRoot/);
  });
});

// ---- GraphQL -----------------------------------------------------------------------------------

const typeDefs = /* GraphQL */ `
  type Query {
    me: String
    secret: String
    staffOnly: String
    plain: String
  }
`;

@Resolver()
class AuthResolver {
  @Query('me')
  me(@CurrentUser() current: User | null) {
    return current?.username ?? null;
  }

  @Query('secret')
  @LoginRequired()
  secret(@CurrentUser() current: User) {
    return `secret of ${current.username}`;
  }

  @Query('staffOnly')
  @UserPassesTest(isStaff)
  staffOnly() {
    return 'staff';
  }

  @Query('plain')
  plain() {
    return 'plain';
  }
}


describe.each(GRAPHQL_DRIVERS)('GraphQL resolvers on %s (%s)', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    const graphql = graphqlModule(platform, typeDefs);
    @Module({ imports: [graphql], providers: [AuthResolver] })
    class GraphqlFeatureModule {}
    t = await startApp({ platform, imports: [DjangoAuthModule.forRoot({ loadUser }), GraphqlFeatureModule] });
  });
  afterAll(() => t?.close());
  beforeEach(() => {
    lookups.length = 0;
  });

  const gql = (client: Client, query: string) => client.post('/graphql', { query });

  it("an anonymous operation: an error whose extensions.code is UNAUTHENTICATED (never a redirect), the other fields answered", async () => {
    const reply = await gql(t.client(), '{ secret plain me }');
    expect(reply.status).toBe(200);
    const body = reply.json();
    expect(body.data).toEqual({ secret: null, plain: 'plain', me: null });
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0]).toMatchObject({ message: 'Login required', path: ['secret'], extensions: { code: 'UNAUTHENTICATED' } });
    expect(reply.headers.get('location')).toBeNull();
  });

  it('a logged-in user who fails the test: FORBIDDEN; one who passes: the data', async () => {
    const alice = await gql((await loggedIn(t, 'alice')).client, '{ staffOnly }');
    expect(alice.json().errors[0]).toMatchObject({ message: 'Permission denied', path: ['staffOnly'], extensions: { code: 'FORBIDDEN' } });
    expect((await gql((await loggedIn(t, 'root')).client, '{ staffOnly }')).json()).toEqual({ data: { staffOnly: 'staff' } });
  });

  it('one lookup for the whole operation, however many resolvers ask, side by side', async () => {
    const { client } = await loggedIn(t, 'root');
    t.sql.reset();
    const reply = await gql(client, '{ a: me secret staffOnly b: me }');
    expect(reply.json()).toEqual({ data: { a: 'root', secret: 'secret of root', staffOnly: 'staff', b: 'root' } });
    expect(lookups).toEqual(['2']);
    expect(t.sql.verbs).toEqual(['SELECT']);
  });

  it('an operation without these resolvers: no statement, no lookup', async () => {
    const { client } = await loggedIn(t, 'root');
    t.sql.reset();
    expect((await gql(client, '{ plain }')).json()).toEqual({ data: { plain: 'plain' } });
    expect(t.sql.count).toBe(0);
    expect(lookups).toEqual([]);
  });

  it('a stale login: UNAUTHENTICATED, the session flushed and its cookie deleted', async () => {
    const { client, key } = await loggedIn(t, 'alice', {}, sessionAuthHash('pbkdf2_sha256$1000$old$b2xk', TEST_SECRET));
    const reply = await gql(client, '{ secret }');
    expect(reply.json().errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(await t.store.exists(key)).toBe(false);
    expect(sessionCookieOf(reply)?.attributes['max-age']).toBe('0');
  });
});

// ---- WebSocket ---------------------------------------------------------------------------------

@WebSocketGateway()
class AuthGateway {
  @SubscribeMessage('me')
  @LoginRequired()
  me(@CurrentUser() current: User) {
    return reply({ user: current.username });
  }

  @SubscribeMessage('staff')
  @UserPassesTest(isStaff)
  staff() {
    return reply('staff');
  }

  @SubscribeMessage('whoami')
  whoami(@CurrentUser() current: User | null) {
    return reply({ user: current?.username ?? null });
  }

  @SubscribeMessage('plain')
  plain() {
    return reply('plain');
  }
}

describe.each(ADAPTERS)('gateway handlers on %s', (adapter) => {
  let t: TestApp;
  const open: SocketClient[] = [];
  beforeAll(async () => {
    t = await startApp({ platform: 'express', imports: [DjangoAuthModule.forRoot({ loadUser })], providers: [AuthGateway], beforeListen: useAdapter(adapter) });
  });
  afterEach(() => {
    for (const client of open.splice(0)) client.close();
  });
  afterAll(() => t?.close());
  beforeEach(() => {
    lookups.length = 0;
  });

  async function socket(key?: string): Promise<SocketClient> {
    const client = await connect(adapter, t.url, key === undefined ? undefined : `sessionid=${key}`);
    open.push(client);
    return client;
  }

  it('an anonymous socket: an exception event with code UNAUTHENTICATED, and the socket stays usable', async () => {
    const client = await socket();
    expect(await client.send('me')).toEqual({ event: 'exception', data: { status: 'error', code: 'UNAUTHENTICATED', message: 'Login required' } });
    expect(await client.send('whoami')).toEqual({ event: 'reply', data: { user: null } });
  });

  it('a logged-in socket: its user, looked up once per message', async () => {
    const { key } = await loggedIn(t, 'alice');
    const client = await socket(key);
    expect(await client.send('me')).toEqual({ event: 'reply', data: { user: 'alice' } });
    expect(await client.send('me')).toEqual({ event: 'reply', data: { user: 'alice' } });
    expect(lookups).toEqual(['1', '1']);
    expect(await client.send('staff')).toEqual({ event: 'exception', data: { status: 'error', code: 'FORBIDDEN', message: 'Permission denied' } });
  });

  it('a staff socket passes the test; a handler without the decorators looks nothing up', async () => {
    const { key } = await loggedIn(t, 'root');
    const client = await socket(key);
    expect(await client.send('staff')).toEqual({ event: 'reply', data: 'staff' });
    lookups.length = 0;
    t.sql.reset();
    expect(await client.send('plain')).toEqual({ event: 'reply', data: 'plain' });
    expect(lookups).toEqual([]);
    expect(t.sql.count).toBe(0);
  });

  it('a stale login: refused, and the session row deleted (a logout the browser sees at its next request)', async () => {
    const { key } = await loggedIn(t, 'alice', {}, sessionAuthHash('pbkdf2_sha256$1000$old$b2xk', TEST_SECRET));
    const client = await socket(key);
    expect((await client.send('me')).data).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await t.store.exists(key)).toBe(false);
  });
});

describe.each(ADAPTERS)('a login hashed with a secretKeyFallbacks key (gateway on %s, HTTP on express)', (adapter) => {
  const OLD_SECRET = 'django-insecure-retired-e2e-secret-key-9876543210';
  let t: TestApp;
  let client: SocketClient | undefined;
  beforeAll(async () => {
    t = await startApp({
      platform: 'express',
      session: { secretKey: TEST_SECRET, secretKeyFallbacks: [OLD_SECRET] },
      imports: [DjangoAuthModule.forRoot({ loadUser })],
      providers: [AuthGateway],
      controllers: [PagesController],
      beforeListen: useAdapter(adapter),
    });
  });
  afterAll(async () => {
    client?.close();
    await t?.close();
  });

  it('a socket keeps the user logged in without re-keying (no cookie to send); the next HTTP request re-keys it, as Django 4.1.8+', async () => {
    const { key } = await loggedIn(t, 'alice', {}, sessionAuthHash(user('alice').password, OLD_SECRET));
    client = await connect(adapter, t.url, `sessionid=${key}`);
    expect(await client.send('me')).toEqual({ event: 'reply', data: { user: 'alice' } });
    expect(await t.store.exists(key)).toBe(true);

    const http = t.client();
    http.jar.set('sessionid', key);
    expect((await http.get('/lr/page')).json()).toEqual({ user: 'alice' });
    expect(http.sessionKey).not.toBe(key);
    expect(await t.store.exists(key)).toBe(false);
    expect(await t.store.data(http.sessionKey!)).toMatchObject({ _auth_user_hash: sessionAuthHash(user('alice').password, TEST_SECRET) });
  });
});
