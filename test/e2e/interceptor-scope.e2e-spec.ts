/**
 * Where SessionInterceptor runs (src/session.routes.ts): on every handler that takes @Session(),
 * and before every route as soon as anything else could open a session — a guard (global, on a
 * controller, on a handler) or a global interceptor that may call SessionService.forContext(), or
 * saveEveryRequest. Whatever the case, what such a guard or interceptor writes is saved; and a
 * route nothing can open a session on does not run the interceptor at all.
 */
import {
  Controller,
  Get,
  Inject,
  Injectable,
  UseGuards,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { PLATFORMS, sessionCookieOf, startApp, stored, type StartOptions, type TestApp } from '../support/app.js';
import { VisitGuard } from '../support/controllers.js';
import { Session, SessionInterceptor, SessionService, SessionStore } from '../../src/index.js';

/** Counts visits in the session from an interceptor (as a guard would). */
@Injectable()
class VisitInterceptor implements NestInterceptor {
  constructor(@Inject(SessionService) private readonly sessions: SessionService) {}
  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const session = await this.sessions.forContext<{ guard_visits: number }>(context);
    session.set('guard_visits', session.get('guard_visits', 0) + 1);
    return next.handle();
  }
}

/** Routes with no guard, no interceptor and no @Session(), and one that takes the session. */
@Controller('scope')
class PlainController {
  @Get('plain')
  plain(): string {
    return 'plain';
  }

  @Get('count')
  count(@Session() session: SessionStore<{ visits: number }>): { visits: number } {
    session.set('visits', session.get('visits', 0) + 1);
    return { visits: session.get('visits')! };
  }
}

@Controller('guarded-class')
@UseGuards(VisitGuard)
class GuardedClassController {
  @Get()
  plain(): string {
    return 'counted';
  }
}

@Controller('guarded-method')
class GuardedMethodController {
  @Get()
  @UseGuards(VisitGuard)
  plain(): string {
    return 'counted';
  }
}

/** How many times SessionInterceptor.intercept() ran during `run`. */
async function interceptions(run: () => Promise<unknown>): Promise<number> {
  const original = SessionInterceptor.prototype.intercept;
  let calls = 0;
  SessionInterceptor.prototype.intercept = function (this: SessionInterceptor, ...args: Parameters<typeof original>) {
    calls++;
    return original.apply(this, args);
  };
  try {
    await run();
  } finally {
    SessionInterceptor.prototype.intercept = original;
  }
  return calls;
}

async function expectGuardVisitSaved(t: TestApp, path: string): Promise<void> {
  const client = t.client();
  const first = await client.get(path);
  expect(first.status).toBe(200);
  const key = sessionCookieOf(first)!.value;
  expect((await stored(t.db, key))!.data).toEqual({ guard_visits: 1 });
  await client.get(path);
  expect((await stored(t.db, key))!.data).toEqual({ guard_visits: 2 });
}

describe.each(PLATFORMS)('SessionInterceptor scope on %s', (platform) => {
  describe('an app whose only session user is a @Session() handler', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ platform, controllers: [PlainController] });
    });
    afterAll(() => t?.close());

    it('a route without @Session() does not run the interceptor, with or without a cookie', async () => {
      const client = t.client();
      await client.get('/scope/count');
      expect(client.sessionKey).toBeDefined();
      expect(await interceptions(() => client.get('/scope/plain'))).toBe(0);
      expect(await interceptions(() => t.client().get('/scope/plain'))).toBe(0);
    });

    it('the @Session() handler runs it once, and its session is saved', async () => {
      const client = t.client();
      expect(await interceptions(() => client.get('/scope/count'))).toBe(1);
      expect((await client.get('/scope/count')).json()).toEqual({ visits: 2 });
      expect((await stored(t.db, client.sessionKey!))!.data).toEqual({ visits: 2 });
    });
  });

  const cases: Array<[string, Partial<StartOptions>, string]> = [
    ['a guard on the controller (@UseGuards on the class)', { controllers: [GuardedClassController, PlainController] }, '/guarded-class'],
    ['a guard on the handler', { controllers: [GuardedMethodController, PlainController] }, '/guarded-method'],
    ['a global guard (APP_GUARD)', { controllers: [PlainController], providers: [{ provide: APP_GUARD, useClass: VisitGuard }] }, '/scope/plain'],
    ['a global interceptor (APP_INTERCEPTOR)', { controllers: [PlainController], providers: [{ provide: APP_INTERCEPTOR, useClass: VisitInterceptor }] }, '/scope/plain'],
    [
      'a global guard (app.useGlobalGuards, after NestFactory.create)',
      { controllers: [PlainController], beforeListen: (app) => app.useGlobalGuards(app.get(VisitGuard)), providers: [VisitGuard] },
      '/scope/plain',
    ],
    [
      'a global interceptor (app.useGlobalInterceptors, after NestFactory.create)',
      { controllers: [PlainController], beforeListen: (app) => app.useGlobalInterceptors(app.get(VisitInterceptor)), providers: [VisitInterceptor] },
      '/scope/plain',
    ],
  ];

  describe.each(cases)('with %s', (_what, options, path) => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ platform, ...options });
    });
    afterAll(() => t?.close());

    it('what it writes on a route without @Session() is saved, and the cookie sent', async () => {
      await expectGuardVisitSaved(t, path);
    });

    it('a @Session() handler\'s session is loaded once and saved once (the interceptor is global and on the handler)', async () => {
      const client = t.client();
      await client.get('/scope/count');
      t.sql.reset();
      const reply = await client.get('/scope/count');
      expect(reply.json()).toMatchObject({ visits: 2 });
      expect(t.sql.verbs).toEqual(['SELECT', 'UPDATE']);
      expect(reply.setCookies.map((c) => c.name)).toEqual(['sessionid']);
    });
  });

  describe('with saveEveryRequest', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ platform, session: { secretKey: 'k'.repeat(50), saveEveryRequest: true }, controllers: [PlainController] });
    });
    afterAll(() => t?.close());

    it('a route without @Session() re-saves a live session and re-sends its cookie', async () => {
      const client = t.client();
      const key = sessionCookieOf(await client.get('/scope/count'))!.value;
      expect(sessionCookieOf(await client.get('/scope/plain'))?.value).toBe(key);
    });
  });
});
