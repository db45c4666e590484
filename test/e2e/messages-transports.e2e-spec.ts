/**
 * `nestjs-django-session/messages` beyond HTTP controllers: `@Messages()` in GraphQL resolvers
 * (Apollo on Express, Mercurius on Fastify) and in WebSocket gateway handlers (socket.io and ws),
 * real servers and clients. A message is shown once whatever the transport that added it and the
 * one that reads it, since both work on the same session (`_messages`). A socket cannot set a
 * cookie: adding a message without a session, or any change on the signed_cookies engine (a read
 * removes the messages), fails with `SocketSessionError` and stores nothing, as the WebSocket
 * section of docs/integrations.md says of any change.
 */
import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { MessageLevel, Messages, MessagesModule, type Message, type MessageStorage } from '../../src/exports/messages.js';
import { logs, PLATFORMS, sessionCookieOf, startApp, unknownKey, type Client, type Platform, type Reply, type TestApp } from '../support/app.js';
import { ADAPTERS, connect, reply, useAdapter, type AdapterName, type SocketClient } from '../support/sockets.js';
import { graphqlModule, GRAPHQL_DRIVERS } from '../support/graphql.js';

/** The app's messages options: a renamed ERROR tag shows that each transport reads them. */
const MESSAGES = MessagesModule.forRoot({ tags: { [MessageLevel.ERROR]: 'danger' } });

// ---- HTTP, beside the other transports ---------------------------------------------------------

@Controller('messages')
class MessagesController {
  @Post()
  @HttpCode(200)
  add(@Messages() messages: MessageStorage, @Body() body: { level: number; text: string; extraTags?: string }) {
    return { recorded: messages.add(body.level, body.text, body.extraTags === undefined ? {} : { extraTags: body.extraTags }) };
  }

  @Get()
  read(@Messages() messages: MessageStorage): Message[] {
    return messages.consume();
  }
}

// ---- GraphQL -----------------------------------------------------------------------------------

const typeDefs = /* GraphQL */ `
  type Message {
    message: String!
    level: Int!
    levelTag: String!
    tags: String!
    extraTags: String
    safe: Boolean!
  }
  type Query {
    messages: [Message!]!
    messageCount: Int!
  }
  type Mutation {
    addMessage(level: Int!, text: String!, extraTags: String): Boolean!
  }
`;

@Resolver()
class MessagesResolver {
  @Mutation('addMessage')
  addMessage(
    @Messages() messages: MessageStorage,
    @Args('level') level: number,
    @Args('text') text: string,
    @Args('extraTags') extraTags?: string | null,
  ): boolean {
    return messages.add(level, text, extraTags === undefined || extraTags === null ? {} : { extraTags });
  }

  /** Reads them: shown once. */
  @Query('messages')
  messages(@Messages() messages: MessageStorage): Message[] {
    return messages.consume();
  }

  /** `len(storage)`: does not read them. */
  @Query('messageCount')
  messageCount(@Messages() messages: MessageStorage): number {
    return messages.length;
  }
}



const LIST = '{ messages { message level levelTag tags extraTags safe } }';
const ADD = 'mutation Add($level: Int!, $text: String!, $extraTags: String) { addMessage(level: $level, text: $text, extraTags: $extraTags) }';

async function gql(client: Client, query: string, variables?: Record<string, unknown>): Promise<Reply> {
  const answer = await client.post('/graphql', { query, variables });
  expect(answer.status).toBe(200);
  expect(answer.json().errors).toBeUndefined();
  return answer;
}

const texts = (list: Array<{ message: string }>) => list.map((m) => m.message);

describe.each(GRAPHQL_DRIVERS)('messages in GraphQL resolvers on %s (%s)', (platform) => {
  let t: TestApp;
  beforeAll(async () => {
    @Module({ imports: [graphqlModule(platform, typeDefs)], providers: [MessagesResolver] })
    class GraphqlFeatureModule {}
    t = await startApp({ platform, imports: [MESSAGES, GraphqlFeatureModule], controllers: [MessagesController] });
  });
  afterAll(() => t?.close());

  it('a mutation adds a message (a new session, its cookie on the response); a later query lists it once, the next none', async () => {
    const client = t.client();
    const added = await gql(client, ADD, { level: MessageLevel.ERROR, text: 'Card declined.', extraTags: 'payment' });
    expect(added.json()).toEqual({ data: { addMessage: true } });
    const key = sessionCookieOf(added)?.value;
    expect(key).toMatch(/^[a-z0-9]{32}$/);
    expect(await t.store.data(key!)).toEqual({ _messages: '[["__json_message", 0, 40, "Card declined.", "payment"]]' });

    // Counting does not read them.
    expect((await gql(client, '{ messageCount }')).json()).toEqual({ data: { messageCount: 1 } });

    const first = await gql(client, LIST);
    expect(first.json()).toEqual({
      data: { messages: [{ message: 'Card declined.', level: 40, levelTag: 'danger', tags: 'payment danger', extraTags: 'payment', safe: false }] },
    });
    expect(await t.store.data(key!)).toEqual({});
    expect((await gql(client, LIST)).json()).toEqual({ data: { messages: [] } });
  });

  it('two mutations of one operation share its messages: both are listed, in order, by the next query', async () => {
    const client = t.client();
    await gql(client, 'mutation { a: addMessage(level: 25, text: "one") b: addMessage(level: 10, text: "below the level") c: addMessage(level: 30, text: "two") }');
    expect(texts((await gql(client, LIST)).json().data.messages)).toEqual(['one', 'two']);
    expect((await gql(client, LIST)).json().data.messages).toEqual([]);
  });

  it('a message added in a resolver is shown once by an HTTP controller, with the same cookie', async () => {
    const client = t.client();
    await gql(client, ADD, { level: MessageLevel.SUCCESS, text: 'Saved in GraphQL.' });
    const http = await client.get('/messages');
    expect(http.json()).toEqual([{ message: 'Saved in GraphQL.', level: 25, extraTags: '', levelTag: 'success', tags: 'success', safe: false }]);
    expect((await client.get('/messages')).json()).toEqual([]);
    expect((await gql(client, LIST)).json().data.messages).toEqual([]);
  });

  it('a message added by an HTTP controller is shown once by a resolver', async () => {
    const client = t.client();
    expect((await client.post('/messages', { level: MessageLevel.WARNING, text: 'Saved over HTTP.' })).json()).toEqual({ recorded: true });
    expect(texts((await gql(client, LIST)).json().data.messages)).toEqual(['Saved over HTTP.']);
    expect((await gql(client, LIST)).json().data.messages).toEqual([]);
    expect((await client.get('/messages')).json()).toEqual([]);
  });
});

// ---- WebSocket ---------------------------------------------------------------------------------

@WebSocketGateway()
class MessagesGateway {
  /** Reads the messages of the handshake cookie's session: shown once. */
  @SubscribeMessage('messages')
  messages(@Messages() messages: MessageStorage) {
    return reply(messages.consume());
  }

  @SubscribeMessage('addMessage')
  addMessage(@Messages() messages: MessageStorage) {
    return reply(messages.success('Sent over the socket.', { extraTags: 'chat' }));
  }
}

/** A client of `t` holding a stored session with `data` (an hour to live). */
async function storedSession(t: TestApp, data: Record<string, unknown>): Promise<Client> {
  const key = await t.store.put(unknownKey(), data, Date.now() + 3600_000);
  const client = t.client();
  client.jar.set('sessionid', key);
  return client;
}

const CASES: Array<[AdapterName, Platform]> = ADAPTERS.flatMap((adapter) => PLATFORMS.map((platform): [AdapterName, Platform] => [adapter, platform]));

describe.each(CASES)('messages in gateway handlers on %s (HTTP on %s)', (adapter, platform) => {
  let t: TestApp;
  const open: SocketClient[] = [];
  beforeAll(async () => {
    t = await startApp({ platform, imports: [MESSAGES], providers: [MessagesGateway], controllers: [MessagesController], beforeListen: useAdapter(adapter) });
  });
  afterEach(() => {
    for (const client of open.splice(0)) client.close();
  });
  afterAll(() => t?.close());

  async function socket(cookie?: string): Promise<SocketClient> {
    const client = await connect(adapter, t.url, cookie);
    open.push(client);
    return client;
  }

  it('a message added over HTTP is read once over the socket, then by nobody', async () => {
    const http = t.client();
    await http.post('/messages', { level: MessageLevel.ERROR, text: 'Added over HTTP.', extraTags: 'toast' });
    const key = http.sessionKey!;
    expect(key).toMatch(/^[a-z0-9]{32}$/);
    const client = await socket(`sessionid=${key}`);
    expect(await client.send('messages')).toEqual({
      event: 'reply',
      data: [{ message: 'Added over HTTP.', level: 40, extraTags: 'toast', levelTag: 'danger', tags: 'toast danger', safe: false }],
    });
    // Removed from the stored session after the message (the session is kept, empty).
    expect(await t.store.data(key)).toEqual({});
    expect(await client.send('messages')).toEqual({ event: 'reply', data: [] });
    expect((await http.get('/messages')).json()).toEqual([]);
  });

  it('a message added over the socket (to a session the browser holds) is shown once over HTTP', async () => {
    const http = await storedSession(t, { user: 'alice' });
    const client = await socket(`sessionid=${http.sessionKey!}`);
    expect(await client.send('addMessage')).toEqual({ event: 'reply', data: true });
    expect(await t.store.data(http.sessionKey!)).toEqual({ user: 'alice', _messages: '[["__json_message", 0, 25, "Sent over the socket.", "chat"]]' });
    expect((await http.get('/messages')).json()).toEqual([
      { message: 'Sent over the socket.', level: 25, extraTags: 'chat', levelTag: 'success', tags: 'chat success', safe: false },
    ]);
    expect((await http.get('/messages')).json()).toEqual([]);
    expect(await client.send('messages')).toEqual({ event: 'reply', data: [] });
    expect(await t.store.data(http.sessionKey!)).toEqual({ user: 'alice' });
  });

  it('without a session, reading finds none; adding would create one: SocketSessionError, nothing stored', async () => {
    for (const cookie of [undefined, `sessionid=${unknownKey()}`]) {
      const client = await socket(cookie);
      expect(await client.send('messages')).toEqual({ event: 'reply', data: [] });
      logs.clear();
      const before = await t.store.count();
      expect((await client.send('addMessage')).event).toBe('exception');
      expect(await t.store.count()).toBe(before);
      expect(logs.entries.map((e) => e.message).join('\n')).toContain('SocketSessionError: Creating a session in a WebSocket handler needs a new session cookie');
    }
  });
});

describe.each(ADAPTERS)('messages in gateway handlers on %s, signed_cookies engine (the data is the cookie)', (adapter) => {
  let t: TestApp;
  let client: SocketClient | undefined;
  beforeAll(async () => {
    t = await startApp({ platform: 'express', engine: 'signed_cookies', imports: [MESSAGES], providers: [MessagesGateway], controllers: [MessagesController], beforeListen: useAdapter(adapter) });
  });
  afterAll(async () => {
    client?.close();
    await t?.close();
  });

  it('reading over the socket would change the cookie: SocketSessionError, and the message is still shown once over HTTP; adding is refused too', async () => {
    const http = t.client();
    await http.post('/messages', { level: MessageLevel.INFO, text: 'Kept in the cookie.' });
    client = await connect(adapter, t.url, `sessionid=${http.sessionKey!}`);
    logs.clear();
    expect((await client.send('messages')).event).toBe('exception');
    expect((await client.send('addMessage')).event).toBe('exception');
    const logged = logs.entries.map((e) => e.message).join('\n');
    expect(logged).toContain('SocketSessionError: Saving a session whose engine keeps it in the cookie (signed_cookies)');
    expect(texts((await http.get('/messages')).json())).toEqual(['Kept in the cookie.']);
    expect((await http.get('/messages')).json()).toEqual([]);
  });
});
