/**
 * Controllers the e2e suites drive over HTTP.
 *
 * - `SessionOpsController` (`POST /ops`) runs a list of operations on the request's session, in
 *   order, and answers their results: every `SessionStore` method is reachable from a test
 *   without writing a route per case. Other routes take `@Session()` without touching it, or don't
 *   take it at all.
 * - `GuardedController` uses guards that read and write the session through
 *   `SessionService.forContext(context)`.
 */
import {
  BadRequestException,
  Body,
  CanActivate,
  Catch,
  Controller,
  ExecutionContext,
  ForbiddenException,
  type ArgumentsHost,
  type ExceptionFilter,
  Get,
  HttpCode,
  HttpException,
  Inject,
  Injectable,
  Post,
  Redirect,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { KeyError, Session, SessionEntity, SessionService, SessionStore } from '../../src/index.js';
import { STORE_PROBE, type Op, type StoreProbe, type StoreProbeRef } from './app.js';

/** How an `undefined` result is sent back (JSON has no undefined). */
export const UNDEFINED = '<undefined>';

/** The values JSON cannot carry, by name (they cannot travel in a request body). */
export function notJson(kind: string): unknown {
  switch (kind) {
    case 'undefined':
      return undefined;
    case 'function':
      return () => 1;
    case 'date':
      return new Date(0);
    case 'bigint':
      return 10n;
    case 'cycle': {
      const cycle: Record<string, unknown> = { a: 1 };
      cycle.self = cycle;
      return cycle;
    }
    case 'nested-date':
      return { when: [new Date(0)] };
    case 'nan':
      return Number.NaN;
    case 'infinity':
      return Number.POSITIVE_INFINITY;
    case 'map':
      return new Map([['a', 1]]);
    case 'instance':
      return new (class Cart {
        items = [1];
      })();
    case 'symbol':
      return Symbol('s');
    default:
      throw new Error(`unknown non-JSON kind ${kind}`);
  }
}

/** `{ date: iso }` or `{ inSeconds: n }` → a Date; anything else unchanged (seconds, null). */
function expiryArg(value: unknown): number | Date | null {
  if (value !== null && typeof value === 'object') {
    const v = value as { date?: string; inSeconds?: number };
    if (typeof v.date === 'string') return new Date(v.date);
    if (typeof v.inSeconds === 'number') return new Date(Date.now() + v.inSeconds * 1000);
  }
  return value as number | null;
}

/** Express's `res.json()` or Fastify's `reply.send()`. */
interface RawResponse {
  json?(body: unknown): unknown;
  send(body: unknown): unknown;
}

/** The part of Express's response / Fastify's reply the ops use (both have these). */
interface PassthroughResponse {
  header(name: string, value: string): unknown;
  status(code: number): unknown;
}

@Controller()
export class SessionOpsController {
  constructor(@Inject(ModuleRef) private readonly moduleRef: ModuleRef) {}

  private dataSource(): DataSource {
    return this.moduleRef.get<DataSource>(getDataSourceToken() as string, { strict: false });
  }

  /** The app's store probe (test/support/app.ts provides it), if the app has one. */
  private storeProbe(): StoreProbe | undefined {
    try {
      return this.moduleRef.get<StoreProbeRef>(STORE_PROBE, { strict: false }).current;
    } catch {
      return undefined;
    }
  }

  /**
   * Body `{ ops: [[method, ...args], ...], catch?: boolean }`. Answers `{ results }`, one per op.
   * With `catch: true` an op that throws gives `{ thrown: name, message }` and the next op runs;
   * otherwise the error leaves the handler (a plain Error → 500).
   */
  @Post('ops')
  @HttpCode(200)
  async ops(
    @Session() session: SessionStore,
    @Body() body: { ops: Op[]; catch?: boolean },
    @Res({ passthrough: true }) response: PassthroughResponse,
  ): Promise<{ results: unknown[] }> {
    const results: unknown[] = [];
    for (const op of body.ops) {
      try {
        const value = await this.run(session, op, response);
        results.push(value === undefined ? UNDEFINED : value);
      } catch (error) {
        if (!body.catch || op[0] === 'throw') throw error;
        const e = error as Error;
        results.push({ thrown: e.name, message: e.message, isKeyError: e instanceof KeyError, isTypeError: e instanceof TypeError });
      }
    }
    return { results };
  }

  private async run(session: SessionStore, [name, ...args]: Op, response: PassthroughResponse): Promise<unknown> {
    const [a, b] = args as [any, any];
    switch (name) {
      // the dictionary
      case 'get':
        return args.length > 1 ? session.get(a, b) : session.get(a);
      case 'set':
        return session.set(a, b) === session;
      case 'setNotJson':
        return session.set(a, notJson(b));
      case 'has':
        return session.has(a);
      case 'delete':
        return session.delete(a);
      case 'keys':
        return session.keys();
      case 'values':
        return session.values();
      case 'items':
        return session.items();
      case 'pop':
        return args.length > 1 ? session.pop(a, b) : session.pop(a);
      case 'setDefault':
        return session.setDefault(a, b);
      case 'update':
        return session.update(a);
      case 'clear':
        return session.clear();
      case 'isEmpty':
        return session.isEmpty();
      case 'toJSON':
        return session.toJSON();
      // nested mutation: session.get(a)[b] = value — not seen by the session
      case 'mutateNested': {
        const target = session.get(a) as Record<string, unknown>;
        target[b] = args[2];
        return undefined;
      }
      case 'mutateNestedNotJson': {
        const target = session.get(a) as Record<string, unknown>;
        target[b] = notJson(args[2] as string);
        return undefined;
      }
      // flags
      case 'sessionKey':
        return session.sessionKey;
      case 'accessed':
        return session.accessed;
      case 'modified':
        return session.modified;
      case 'setModified':
        session.modified = a;
        return undefined;
      // the session's life
      case 'flush':
        return session.flush();
      case 'flushNoAwait':
        void session.flush();
        return undefined;
      case 'cycleKey':
        return session.cycleKey();
      case 'save':
        return session.save();
      // expiry
      case 'setExpiry':
        return session.setExpiry(expiryArg(a));
      case 'getExpiryAge':
        return session.getExpiryAge();
      case 'getExpiryDate':
        return session.getExpiryDate().toISOString();
      case 'getExpireAtBrowserClose':
        return session.getExpireAtBrowserClose();
      // test cookie
      case 'setTestCookie':
        return session.setTestCookie();
      case 'testCookieWorked':
        return session.testCookieWorked();
      case 'deleteTestCookie':
        return session.deleteTestCookie();
      // the world around the session
      case 'deleteRow': {
        // Another request's logout, as it looks to this one: the row goes, through the DataSource
        // (db), or straight from the engine's storage (the others: see StoreProbe.delete).
        const key = typeof a === 'string' ? a : session.sessionKey;
        const probe = this.storeProbe();
        if (probe !== undefined && probe.engine !== 'db') return probe.delete(key!);
        const result = await this.dataSource().getRepository(SessionEntity).delete({ sessionKey: key! });
        return result.affected ?? null;
      }
      case 'header':
        response.header(a, b);
        return undefined;
      case 'status':
        // What a handler may do with @Res({ passthrough: true }): Express's res.status(), Fastify's reply.status().
        response.status(Number(a));
        return undefined;
      case 'sleep':
        await new Promise((resolve) => setTimeout(resolve, Number(a)));
        return undefined;
      case 'throw':
        if (a === 'error') throw new Error('handler failed');
        if (a === 'typeerror') throw new TypeError('handler failed');
        throw new HttpException(`status ${a}`, Number(a));
      default:
        throw new Error(`unknown op ${name}`);
    }
  }

  /** Takes the session and never touches it. */
  @Get('untouched')
  untouched(@Session() _session: SessionStore): string {
    return 'untouched';
  }

  /** Does not take the session. */
  @Get('plain')
  plain(): string {
    return 'plain';
  }

  /** Logs in and redirects (the next request must find the row written). */
  @Post('login-redirect')
  @Redirect('/read', 302)
  async loginRedirect(@Session() session: SessionStore): Promise<void> {
    await session.cycleKey();
    session.set('value', 'after-redirect');
  }

  /**
   * Answers through the platform's own response (`@Res()` without passthrough), then writes the
   * session: Nest sends nothing more, and no header can be added after the handler.
   */
  @Post('raw')
  @HttpCode(200)
  raw(@Session() session: SessionStore, @Body() body: { set: Record<string, unknown> }, @Res() response: RawResponse): void {
    session.update(body.set);
    if (typeof response.json === 'function') response.json({ sent: true });
    else response.send({ sent: true });
  }

  /** Reads one key (`GET /read?key=x` would need a query parser: the key is fixed). */
  @Get('read')
  read(@Session() session: SessionStore): { value: unknown } {
    return { value: session.get('value', null) };
  }
}

/** Where a guard leaves the store it got, so the handler can check it receives the same object. */
const GUARD_STORE = Symbol('guard-store');

/** Lets in members only: reads the session from a guard. */
@Injectable()
export class MemberGuard implements CanActivate {
  constructor(@Inject(SessionService) private readonly sessions: SessionService) {}
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const session = await this.sessions.forContext(context);
    context.switchToHttp().getRequest()[GUARD_STORE] = session;
    return session.has('member_id');
  }
}

/** Counts visits in the session, from the guard alone. */
@Injectable()
export class VisitGuard implements CanActivate {
  constructor(@Inject(SessionService) private readonly sessions: SessionService) {}
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const session = await this.sessions.forContext<{ guard_visits: number }>(context);
    session.set('guard_visits', session.get('guard_visits', 0) + 1);
    return true;
  }
}

/** Notes the refusal in the session, then refuses (403). */
@Injectable()
export class DenyingGuard implements CanActivate {
  constructor(@Inject(SessionService) private readonly sessions: SessionService) {}
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const session = await this.sessions.forContext(context);
    session.set('denied', true);
    throw new ForbiddenException('denied');
  }
}

/** Notes the refusal in the session, then answers false (Nest throws the ForbiddenException). */
@Injectable()
export class FalseGuard implements CanActivate {
  constructor(@Inject(SessionService) private readonly sessions: SessionService) {}
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const session = await this.sessions.forContext(context);
    session.set('refused', true);
    return false;
  }
}

/**
 * An application's own global filter (`APP_FILTER`): answers every HttpException as
 * `{ custom: true, status }`. SessionModule must never take its place.
 */
@Catch(HttpException)
@Injectable()
export class AppHttpFilter implements ExceptionFilter {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}
  catch(exception: HttpException, host: ArgumentsHost): void {
    const status = exception.getStatus();
    this.adapterHost.httpAdapter.reply(host.switchToHttp().getResponse(), { custom: true, status }, status);
  }
}

@Controller('guarded')
export class GuardedController {
  @Get('member')
  @UseGuards(MemberGuard)
  member(@Session() session: SessionStore, @Req() request: Record<PropertyKey, unknown>): { memberId: unknown; sameStore: boolean } {
    return { memberId: session.get('member_id'), sameStore: request[GUARD_STORE] === session };
  }

  /** No @Session(): only the guard uses the session. */
  @Get('count')
  @UseGuards(VisitGuard)
  count(): string {
    return 'counted';
  }

  /** The guard also counts; the handler reads the count the guard wrote. */
  @Get('count-and-read')
  @UseGuards(VisitGuard)
  countAndRead(@Session() session: SessionStore): { visits: unknown } {
    return { visits: session.get('guard_visits') };
  }

  @Get('deny')
  @UseGuards(DenyingGuard)
  deny(): string {
    return 'never';
  }

  @Get('deny-false')
  @UseGuards(FalseGuard)
  denyFalse(): string {
    return 'never';
  }

  /** No guard, no session: an HttpException that only the application's filters should answer. */
  @Get('bad-request')
  badRequest(): string {
    throw new BadRequestException('bad');
  }
}
