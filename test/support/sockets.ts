/**
 * WebSocket clients for the e2e suites: socket.io-client and ws, each connected with the cookie
 * header a browser would send in its handshake, sending one message at a time.
 */
import type { INestApplication } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import { io as ioClient, type Socket } from 'socket.io-client';
import WebSocket from 'ws';

export type AdapterName = 'socket.io' | 'ws';
export const ADAPTERS: AdapterName[] = ['socket.io', 'ws'];

/** One message's answer: the handler's reply, or the exception Nest sent instead. */
export interface Answer {
  event: 'reply' | 'exception';
  data: any;
}

/** What a gateway handler answers: an event both adapters send as is (socket.io emits it, ws sends it as JSON). */
export const reply = (data: unknown) => ({ event: 'reply', data });

/** A connected client of either kind, sending one message at a time. */
export interface SocketClient {
  send(event: string): Promise<Answer>;
  close(): void;
}

/** Connects to the app at `url` on `adapter`, sending `cookie` (a Cookie header) in the handshake. */
export async function connect(adapter: AdapterName, url: string, cookie?: string): Promise<SocketClient> {
  const headers: Record<string, string> = cookie === undefined ? {} : { cookie };
  if (adapter === 'socket.io') {
    const socket: Socket = ioClient(url, { transports: ['websocket'], extraHeaders: headers, forceNew: true, reconnection: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return {
      send: (event) =>
        new Promise((resolve) => {
          const done = (answer: Answer) => {
            socket.off('reply');
            socket.off('exception');
            resolve(answer);
          };
          socket.on('reply', (data) => done({ event: 'reply', data }));
          socket.on('exception', (data) => done({ event: 'exception', data }));
          socket.emit(event, { n: 1 });
        }),
      close: () => socket.close(),
    };
  }
  const ws = new WebSocket(url.replace('http', 'ws'), { headers });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    send: (event) =>
      new Promise((resolve) => {
        ws.once('message', (raw) => resolve(JSON.parse(raw.toString()) as Answer));
        ws.send(JSON.stringify({ event, data: { n: 1 } }));
      }),
    close: () => ws.close(),
  };
}

/** For `startApp`'s `beforeListen`: the app's WebSocket adapter. */
export function useAdapter(adapter: AdapterName) {
  return (app: INestApplication) => app.useWebSocketAdapter(adapter === 'ws' ? new WsAdapter(app) : new IoAdapter(app));
}
