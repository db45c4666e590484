import { Body, Controller, Delete, Get, Header, HttpCode, NotFoundException, Post } from '@nestjs/common';
import { KeyError, Session, type SessionStore } from '../../src/index.js';
import { PAGE } from './demo.page.js';

/** The members the demo knows (the documentation example's `members.get_object(username__exact=...)`). */
const MEMBERS = [
  { id: 1, username: 'ada', password: 'lovelace' },
  { id: 2, username: 'alan', password: 'turing' },
];

type DemoSession = SessionStore<{ has_commented: boolean; member_id: number; fav_color: string; visits: number }>;

/** The logged-in member's name, or `null` for an anonymous visitor. */
function memberOf(session: DemoSession): string | null {
  return MEMBERS.find((m) => m.id === session.get('member_id'))?.username ?? null;
}

/** The views of Django's "How to use sessions", one by one. */
@Controller()
export class DemoController {
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  index(): string {
    return PAGE;
  }

  /**
   * What the session holds now (the page shows it). The key only by its first characters: the
   * whole key is the visitor's login, which the HttpOnly cookie keeps from page scripts (an XSS).
   */
  @Get('session')
  show(@Session() session: DemoSession) {
    return {
      member: memberOf(session),
      sessionKey: keyHint(session.sessionKey),
      data: session.toJSON(),
      expireAtBrowserClose: session.getExpireAtBrowserClose(),
      expiresAt: session.getExpiryDate(),
    };
  }

  /** post_comment: a visitor may comment once. */
  @Post('comment')
  @HttpCode(200)
  postComment(@Session() session: DemoSession, @Body('comment') comment?: string): string {
    if (!comment) return 'Comment not submitted.';
    if (session.get('has_commented', false)) return "You've already commented.";
    session.set('has_commented', true);
    return 'Thanks for your comment!';
  }

  /**
   * login: a member logs in (the session key is cycled, against session fixation). Unless
   * "remember me" is ticked, the session lasts until the browser closes: `set_expiry(0)`.
   */
  @Post('login')
  @HttpCode(200)
  async login(
    @Session() session: DemoSession,
    @Body() body: { username?: string; password?: string; remember?: string },
  ): Promise<string> {
    const member = MEMBERS.find((m) => m.username === body?.username);
    if (member && member.password === body?.password) {
      await session.cycleKey();
      session.set('member_id', member.id);
      session.setExpiry(body.remember ? null : 0);
      return "You're logged in.";
    }
    return "Your username and password didn't match.";
  }

  /** logout, as Django's documentation writes it: delete member_id, ignoring KeyError. */
  @Post('logout')
  @HttpCode(200)
  logout(@Session() session: DemoSession): string {
    try {
      session.delete('member_id');
    } catch (error) {
      if (!(error instanceof KeyError)) throw error;
    }
    return "You're logged out.";
  }

  /** Ends the whole session: row deleted, cookie removed. */
  @Post('flush')
  @HttpCode(200)
  async flush(@Session() session: DemoSession): Promise<string> {
    await session.flush();
    return 'Session flushed.';
  }

  /** The test-cookie login form: sets the test cookie. */
  @Get('cookie-login')
  cookieLoginForm(@Session() session: DemoSession): string {
    session.setTestCookie();
    return 'Please log in (the test cookie is set; POST to /cookie-login).';
  }

  /** The test-cookie login: works only if the test cookie came back. */
  @Post('cookie-login')
  @HttpCode(200)
  cookieLogin(@Session() session: DemoSession): string {
    if (session.testCookieWorked()) {
      session.deleteTestCookie();
      return "You're logged in.";
    }
    return 'Please enable cookies and try again.';
  }

  /**
   * The documentation's reads of fav_color: `request.session.get('fav_color', 'red')`;
   * `'fav_color' in request.session` (`has`); and `request.session['fav_color']` (`item`, read
   * with `session.get('fav_color')`: `null` when absent, where Python raises KeyError).
   */
  @Get('color')
  getColor(@Session() session: DemoSession) {
    return { fav_color: session.get('fav_color', 'red'), has: session.has('fav_color'), item: session.get('fav_color') ?? null };
  }

  /**
   * Changes state, so it answers whose colour it set: `member` is `null` when the request came
   * without the member's cookie — as a POST from another site does (`SameSite=Lax`).
   */
  @Post('color')
  @HttpCode(200)
  setColor(@Session() session: DemoSession, @Body('color') color?: string) {
    session.set('fav_color', String(color ?? 'blue'));
    return { fav_color: session.get('fav_color'), member: memberOf(session) };
  }

  /**
   * `del request.session['fav_color']`, as the documentation writes it: a KeyError when no colour
   * is set, answered as 404 (nothing was changed, so nothing is saved).
   */
  @Delete('color')
  deleteColor(@Session() session: DemoSession) {
    try {
      session.delete('fav_color');
    } catch (error) {
      if (error instanceof KeyError) throw new NotFoundException(`KeyError: ${error.message}`);
      throw error;
    }
    return { fav_color: session.get('fav_color', 'red') };
  }

  /** A route that never touches the session: no query, no cookie. */
  @Get('health')
  health() {
    return { ok: true };
  }
}

/** A session key by its first 8 characters, as the module prints one (the whole key is a login). */
function keyHint(key: string | null): string | null {
  return key === null ? null : `${key.slice(0, 8)}…`;
}
