/**
 * A minimal browser for the interop tests: one `sessionid` cookie, sent to whichever server is
 * asked (Django and Nest run on the same host, so a real browser would send both the same cookie),
 * and updated from each response's Set-Cookie as a browser would.
 */
import type { Server } from './processes.js';

export const COOKIE_NAME = 'sessionid';

export interface Reply<T = any> {
  status: number;
  body: T;
  /** The raw Set-Cookie headers for the session cookie. */
  setCookie: string[];
  vary: string | null;
  /** When the request was sent and its response read (ms since epoch): a save happened in between. */
  sentAt: number;
  receivedAt: number;
}

/** `name=value; A=b; C` → { name, value, attributes (lower-cased names) }. */
export function parseSetCookie(header: string): { name: string; value: string; attributes: Record<string, string> } {
  const [pair, ...rest] = header.trim().split(';');
  const eq = pair!.indexOf('=');
  const attributes: Record<string, string> = {};
  for (const part of rest) {
    const [k, ...v] = part.trim().split('=');
    if (k) attributes[k.toLowerCase()] = v.join('=');
  }
  return { name: pair!.slice(0, eq).trim(), value: pair!.slice(eq + 1).trim(), attributes };
}

export class Browser {
  /** The session cookie's value, or null when the browser has none. */
  cookie: string | null;

  constructor(cookie: string | null = null) {
    this.cookie = cookie;
  }

  get(server: Server, path: string): Promise<Reply> {
    return this.request(server, 'GET', path);
  }

  post(server: Server, path: string, body: unknown = {}): Promise<Reply> {
    return this.request(server, 'POST', path, body);
  }

  async request(server: Server, method: string, path: string, body?: unknown): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (this.cookie !== null) headers.cookie = `${COOKIE_NAME}=${this.cookie}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const sentAt = Date.now();
    const response = await fetch(`${server.url}/${path.replace(/^\//, '')}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const receivedAt = Date.now();
    if (response.status >= 500) {
      throw new Error(`${server.name} ${method} ${path} answered ${response.status}: ${text.slice(0, 500)}\n${server.logs().slice(-3000)}`);
    }
    const setCookie = response.headers.getSetCookie().filter((h) => parseSetCookie(h).name === COOKIE_NAME);
    for (const header of setCookie) {
      const { value, attributes } = parseSetCookie(header);
      const deleted = value === '' || value === '""' || attributes['max-age'] === '0';
      this.cookie = deleted ? null : value;
    }
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed, setCookie, vary: response.headers.get('vary'), sentAt, receivedAt };
  }
}

/** Parses an ISO-8601 instant with up to 6 fraction digits and an offset (what Python's isoformat writes) to ms, floored. */
export function instant(value: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})?$/.exec(value);
  if (m === null) throw new Error(`not an ISO instant: ${value}`);
  const [, y, mo, d, h, mi, s, frac = '0', zone = 'Z'] = m;
  let ms = Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!, Math.floor(Number(`0.${frac}`) * 1000));
  if (zone !== 'Z') ms -= (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  return ms;
}

export const sleepUntil = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms - Date.now())));
