/**
 * The `touchAfter` option beyond HTTP controllers (docs/idle-expiry.md). A GraphQL operation is an
 * HTTP request: a resolver that reads the session (`@Session()`) after the stored expiry was set
 * more than `touchAfter` ago extends it — one `UPDATE` of `expire_date` alone, the cookie sent
 * again with `Max-Age` on the operation's response (Apollo on Express, Mercurius on Fastify). A
 * WebSocket message never touches (no cookie can be sent): no write at all, the stored expiry
 * left as it was, while an HTTP request on the same aged session does touch it. The session's age
 * is simulated by moving `expire_date` in the SQLite file, as test/e2e/idle-expiry.e2e-spec.ts does.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { Query, Resolver } from '@nestjs/graphql';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Session, type SessionStore } from '../../src/index.js';
import { PLATFORMS, sessionCookieOf, startApp, TEST_SECRET, unknownKey, type Client, type Platform, type TestApp } from '../support/app.js';
import { SessionOpsController } from '../support/controllers.js';
import { ADAPTERS, connect, reply, useAdapter, type AdapterName } from '../support/sockets.js';
import { graphqlModule, GRAPHQL_DRIVERS } from '../support/graphql.js';

const AGE = 1_209_600; // cookieAge: Django's default
const TOUCH = 60;
const SECOND = 1000;
const SESSION = { secretKey: TEST_SECRET, touchAfter: TOUCH };

/** A client of `t` holding a stored session `{ a: 1 }` whose expiry was set `ago` seconds ago. */
async function sessionSetAgo(t: TestApp, ago: number): Promise<{ client: Client; key: string; expiresAt: number; raw: unknown }> {
  const key = await t.store.put(unknownKey(), { a: 1 }, Date.now() + (AGE - ago) * SECOND);
  const client = t.client();
  client.jar.set('sessionid', key);
  return { client, key, expiresAt: (await t.store.expiresAt(key))!, raw: await t.store.raw(key) };
}

// ---- GraphQL -----------------------------------------------------------------------------------

const typeDefs = /* GraphQL */ `
  type Query {
    a: Int
    plain: String
  }
`;

@Resolver()
class ReadingResolver {
  @Query('a')
  a(@Session() session: SessionStore<{ a: number }>): number | null {
    return session.get('a') ?? null;
  }

  @Query('plain')
  plain(): string {
    return 'plain';
  }
}



describe.each(GRAPHQL_DRIVERS)('touchAfter in GraphQL resolvers on %s (%s)', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    @Module({ imports: [graphqlModule(platform, typeDefs)], providers: [ReadingResolver] })
    class GraphqlFeatureModule {}
    t = await startApp({ platform, session: SESSION, imports: [GraphqlFeatureModule] });
  });
  afterAll(() => t?.close());

  it('a query reading a session whose expiry was set more than touchAfter ago: one UPDATE of expire_date, Set-Cookie with Max-Age, the data untouched', async () => {
    const { client, key, raw, expiresAt } = await sessionSetAgo(t, 2 * TOUCH);
    t.sql.reset();
    const before = Date.now();
    const answer = await client.post('/graphql', { query: '{ a plain }' });
    const after = Date.now();
    expect(answer.json()).toEqual({ data: { a: 1, plain: 'plain' } });

    const cookie = sessionCookieOf(answer);
    expect(cookie?.value).toBe(key);
    expect(cookie?.attributes['max-age']).toBe(String(AGE));
    expect(answer.vary).toMatch(/Cookie/);
    expect(t.sql.verbs).toEqual(['SELECT', 'UPDATE']);
    expect(t.sql.statements[1]).toMatch(/expire_date/);
    expect(t.sql.statements[1]).not.toMatch(/session_data/);

    const moved = (await t.store.expiresAt(key))!;
    expect(moved).toBeGreaterThan(expiresAt + TOUCH * SECOND);
    expect(moved).toBeGreaterThanOrEqual(Math.floor(before / SECOND) * SECOND + AGE * SECOND - SECOND);
    expect(moved).toBeLessThanOrEqual(after + AGE * SECOND + SECOND);
    expect(await t.store.raw(key)).toEqual(raw);

    // Touched now: the next operation writes nothing and sends no cookie.
    t.sql.reset();
    const next = await client.post('/graphql', { query: '{ a }' });
    expect(next.json()).toEqual({ data: { a: 1 } });
    expect(sessionCookieOf(next)).toBeUndefined();
    expect(t.sql.verbs).toEqual(['SELECT']);
  });

  it('within touchAfter: nothing written, no cookie; an operation without session resolvers reads nothing', async () => {
    const { client, key, expiresAt } = await sessionSetAgo(t, TOUCH / 2);
    t.sql.reset();
    const answer = await client.post('/graphql', { query: '{ a }' });
    expect(answer.json()).toEqual({ data: { a: 1 } });
    expect(sessionCookieOf(answer)).toBeUndefined();
    expect(t.sql.verbs).toEqual(['SELECT']);
    expect(await t.store.expiresAt(key)).toBe(expiresAt);

    const aged = await sessionSetAgo(t, 2 * TOUCH);
    t.sql.reset();
    const plain = await aged.client.post('/graphql', { query: '{ plain }' });
    expect(plain.json()).toEqual({ data: { plain: 'plain' } });
    expect(sessionCookieOf(plain)).toBeUndefined();
    expect(t.sql.count).toBe(0);
    expect(await t.store.expiresAt(aged.key)).toBe(aged.expiresAt);
  });
});

// ---- WebSocket ---------------------------------------------------------------------------------

@WebSocketGateway()
class ReadingGateway {
  @SubscribeMessage('a')
  a(@Session() session: SessionStore<{ a: number }>) {
    return reply(session.get('a') ?? null);
  }
}

const CASES: Array<[AdapterName, Platform]> = ADAPTERS.flatMap((adapter) => PLATFORMS.map((platform): [AdapterName, Platform] => [adapter, platform]));

describe.each(CASES)('touchAfter in gateway handlers on %s (HTTP on %s)', (adapter, platform) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ platform, session: SESSION, providers: [ReadingGateway], controllers: [SessionOpsController], beforeListen: useAdapter(adapter) });
  });
  afterAll(() => t?.close());

  it('a message reading a session whose expiry was set more than touchAfter ago writes nothing; an HTTP request then touches it', async () => {
    const { client, key, raw, expiresAt } = await sessionSetAgo(t, 2 * TOUCH);
    const socket = await connect(adapter, t.url, `sessionid=${key}`);
    try {
      t.sql.reset();
      expect(await socket.send('a')).toEqual({ event: 'reply', data: 1 });
      expect(await socket.send('a')).toEqual({ event: 'reply', data: 1 });
      expect(t.sql.verbs).toEqual(['SELECT', 'SELECT']);
      expect(await t.store.expiresAt(key)).toBe(expiresAt);
      expect(await t.store.raw(key)).toEqual(raw);
    } finally {
      socket.close();
    }

    // The same session, over HTTP: it was due.
    t.sql.reset();
    const answer = await client.ops([['get', 'a']]);
    expect(answer.json().results).toEqual([1]);
    expect(sessionCookieOf(answer)?.attributes['max-age']).toBe(String(AGE));
    expect(t.sql.verbs).toEqual(['SELECT', 'UPDATE']);
    expect(await t.store.expiresAt(key)).toBeGreaterThan(expiresAt + TOUCH * SECOND);
  });
});
