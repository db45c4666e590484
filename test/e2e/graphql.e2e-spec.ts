/**
 * `@Session()` in GraphQL resolvers: Apollo on Express (@nestjs/apollo), Mercurius on Fastify
 * (@nestjs/mercurius), real servers, queries over HTTP. An operation is one HTTP request: one read
 * of the session whatever the number of resolvers, one commit after the whole operation, the
 * Set-Cookie on its response; a resolver that took the session and failed with a server error
 * discards the operation's changes, one that refused the client (HttpException below 500,
 * GraphQLError) does not.
 */
import { Controller, ForbiddenException, Get, Injectable, InternalServerErrorException, Module, type CanActivate } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { GraphQLError } from 'graphql';
import { Session, type SessionStore } from '../../src/index.js';
import { sessionCookieOf, startApp, TEST_SECRET, unknownKey, type Client, type Reply, type TestApp } from '../support/app.js';
import { graphqlModule, GRAPHQL_DRIVERS } from '../support/graphql.js';

const typeDefs = /* GraphQL */ `
  type Query {
    visits: Int
    color: String
    keys: [String!]!
    plain: String
    plainFails: String
  }
  type Mutation {
    count: Int
    setColor(color: String!): String
    forbidden: Int
    crash: Int
    crash500: Int
    badInput: Int
    serverGraphqlError: Int
    logout: Boolean
    login: Boolean
    plainCrash: Int
    crashUntouched: Int
  }
`;

type Data = { visits: number; color: string; flag: string; user: string };

@Resolver()
class SessionResolver {
  @Query('visits')
  visits(@Session() session: SessionStore<Data>): number {
    return session.get('visits', 0);
  }

  @Query('color')
  color(@Session() session: SessionStore<Data>): string | null {
    return session.get('color') ?? null;
  }

  @Query('keys')
  keys(@Session() session: SessionStore<Data>): string[] {
    return session.keys();
  }

  /** No session: an ordinary resolver next to the others. */
  @Query('plain')
  plain(): string {
    return 'plain';
  }

  /** No session, and fails: its error is not the session's business. */
  @Query('plainFails')
  plainFails(): string {
    throw new Error('plain failure');
  }

  /** No session, and crashes. */
  @Mutation('plainCrash')
  plainCrash(): number {
    throw new Error('plain crash');
  }

  @Mutation('count')
  count(@Session() session: SessionStore<Data>): number {
    const visits = session.get('visits', 0) + 1;
    session.set('visits', visits);
    return visits;
  }

  @Mutation('setColor')
  async setColor(@Session() session: SessionStore<Data>, @Args('color') color: string): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 5)); // resolvers of an operation overlap
    session.set('color', color);
    return color;
  }

  @Mutation('forbidden')
  forbidden(@Session() session: SessionStore<Data>): number {
    session.set('flag', 'forbidden');
    throw new ForbiddenException('not you');
  }

  @Mutation('crash')
  crash(@Session() session: SessionStore<Data>): number {
    session.set('flag', 'crash');
    throw new Error('boom');
  }

  /** Takes the session, leaves it alone, crashes. */
  @Mutation('crashUntouched')
  crashUntouched(@Session() _session: SessionStore<Data>): number {
    throw new Error('boom');
  }

  @Mutation('crash500')
  crash500(@Session() session: SessionStore<Data>): number {
    session.set('flag', 'crash500');
    throw new InternalServerErrorException();
  }

  @Mutation('badInput')
  badInput(@Session() session: SessionStore<Data>): number {
    session.set('flag', 'badInput');
    throw new GraphQLError('bad input', { extensions: { code: 'BAD_USER_INPUT' } });
  }

  @Mutation('serverGraphqlError')
  serverGraphqlError(@Session() session: SessionStore<Data>): number {
    session.set('flag', 'serverGraphqlError');
    throw new GraphQLError('down', { extensions: { code: 'INTERNAL_SERVER_ERROR', http: { status: 503 } } });
  }

  @Mutation('logout')
  async logout(@Session() session: SessionStore<Data>): Promise<boolean> {
    await session.flush();
    return true;
  }

  @Mutation('login')
  async login(@Session() session: SessionStore<Data>): Promise<boolean> {
    session.set('user', 'alice');
    await session.cycleKey();
    return true;
  }
}

/** A plain HTTP route beside the GraphQL endpoint: still pays nothing. */
@Controller('rest')
class RestController {
  @Get('plain')
  plain(): string {
    return 'plain';
  }
}

/** A global guard that lets everything through: SessionInterceptor then runs around every resolver. */
@Injectable()
class OpenGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}



async function gql(client: Client, query: string, variables?: Record<string, unknown>): Promise<Reply> {
  return client.post('/graphql', { query, variables });
}


/** A client of `t` holding a stored session with `data` (an hour to live). */
async function clientWithSession(t: TestApp, data: Record<string, unknown>): Promise<{ client: Client; key: string }> {
  const key = await t.store.put(unknownKey(), data, Date.now() + 3600_000);
  const client = t.client();
  client.jar.set('sessionid', key);
  return { client, key };
}

describe.each(GRAPHQL_DRIVERS)('GraphQL resolvers on %s (%s)', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    @Module({ imports: [graphqlModule(platform, typeDefs)], providers: [SessionResolver] })
    class GraphqlFeatureModule {}
    t = await startApp({ platform, imports: [GraphqlFeatureModule], controllers: [RestController] });
  });
  afterAll(() => t?.close());

  const withSession = (data: Record<string, unknown>) => clientWithSession(t, data);

  it('three resolvers that take the session: one SELECT for the HTTP request, no write', async () => {
    const { client } = await withSession({ visits: 4, color: 'blue' });
    t.sql.reset();
    const reply = await gql(client, '{ visits color keys plain }');
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ data: { visits: 4, color: 'blue', keys: ['visits', 'color'], plain: 'plain' } });
    expect(t.sql.verbs).toEqual(['SELECT']);
    expect(reply.setCookies).toEqual([]);
    expect(reply.vary?.toLowerCase()).toContain('cookie');
  });

  it('three mutations that change the session: one SELECT, one UPDATE after the whole operation, one Set-Cookie', async () => {
    const { client, key } = await withSession({ visits: 1 });
    t.sql.reset();
    const reply = await gql(client, 'mutation { a: count b: count c: setColor(color: "red") }');
    expect(reply.json()).toEqual({ data: { a: 2, b: 3, c: 'red' } });
    expect(t.sql.verbs).toEqual(['SELECT', 'UPDATE']);
    expect(reply.setCookies.map((c) => [c.name, c.value])).toEqual([['sessionid', key]]);
    expect(await t.store.data(key)).toEqual({ visits: 3, color: 'red' });
  });

  it('resolvers side by side (a query with aliases) share one read and one save', async () => {
    // Query fields run in parallel: each resolver's interceptor asks for the session at once.
    const { client } = await withSession({ visits: 7 });
    t.sql.reset();
    const reply = await gql(client, '{ a: visits b: visits c: visits d: color }');
    expect(reply.json().data).toEqual({ a: 7, b: 7, c: 7, d: null });
    expect(t.sql.verbs).toEqual(['SELECT']);
  });

  it('a new session: no read, one INSERT, its key in the Set-Cookie of the HTTP response', async () => {
    const client = t.client();
    t.sql.reset();
    const reply = await gql(client, 'mutation { count }');
    expect(reply.json()).toEqual({ data: { count: 1 } });
    expect(t.sql.verbs).toEqual(['INSERT']);
    const cookie = sessionCookieOf(reply)!;
    expect(cookie.value).toMatch(/^[a-z0-9]{32}$/);
    expect(cookie.attributes.httponly).toBe(true);
    expect(await t.store.data(cookie.value)).toEqual({ visits: 1 });
    // And the next operation finds it.
    expect((await gql(client, '{ visits }')).json()).toEqual({ data: { visits: 1 } });
  });

  it('no cookie, resolvers only read: no query, no cookie', async () => {
    t.sql.reset();
    const reply = await gql(t.client(), '{ visits color }');
    expect(reply.json()).toEqual({ data: { visits: 0, color: null } });
    expect(t.sql.count).toBe(0);
    expect(reply.setCookies).toEqual([]);
  });

  it('an operation without session resolvers, and a plain route beside it: no query, no Vary', async () => {
    const { client } = await withSession({ visits: 1 });
    t.sql.reset();
    const reply = await gql(client, '{ plain }');
    expect(reply.json()).toEqual({ data: { plain: 'plain' } });
    const rest = await client.get('/rest/plain');
    expect(rest.text).toBe('plain');
    expect(t.sql.count).toBe(0);
    expect(reply.vary ?? '').not.toMatch(/cookie/i);
    expect(rest.vary ?? '').not.toMatch(/cookie/i);
  });

  it('logout (flush) in a mutation: the row is deleted and the cookie too', async () => {
    const { client, key } = await withSession({ visits: 1 });
    const reply = await gql(client, 'mutation { logout }');
    expect(reply.json()).toEqual({ data: { logout: true } });
    expect(await t.store.exists(key)).toBe(false);
    expect(sessionCookieOf(reply)?.attributes['max-age']).toBe('0');
  });

  it('login (cycleKey) in a mutation: a new key in the Set-Cookie, the old row gone', async () => {
    const { client, key } = await withSession({ visits: 1 });
    const reply = await gql(client, 'mutation { login }');
    const cookie = sessionCookieOf(reply)!;
    expect(cookie.value).not.toBe(key);
    expect(await t.store.exists(key)).toBe(false);
    expect(await t.store.data(cookie.value)).toEqual({ visits: 1, user: 'alice' });
  });

  describe('errors: GraphQL answers 200; what was saved follows the errors of the resolvers that took the session', () => {
    it('an HttpException below 500 (ForbiddenException): the changes are saved, as after a 4xx', async () => {
      const { client, key } = await withSession({ visits: 1 });
      const reply = await gql(client, 'mutation { a: count b: forbidden }');
      expect(reply.status).toBe(200);
      expect(reply.json().data).toEqual({ a: 2, b: null });
      expect(reply.json().errors).toHaveLength(1);
      expect(await t.store.data(key)).toEqual({ visits: 2, flag: 'forbidden' });
      expect(sessionCookieOf(reply)?.value).toBe(key);
    });

    it('a GraphQLError (the client\'s error, BAD_USER_INPUT): saved', async () => {
      const { client, key } = await withSession({ visits: 1 });
      const reply = await gql(client, 'mutation { badInput }');
      expect(reply.json().errors[0].message).toBe('bad input');
      expect(await t.store.data(key)).toEqual({ visits: 1, flag: 'badInput' });
    });

    it('any other error (a crash): nothing of the operation is saved, not even the mutations before it, and no cookie', async () => {
      const { client, key } = await withSession({ visits: 1 });
      t.sql.reset();
      const reply = await gql(client, 'mutation { a: count b: crash c: count }');
      expect(reply.status).toBe(200);
      expect(reply.json().data).toEqual({ a: 2, b: null, c: 3 });
      expect(t.sql.verbs).toEqual(['SELECT']);
      expect(await t.store.data(key)).toEqual({ visits: 1 });
      expect(reply.setCookies).toEqual([]);
    });

    it('an HttpException of 500, or a GraphQLError asking for a 5xx: nothing saved', async () => {
      const { client, key } = await withSession({ visits: 1 });
      await gql(client, 'mutation { a: count b: crash500 }');
      await gql(client, 'mutation { a: count b: serverGraphqlError }');
      expect(await t.store.data(key)).toEqual({ visits: 1 });
    });

    it('a new session created by an operation that crashed: not stored, no cookie', async () => {
      const before = await t.store.count();
      const reply = await gql(t.client(), 'mutation { count crash }');
      expect(reply.setCookies).toEqual([]);
      expect(await t.store.count()).toBe(before);
    });

    it('a resolver that does not take the session fails: the others\' changes are saved', async () => {
      const { client, key } = await withSession({ visits: 1 });
      const reply = await gql(client, 'mutation { count plainCrash }');
      expect(reply.json().data).toEqual({ count: 2, plainCrash: null });
      expect(await t.store.data(key)).toEqual({ visits: 2 });
      const query = await gql(client, '{ visits plainFails }');
      expect(query.json().data).toEqual({ visits: 2, plainFails: null });
    });

    it('a logout followed by a crash: the row is gone all the same and the cookie deleted, as Django does', async () => {
      const { client, key } = await withSession({ visits: 1 });
      const reply = await gql(client, 'mutation { logout crashUntouched }');
      expect(reply.json().data).toEqual({ logout: true, crashUntouched: null });
      expect(await t.store.exists(key)).toBe(false);
      expect(sessionCookieOf(reply)?.attributes['max-age']).toBe('0');
    });
  });
});

describe.each(GRAPHQL_DRIVERS)('GraphQL resolvers on %s (%s), with requestSession and a global guard', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    @Module({ imports: [graphqlModule(platform, typeDefs)], providers: [SessionResolver] })
    class GraphqlFeatureModule {}
    t = await startApp({
      platform,
      session: { secretKey: TEST_SECRET, requestSession: true },
      imports: [GraphqlFeatureModule],
      providers: [{ provide: APP_GUARD, useClass: OpenGuard }],
    });
  });
  afterAll(() => t?.close());

  const withSession = (data: Record<string, unknown>) => clientWithSession(t, data);

  it('one read, one commit after the operation (RequestSessionInstaller\'s, at the response\'s end)', async () => {
    const { client, key } = await withSession({ visits: 1 });
    t.sql.reset();
    const reply = await gql(client, 'mutation { a: count b: count c: setColor(color: "red") }');
    expect(reply.json()).toEqual({ data: { a: 2, b: 3, c: 'red' } });
    expect(t.sql.verbs).toEqual(['SELECT', 'UPDATE']);
    expect(sessionCookieOf(reply)?.value).toBe(key);
  });

  it('the error rule holds: a crash discards the operation\'s changes', async () => {
    const { client, key } = await withSession({ visits: 1 });
    await gql(client, 'mutation { a: count b: crash }');
    expect(await t.store.data(key)).toEqual({ visits: 1 });
  });
});
