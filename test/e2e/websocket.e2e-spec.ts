/**
 * `@Session()` in WebSocket gateway handlers, on the socket.io and ws adapters, over Express and
 * Fastify: real servers, real clients (socket.io-client, ws). The session is the handshake
 * cookie's, read again for every message; a stored session's changes are saved after the handler;
 * what would need a new cookie (a new session, cycleKey(), the signed_cookies engine) fails with
 * SocketSessionError and stores nothing.
 */
import {
  Controller,
  HttpCode,
  Injectable,
  Post,
  UseInterceptors,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import { map, type Observable } from 'rxjs';
import { Session, type SessionStore } from '../../src/index.js';
import { SocketSessionError } from '../../src/exports/websocket.js';
import { logs, PLATFORMS, sessionCookieOf, startApp, unknownKey, type EngineUnderTest, type Platform, type TestApp } from '../support/app.js';
import { ADAPTERS, connect, reply, useAdapter, type AdapterName, type SocketClient } from '../support/sockets.js';

type Data = { user: string; visits: number; flag: string };

/** Runs inside SessionInterceptor: what it reads of the message must be what Nest passed. */
@Injectable()
class PatternInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const ws = context.switchToWs();
    const seen = { pattern: ws.getPattern(), data: ws.getData() };
    return next.handle().pipe(map((answer: { event: string; data: object }) => ({ ...answer, data: { ...answer.data, seen } })));
  }
}

/** A global guard that lets everything through: SessionInterceptor then runs globally too. */
@Injectable()
class OpenGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

@WebSocketGateway()
class SessionGateway {
  @SubscribeMessage('whoami')
  whoami(@Session() session: SessionStore<Data>) {
    return reply({ user: session.get('user') ?? null, visits: session.get('visits', 0) });
  }

  @SubscribeMessage('count')
  count(@Session() session: SessionStore<Data>) {
    const visits = session.get('visits', 0) + 1;
    session.set('visits', visits);
    return reply(visits);
  }

  @SubscribeMessage('rotate')
  async rotate(@Session() session: SessionStore<Data>) {
    await session.cycleKey();
    return reply('rotated');
  }

  @SubscribeMessage('logout')
  async logout(@Session() session: SessionStore<Data>) {
    await session.flush();
    return reply('bye');
  }

  @SubscribeMessage('refuse')
  refuse(@Session() session: SessionStore<Data>) {
    session.set('flag', 'refused');
    throw new WsException('refused');
  }

  @SubscribeMessage('crash')
  crash(@Session() session: SessionStore<Data>) {
    session.set('flag', 'crash');
    throw new Error('boom');
  }

  @SubscribeMessage('caught')
  async caught(@Session() session: SessionStore<Data>) {
    try {
      await session.cycleKey();
      return reply('rotated');
    } catch (error) {
      return reply({ name: (error as Error).name, instance: error instanceof SocketSessionError });
    }
  }

  /** @Session() beside Nest's own message parameters, and an interceptor inside SessionInterceptor. */
  @SubscribeMessage('echo')
  @UseInterceptors(PatternInterceptor)
  echo(@MessageBody() body: unknown, @ConnectedSocket() client: object, @Session() session: SessionStore<Data>) {
    return reply({ body, client: typeof client, user: session.get('user') ?? null });
  }

  /** No session: costs no query. */
  @SubscribeMessage('plain')
  plain() {
    return reply('plain');
  }
}

/** Login and logout over HTTP, beside the socket. */
@Controller('auth')
class AuthController {
  @Post('login')
  @HttpCode(200)
  login(@Session() session: SessionStore<Data>) {
    session.set('user', 'alice');
    return { ok: true };
  }

  @Post('logout')
  @HttpCode(200)
  async logout(@Session() session: SessionStore<Data>) {
    await session.flush();
    return { ok: true };
  }
}

const CASES: Array<[AdapterName, Platform]> = ADAPTERS.flatMap((adapter) => PLATFORMS.map((platform): [AdapterName, Platform] => [adapter, platform]));

const GLOBAL_GUARD = [{ provide: APP_GUARD, useClass: OpenGuard }];

describe.each(CASES)('gateway handlers on %s (HTTP on %s)', (adapter, platform) => {
  let t: TestApp;
  const open: SocketClient[] = [];
  beforeAll(async () => {
    t = await startApp({ platform, providers: [SessionGateway], controllers: [AuthController], beforeListen: useAdapter(adapter) });
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

  async function stored(data: Record<string, unknown>): Promise<string> {
    return t.store.put(unknownKey(), data, Date.now() + 3600_000);
  }

  it('sees the session of the handshake cookie', async () => {
    const key = await stored({ user: 'alice', visits: 2 });
    const client = await socket(`sessionid=${key}`);
    expect(await client.send('whoami')).toEqual({ event: 'reply', data: { user: 'alice', visits: 2 } });
  });

  it('reads the session again for every message: one SELECT each, one UPDATE after each change', async () => {
    const key = await stored({ visits: 0 });
    const client = await socket(`other=1; sessionid=${key}`);
    t.sql.reset();
    expect(await client.send('count')).toEqual({ event: 'reply', data: 1 });
    expect(await client.send('count')).toEqual({ event: 'reply', data: 2 });
    expect(await client.send('whoami')).toEqual({ event: 'reply', data: { user: null, visits: 2 } });
    expect(t.sql.verbs).toEqual(['SELECT', 'UPDATE', 'SELECT', 'UPDATE', 'SELECT']);
    expect(await t.store.data(key)).toEqual({ visits: 2 });
  });

  it('a handler without @Session(): no query', async () => {
    const key = await stored({ visits: 0 });
    const client = await socket(`sessionid=${key}`);
    t.sql.reset();
    expect(await client.send('plain')).toEqual({ event: 'reply', data: 'plain' });
    expect(t.sql.count).toBe(0);
  });

  it('a login and a logout over HTTP show at the socket\'s next message', async () => {
    const http = t.client();
    await http.post('/auth/login');
    const key = http.sessionKey!;
    const client = await socket(`sessionid=${key}`);
    expect((await client.send('whoami')).data).toEqual({ user: 'alice', visits: 0 });
    await http.post('/auth/logout');
    expect(await t.store.exists(key)).toBe(false);
    expect((await client.send('whoami')).data).toEqual({ user: null, visits: 0 });
  });

  it('creating a session is refused with SocketSessionError, and nothing is stored', async () => {
    for (const cookie of [undefined, `sessionid=${unknownKey()}`]) {
      logs.clear();
      const before = await t.store.count();
      const client = await socket(cookie);
      const answer = await client.send('count');
      expect(answer.event).toBe('exception');
      expect(await t.store.count()).toBe(before);
      const logged = logs.entries.map((e) => e.message).join('\n');
      expect(logged).toContain('SocketSessionError: Creating a session in a WebSocket handler needs a new session cookie');
    }
  });

  it('cycleKey() is refused before any I/O: the row and its key stay', async () => {
    const key = await stored({ user: 'alice' });
    const client = await socket(`sessionid=${key}`);
    const before = await t.store.count();
    t.sql.reset();
    expect((await client.send('rotate')).event).toBe('exception');
    expect(t.sql.verbs).toEqual(['SELECT']);
    expect(await t.store.count()).toBe(before);
    expect(await t.store.data(key)).toEqual({ user: 'alice' });
    // The handler can catch it, as the SocketSessionError it is.
    expect(await client.send('caught')).toEqual({ event: 'reply', data: { name: 'SocketSessionError', instance: true } });
  });

  it('flush() (a logout from the socket) deletes the row; the next message finds no session', async () => {
    const key = await stored({ user: 'alice' });
    const client = await socket(`sessionid=${key}`);
    expect((await client.send('logout')).data).toBe('bye');
    expect(await t.store.exists(key)).toBe(false);
    expect((await client.send('whoami')).data).toEqual({ user: null, visits: 0 });
  });

  it('a WsException after a change: saved (the client\'s error, as an HTTP 4xx)', async () => {
    const key = await stored({ visits: 1 });
    const client = await socket(`sessionid=${key}`);
    expect(await client.send('refuse')).toMatchObject({ event: 'exception', data: { message: 'refused' } });
    expect(await t.store.data(key)).toEqual({ visits: 1, flag: 'refused' });
  });

  it('any other error after a change: nothing saved', async () => {
    const key = await stored({ visits: 1 });
    const client = await socket(`sessionid=${key}`);
    t.sql.reset();
    expect((await client.send('crash')).event).toBe('exception');
    expect(t.sql.verbs).toEqual(['SELECT']);
    expect(await t.store.data(key)).toEqual({ visits: 1 });
  });

  it('@MessageBody(), @ConnectedSocket() and interceptors inside see the message as Nest passed it', async () => {
    const key = await stored({ user: 'alice' });
    const client = await socket(`sessionid=${key}`);
    expect(await client.send('echo')).toEqual({
      event: 'reply',
      data: { body: { n: 1 }, client: 'object', user: 'alice', seen: { pattern: 'echo', data: { n: 1 } } },
    });
  });

  it('the HTTP side is untouched: an HTTP login still sets its cookie', async () => {
    const http = t.client();
    const answer = await http.post('/auth/login');
    expect(sessionCookieOf(answer)?.value).toMatch(/^[a-z0-9]{32}$/);
  });
});

describe.each(ADAPTERS)('gateway handlers on %s, signed_cookies engine (the data is the cookie)', (adapter) => {
  const engine: EngineUnderTest = 'signed_cookies';
  let t: TestApp;
  let client: SocketClient | undefined;
  beforeAll(async () => {
    t = await startApp({ platform: 'express', engine, providers: [SessionGateway], controllers: [AuthController], beforeListen: useAdapter(adapter) });
  });
  afterAll(async () => {
    client?.close();
    await t?.close();
  });

  it('reads the session; a change is refused with SocketSessionError', async () => {
    const http = t.client();
    await http.post('/auth/login');
    client = await connect(adapter, t.url, `sessionid=${http.sessionKey!}`);
    expect((await client.send('whoami')).data).toEqual({ user: 'alice', visits: 0 });
    logs.clear();
    expect((await client.send('count')).event).toBe('exception');
    expect(logs.entries.map((e) => e.message).join('\n')).toContain("SocketSessionError: Saving a session whose engine keeps it in the cookie (signed_cookies)");
  });
});

describe.each(ADAPTERS)('gateway handlers on %s, with a global guard (SessionInterceptor global as well)', (adapter) => {
  let t: TestApp;
  let client: SocketClient | undefined;
  beforeAll(async () => {
    t = await startApp({ platform: 'express', providers: [SessionGateway, ...GLOBAL_GUARD], controllers: [AuthController], beforeListen: useAdapter(adapter) });
  });
  afterAll(async () => {
    client?.close();
    await t?.close();
  });

  it('one read and one save per message all the same; none for a handler without @Session()', async () => {
    const key = await t.store.put(unknownKey(), { visits: 5 }, Date.now() + 3600_000);
    client = await connect(adapter, t.url, `sessionid=${key}`);
    t.sql.reset();
    expect(await client.send('count')).toEqual({ event: 'reply', data: 6 });
    expect(await client.send('plain')).toEqual({ event: 'reply', data: 'plain' });
    expect(t.sql.verbs).toEqual(['SELECT', 'UPDATE']);
  });
});
