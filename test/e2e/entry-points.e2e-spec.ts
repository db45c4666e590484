/**
 * Every public way into the session — `@Session()`, `SessionService.forContext()` in a guard (the
 * README's guard), `req.session` (`requestSession: true`), `getUser`/`login`/`logout`, the Passport
 * strategy and session manager — from every context the module meets: HTTP (Express, Fastify),
 * GraphQL (Apollo, Mercurius), WebSocket (socket.io, ws) and a microservice's `'rpc'` handler
 * (built by Nest's own ExternalContextCreator, as transports without an HTTP request are), with no
 * cookie, a logged-in one, an unknown key and garbage. Unhandled rejections and uncaught
 * exceptions fail the test: the process must survive every one, and each entry point answer as
 * documented — the session on a transport that has one, a clear `SessionContextError` elsewhere.
 */
import 'reflect-metadata';
import {
  Controller,
  Get,
  Injectable,
  Module,
  Post,
  HttpCode,
  Req,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { ExternalContextCreator } from '@nestjs/core';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { Context, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ConnectedSocket, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Session, SessionService, type SessionStore } from '../../src/index.js';
import { getUser, login, logout, MODEL_BACKEND, sessionAuthHash } from '../../src/exports/auth.js';
import { DjangoSessionManager, DjangoSessionStrategy } from '../../src/exports/passport.js';
import { sessionCookieOf, startApp, TEST_SECRET, unknownKey, type Client, type Platform, type Reply, type TestApp } from '../support/app.js';
import { connect, reply, useAdapter, type AdapterName, type SocketClient } from '../support/sockets.js';
import { graphqlModule } from '../support/graphql.js';

// ---- the user, and what the entry points are given ----------------------------------------------

const USER = { id: 1, password: 'pbkdf2_sha256$1000$entrysalt$aGFzaA==' };
const findUser = (id: string) => (id === '1' ? USER : null);
/** A logged-in session, as Django's login() and the README's guard leave it. */
const MEMBER = { member_id: 1, _auth_user_id: '1', _auth_user_backend: MODEL_BACKEND, _auth_user_hash: sessionAuthHash(USER.password, TEST_SECRET) };

/** What the last guard got from forContext(): the handler checks it holds the same object. */
let guardSaw: SessionStore | undefined;

/** The guard of docs/usage.md ("Guards"). */
@Injectable()
class MemberGuard implements CanActivate {
  constructor(private readonly sessions: SessionService) {}
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const session = await this.sessions.forContext(context);
    guardSaw = session;
    return session.has('member_id');
  }
}

/** A guard that writes the session (and lets the request in). */
@Injectable()
class CountingGuard implements CanActivate {
  constructor(private readonly sessions: SessionService) {}
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const session = await this.sessions.forContext<{ guard_visits: number }>(context);
    session.set('guard_visits', session.get('guard_visits', 0) + 1);
    return true;
  }
}

/** What the Passport 'session' strategy made of `request`: the user's id, null (anonymous), or its error's message. */
function runStrategy(request: unknown): Promise<{ user: number | null } | { error: string }> {
  const strategy = new DjangoSessionStrategy({ findUser });
  return new Promise((resolve) => {
    const run = Object.assign(Object.create(strategy) as DjangoSessionStrategy, {
      pass: () => resolve({ user: (request as { user?: { id: number } } | null)?.user?.id ?? null }),
      error: (error: Error) => resolve({ error: error.message }),
    });
    void run.authenticate(request);
  });
}

/** A Passport login through the session manager (`req.logIn()`): undefined, or its error's message. */
function managerLogIn(request: unknown): Promise<string | undefined> {
  return new Promise((resolve) => new DjangoSessionManager({ findUser }).logIn(request, USER, (error?: unknown) => resolve((error as Error | undefined)?.message)));
}

const NO_PASSPORT_SESSION = 'Django sessions for Passport: this request has no session. Use SessionModule.forRoot({ ..., requestSession: true }).';

// ---- HTTP ----------------------------------------------------------------------------------------

@Controller('ep')
class EntryController {
  @Get('member')
  @UseGuards(MemberGuard)
  member() {
    return { member: true };
  }

  @Get('member-session')
  @UseGuards(MemberGuard)
  memberSession(@Session() session: SessionStore) {
    return { memberId: session.get('member_id'), same: session === guardSaw };
  }

  @Get('decorated')
  decorated(@Session() session: SessionStore, @Req() request: any) {
    return { memberId: session.get('member_id') ?? null, reqSession: request.session === undefined ? 'none' : request.session.member_id ?? null };
  }

  @Get('user')
  async user(@Session() session: SessionStore) {
    return { user: (await getUser(session, findUser))?.id ?? null };
  }

  @Post('login')
  @HttpCode(200)
  async login(@Session() session: SessionStore) {
    await login(session, USER);
    return { ok: true };
  }

  @Post('logout')
  @HttpCode(200)
  async logout(@Session() session: SessionStore) {
    await logout(session);
    return { ok: true };
  }

  @Get('passport')
  passport(@Req() request: any) {
    return runStrategy(request);
  }

  @Post('passport-login')
  @HttpCode(200)
  async passportLogin(@Req() request: any) {
    return { error: (await managerLogIn(request)) ?? null };
  }
}

// ---- GraphQL -------------------------------------------------------------------------------------

const typeDefs = /* GraphQL */ `
  type Query {
    member: Boolean
    memberSession: String
    decorated: String
    user: Int
    passport: String
  }
  type Mutation {
    guardCount: Int
    login: Boolean
    logout: Boolean
  }
`;

/** The operation's HTTP request in a resolver's context (Apollo: ctx.req; Mercurius: ctx.reply.request). */
const requestOf = (ctx: any) => ctx.req ?? ctx.reply?.request;

@Resolver()
class EntryResolver {
  /** The README's guard on a resolver that does not take the session. */
  @Query('member')
  @UseGuards(MemberGuard)
  member(): boolean {
    return true;
  }

  @Query('memberSession')
  @UseGuards(MemberGuard)
  memberSession(@Session() session: SessionStore): string {
    return JSON.stringify({ memberId: session.get('member_id'), same: session === guardSaw });
  }

  @Query('decorated')
  decorated(@Session() session: SessionStore, @Context() ctx: any): string {
    const request = requestOf(ctx);
    return JSON.stringify({ memberId: session.get('member_id') ?? null, reqSession: request.session == null ? 'none' : request.session.member_id ?? null });
  }

  @Query('user')
  async user(@Session() session: SessionStore): Promise<number | null> {
    return (await getUser(session, findUser))?.id ?? null;
  }

  @Query('passport')
  async passport(@Context() ctx: any): Promise<string> {
    return JSON.stringify(await runStrategy(requestOf(ctx)));
  }

  /** A guard writes the session of a resolver that does not take it. */
  @Mutation('guardCount')
  @UseGuards(CountingGuard)
  guardCount(): number {
    return 1;
  }

  @Mutation('login')
  async login(@Session() session: SessionStore): Promise<boolean> {
    await login(session, USER);
    return true;
  }

  @Mutation('logout')
  async logout(@Session() session: SessionStore): Promise<boolean> {
    await logout(session);
    return true;
  }
}


// ---- WebSocket -----------------------------------------------------------------------------------

@WebSocketGateway()
class EntryGateway {
  /** The README's guard on a handler that does not take the session. */
  @SubscribeMessage('member')
  @UseGuards(MemberGuard)
  member() {
    return reply(true);
  }

  @SubscribeMessage('memberSession')
  @UseGuards(MemberGuard)
  memberSession(@Session() session: SessionStore) {
    return reply({ memberId: session.get('member_id'), same: session === guardSaw });
  }

  @SubscribeMessage('decorated')
  decorated(@Session() session: SessionStore) {
    return reply({ memberId: session.get('member_id') ?? null });
  }

  @SubscribeMessage('user')
  async user(@Session() session: SessionStore) {
    return reply((await getUser(session, findUser))?.id ?? null);
  }

  /** A guard writes the session of a handler that does not take it. */
  @SubscribeMessage('guardCount')
  @UseGuards(CountingGuard)
  guardCount() {
    return reply('counted');
  }

  @SubscribeMessage('login')
  async login(@Session() session: SessionStore) {
    await login(session, USER);
    return reply(true);
  }

  @SubscribeMessage('logout')
  async logout(@Session() session: SessionStore) {
    await logout(session);
    return reply(true);
  }

  /** Passport on the socket's handshake request: no session was opened on it. */
  @SubscribeMessage('passport')
  async passport(@ConnectedSocket() client: any) {
    return reply(await runStrategy(client.request ?? client.handshake ?? null));
  }
}

// ---- a microservice's handler ('rpc') ------------------------------------------------------------

@Injectable()
class RpcHandlers {
  @UseGuards(MemberGuard)
  guarded(): string {
    return 'in';
  }

  decorated(@Session() session: SessionStore): unknown {
    return session.get('member_id');
  }

  passport(data: unknown): Promise<unknown> {
    return runStrategy(data);
  }

  passportLogin(data: unknown): Promise<unknown> {
    return managerLogIn(data);
  }
}

/** `method` of `RpcHandlers` as a microservice transport runs it: guards, interceptors, parameter decorators, 'rpc' context. */
function rpcHandler(t: TestApp, method: keyof RpcHandlers): (...args: unknown[]) => Promise<unknown> {
  const instance = t.app.get(RpcHandlers);
  const creator = t.app.get(ExternalContextCreator);
  const paramsFactory = { exchangeKeyForValue: () => undefined };
  return creator.create(instance, instance[method] as (...args: unknown[]) => unknown, method, ROUTE_ARGS_METADATA, paramsFactory, undefined, undefined, undefined, 'rpc') as (
    ...args: unknown[]
  ) => Promise<unknown>;
}

// ---- the suites ----------------------------------------------------------------------------------

/** Each app: HTTP and GraphQL on `platform`, WebSocket on `adapter`, with or without requestSession. */
const CASES: Array<[Platform, AdapterName, boolean]> = [
  ['express', 'socket.io', true],
  ['fastify', 'ws', true],
  ['express', 'ws', false],
  ['fastify', 'socket.io', false],
];

type CookieCase = 'no cookie' | 'a logged-in cookie' | 'an unknown key' | 'a garbage cookie';
const COOKIES: CookieCase[] = ['no cookie', 'a logged-in cookie', 'an unknown key', 'a garbage cookie'];

describe.each(CASES)('every entry point, HTTP and GraphQL on %s, WebSocket on %s, requestSession %s', (platform, adapter, requestSession) => {
  let t: TestApp;
  const failures: unknown[] = [];
  const record = (error: unknown) => void failures.push(error);
  const sockets: SocketClient[] = [];

  beforeAll(async () => {
    process.on('unhandledRejection', record);
    process.on('uncaughtException', record);
    @Module({ imports: [graphqlModule(platform, typeDefs)], providers: [EntryResolver] })
    class GraphqlFeatureModule {}
    t = await startApp({
      platform,
      session: { secretKey: TEST_SECRET, requestSession },
      imports: [GraphqlFeatureModule],
      controllers: [EntryController],
      providers: [EntryGateway, RpcHandlers],
      beforeListen: useAdapter(adapter),
    });
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    // Whatever escaped shows up within a few ticks of the request that caused it.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(failures.splice(0).map((e) => String((e as Error)?.stack ?? e))).toEqual([]);
  });
  afterAll(async () => {
    await t?.close();
    process.off('unhandledRejection', record);
    process.off('uncaughtException', record);
  });

  /** The Cookie header of `kind`: a stored logged-in session (with `extra`), a well-formed key naming none, or garbage. */
  async function cookieOf(kind: CookieCase, extra: Record<string, unknown> = {}): Promise<string | null> {
    switch (kind) {
      case 'no cookie':
        return null;
      case 'a logged-in cookie':
        return `sessionid=${await t.store.put(unknownKey(), { ...MEMBER, ...extra }, Date.now() + 3600_000)}`;
      case 'an unknown key':
        return `sessionid=${unknownKey()}`;
      case 'a garbage cookie':
        return 'sessionid="%%%\u00e9;;=="; other=1';
    }
  }
  const member = (kind: CookieCase) => kind === 'a logged-in cookie';
  const get = async (path: string, cookie: string | null) => t.client().get(path, { cookie });
  const gql = async (query: string, cookie: string | null): Promise<Reply> => t.client().post('/graphql', { query }, { cookie });
  async function socket(cookie: string | null): Promise<SocketClient> {
    const client = await connect(adapter, t.url, cookie ?? undefined);
    sockets.push(client);
    return client;
  }

  describe.each(COOKIES)('with %s', (kind) => {
    it('HTTP: the README guard (forContext) lets a member in and refuses others with 403; @Session() gets the guard\'s object', async () => {
      const cookie = await cookieOf(kind);
      expect((await get('/ep/member', cookie)).status).toBe(member(kind) ? 200 : 403);
      const withSession = await get('/ep/member-session', cookie);
      if (member(kind)) expect(withSession.json()).toEqual({ memberId: 1, same: true });
      else expect(withSession.status).toBe(403);
    });

    it('HTTP: @Session(), req.session, getUser and the Passport strategy agree', async () => {
      const cookie = await cookieOf(kind);
      const id = member(kind) ? 1 : null;
      expect((await get('/ep/decorated', cookie)).json()).toEqual({ memberId: id, reqSession: requestSession ? id : 'none' });
      expect((await get('/ep/user', cookie)).json()).toEqual({ user: id });
      expect((await get('/ep/passport', cookie)).json()).toEqual(requestSession ? { user: id } : { error: NO_PASSPORT_SESSION });
    });

    it('HTTP: login() and the Passport session manager log the user in; logout() ends the session', async () => {
      const cookie = await cookieOf(kind);
      const loggedIn = await t.client().post('/ep/login', undefined, { cookie });
      expect(loggedIn.status).toBe(200);
      const key = sessionCookieOf(loggedIn)!.value;
      expect(await t.store.data(key)).toMatchObject({ _auth_user_id: '1' });
      const out = await t.client().post('/ep/logout', undefined, { cookie: `sessionid=${key}` });
      expect(sessionCookieOf(out)?.attributes['max-age']).toBe('0');
      expect(await t.store.exists(key)).toBe(false);
      const manager = await t.client().post('/ep/passport-login', undefined, { cookie });
      if (requestSession) {
        expect(manager.json()).toEqual({ error: null });
        expect(await t.store.data(sessionCookieOf(manager)!.value)).toMatchObject({ _auth_user_id: '1' });
      } else {
        expect(manager.json()).toEqual({ error: NO_PASSPORT_SESSION });
      }
    });

    it('GraphQL: the README guard on a resolver answers (a member: data; others: Forbidden) and the process survives', async () => {
      const cookie = await cookieOf(kind);
      const reply = await gql('{ member }', cookie);
      expect(reply.status).toBe(200);
      if (member(kind)) {
        expect(reply.json()).toEqual({ data: { member: true } });
        expect(JSON.parse((await gql('{ memberSession }', cookie)).json().data.memberSession)).toEqual({ memberId: 1, same: true });
      } else {
        expect(reply.json().data).toEqual({ member: null });
        expect(reply.json().errors[0].message).toBe('Forbidden resource');
      }
    });

    it('GraphQL: @Session(), req.session, getUser and the Passport strategy agree', async () => {
      const cookie = await cookieOf(kind);
      const id = member(kind) ? 1 : null;
      const data = (await gql('{ decorated user }', cookie)).json().data;
      expect(JSON.parse(data.decorated)).toEqual({ memberId: id, reqSession: requestSession ? id : 'none' });
      expect(data.user).toBe(id);
      // Alone in its operation: no resolver opened the session (without requestSession, Passport has none).
      const passport = (await gql('{ passport }', cookie)).json().data.passport;
      expect(JSON.parse(passport)).toEqual(requestSession ? { user: id } : { error: NO_PASSPORT_SESSION });
    });

    it('GraphQL: a guard that writes the session of a resolver without @Session(): saved once, at the response\'s end', async () => {
      const cookie = await cookieOf(kind, { guard_visits: 4 });
      const reply = await gql('mutation { guardCount }', cookie);
      expect(reply.json()).toEqual({ data: { guardCount: 1 } });
      const key = sessionCookieOf(reply)!.value;
      expect((await t.store.data(key))?.guard_visits).toBe(member(kind) ? 5 : 1);
    });

    it('GraphQL: login() logs the user in, logout() ends the session', async () => {
      const cookie = await cookieOf(kind);
      const loggedIn = await gql('mutation { login }', cookie);
      expect(loggedIn.json()).toEqual({ data: { login: true } });
      const key = sessionCookieOf(loggedIn)!.value;
      expect(await t.store.data(key)).toMatchObject({ _auth_user_id: '1' });
      const out = await gql('mutation { logout }', `sessionid=${key}`);
      expect(out.json()).toEqual({ data: { logout: true } });
      expect(await t.store.exists(key)).toBe(false);
    });

    it('WebSocket: the README guard sees the handshake cookie\'s session (a member is let in, others refused); @Session() gets the guard\'s object', async () => {
      const client = await socket(await cookieOf(kind));
      const answer = await client.send('member');
      if (member(kind)) {
        expect(answer).toEqual({ event: 'reply', data: true });
        expect(await client.send('memberSession')).toEqual({ event: 'reply', data: { memberId: 1, same: true } });
      } else {
        expect(answer).toMatchObject({ event: 'exception', data: { message: 'Forbidden resource' } });
      }
    });

    it('WebSocket: @Session() and getUser agree; the Passport strategy reports that the handshake has no session', async () => {
      const client = await socket(await cookieOf(kind));
      const id = member(kind) ? 1 : null;
      expect(await client.send('decorated')).toEqual({ event: 'reply', data: { memberId: id } });
      expect(await client.send('user')).toEqual({ event: 'reply', data: id });
      expect(await client.send('passport')).toEqual({ event: 'reply', data: { error: NO_PASSPORT_SESSION } });
    });

    it('WebSocket: a guard\'s change to a stored session is saved after a handler without @Session(); login() works without a new key and is refused where one is needed, logout() works', async () => {
      const cookie = await cookieOf(kind, { guard_visits: 4 });
      const client = await socket(cookie);
      const counted = await client.send('guardCount');
      if (member(kind)) {
        expect(counted).toEqual({ event: 'reply', data: 'counted' });
        const key = cookie!.slice('sessionid='.length);
        expect((await t.store.data(key))?.guard_visits).toBe(5);
        expect((await client.send('login')).event).toBe('reply'); // the same user: no new key needed
        expect(await client.send('logout')).toEqual({ event: 'reply', data: true });
        expect(await t.store.exists(key)).toBe(false);
      } else {
        // A session that does not exist cannot be created over a socket: SocketSessionError, nothing stored.
        const before = await t.store.count();
        expect(counted.event).toBe('exception');
        expect((await client.send('login')).event).toBe('exception');
        expect(await t.store.count()).toBe(before);
      }
    });

    it('rpc (a microservice handler): forContext() in a guard and @Session() reject with SessionContextError; Passport reports no session', async () => {
      const cookie = await cookieOf(kind);
      // What a microservice handler is called with: its payload and the transport's context.
      const args = [{ headers: { cookie } }, { pattern: 'member' }];
      for (const method of ['guarded', 'decorated'] as const) {
        const error = await rpcHandler(t, method)(...args).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(error?.name).toBe('SessionContextError');
        expect(error?.message).toContain("There is no session in a 'rpc' context");
      }
      expect(await rpcHandler(t, 'passport')(...args)).toEqual({ error: NO_PASSPORT_SESSION });
      expect(await rpcHandler(t, 'passportLogin')(...args)).toBe(NO_PASSPORT_SESSION);
    });
  });

  it('a malformed context does not crash the process: forContext() on an HTTP context without a request rejects', async () => {
    const sessions = t.app.get(SessionService);
    const { ExecutionContextHost } = await import('@nestjs/core/helpers/execution-context-host.js');
    for (const args of [[], [undefined, undefined], [null, null], ['text', 1]]) {
      const context = new ExecutionContextHost(args as unknown[]);
      await expect(sessions.forContext(context)).rejects.toMatchObject({ name: 'SessionContextError' });
    }
    for (const type of ['graphql', 'ws', 'rpc', 'kafka']) {
      const context = new ExecutionContextHost([undefined, undefined, undefined]);
      context.setType(type);
      await expect(sessions.forContext(context)).rejects.toMatchObject({ name: 'SessionContextError' });
    }
  });

  it('after all of it, the app still answers', async () => {
    const client: Client = t.client();
    expect((await client.get('/ep/decorated')).status).toBe(200);
  });
});
