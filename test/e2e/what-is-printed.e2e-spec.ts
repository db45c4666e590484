/**
 * What the module prints about itself and its sessions: a logged session shows only the start of
 * its key (the whole key is a login credential), and the boot warns about a weak secret key and
 * a cookie age that is almost surely milliseconds, as Django's `check --deploy` does — never
 * printing the key.
 */
import { inspect } from 'node:util';
import { Controller, Logger, Post, HttpCode } from '@nestjs/common';
import { Session, type SessionModuleOptions, type SessionStore } from '../../src/index.js';
import { logs, PLATFORMS, sessionCookieOf, startApp, type TestApp } from '../support/app.js';

const STRONG_SECRET = 'k7#Qz!pL2@vR9$wT4%yU6^sX8&nB1*mC3(dF5)gH0-jK_eM=aZ+oI[';
const WEAK_SECRET = 'django-insecure-short';

@Controller()
class PrintController {
  private readonly logger = new Logger('PrintController');

  /** Sets a value, then logs the session and returns what the log line said. */
  @Post('print')
  @HttpCode(200)
  print(@Session() session: SessionStore) {
    session.set('plan', 'pro');
    this.logger.log(session);
    return { printed: inspect(session) };
  }
}

describe.each(PLATFORMS)('what is printed, on %s', (platform) => {
  const apps: TestApp[] = [];
  async function start(session: SessionModuleOptions, engine?: 'signed_cookies'): Promise<TestApp> {
    const t = await startApp({ platform, session, engine, controllers: [PrintController] });
    apps.push(t);
    return t;
  }
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((t) => t.close()));
  });

  it('a session printed or logged shows the start of its key, never the key', async () => {
    const t = await start({ secretKey: STRONG_SECRET });
    const client = t.client();
    const first = await client.post('/print');
    const key = sessionCookieOf(first)!.value;
    logs.clear();
    const reply = await client.post('/print');
    expect(reply.status).toBe(200);
    const { printed } = reply.json() as { printed: string };
    expect(printed).toContain(`sessionKey: '${key.slice(0, 8)}…'`);
    expect(printed).toContain("plan: 'pro'");
    expect(printed).not.toContain(key);
    const logged = logs.at('log', 'PrintController').map((e) => e.message);
    expect(logged).toHaveLength(1);
    expect(logged.join('\n')).not.toContain(key);
  });

  it('a strong secret key boots without a word', async () => {
    logs.clear();
    await start({ secretKey: STRONG_SECRET });
    expect(logs.entries.filter((e) => e.context === 'SessionModule')).toEqual([]);
  });

  it("a weak secret key is a warning at boot (Django's security.W009), which never shows the key", async () => {
    logs.clear();
    await start({ secretKey: WEAK_SECRET, secretKeyFallbacks: [STRONG_SECRET, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'] });
    const said = logs.entries.filter((e) => e.context === 'SessionModule');
    expect(said.map((e) => e.level)).toEqual(['warn', 'warn']);
    expect(said[0]!.message).toMatch(/^secretKey has fewer than 50 characters.*W009/);
    expect(said[1]!.message).toMatch(/^secretKeyFallbacks\[1\] .*W025/);
    for (const { message } of said) {
      expect(message).not.toContain(WEAK_SECRET);
      expect(message).not.toContain('aaaaaaaaaa');
    }
  });

  it('on signed_cookies, where visitors hold what the key signs, a weak key is an error-level message', async () => {
    logs.clear();
    await start({ secretKey: WEAK_SECRET }, 'signed_cookies');
    const said = logs.entries.filter((e) => e.context === 'SessionModule');
    expect(said.map((e) => e.level)).toEqual(['error']);
    expect(said[0]!.message).toMatch(/signed_cookies engine .* guess the key offline/);
    expect(said[0]!.message).not.toContain(WEAK_SECRET);
  });

  it('a cookieAge of decades (milliseconds given as seconds) is a warning', async () => {
    logs.clear();
    await start({ secretKey: STRONG_SECRET, cookieAge: 14 * 24 * 60 * 60 * 1000 });
    const said = logs.entries.filter((e) => e.context === 'SessionModule');
    expect(said.map((e) => [e.level, e.message])).toEqual([['warn', expect.stringMatching(/cookieAge is about 38 years: it is in seconds/)]]);
  });
});
