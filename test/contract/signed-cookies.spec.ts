import { randomBytes } from 'node:crypto';
import { SessionCodec, SessionCookieTooLarge } from '../../src/index.js';
import { SIGNED_COOKIES_SALT, SignedCookieSessionBackend } from '../../src/exports/engines.js';
import { defineEngineContract } from './engine.contract.js';

const SECRET = 'engine-contract-secret';
const codec = () => new SessionCodec({ secretKey: SECRET, salt: SIGNED_COOKIES_SALT, legacyDecode: false });
const DAY = { date: new Date(Date.now() + 86_400_000), age: 86_400 };

defineEngineContract({
  title: 'signed_cookies',
  stores: false,
  async open() {
    return { backend: new SignedCookieSessionBackend(codec(), 'sessionid', 1_209_600), close: async () => undefined };
  },
});

describe('signed_cookies engine: what only a cookie-held session has', () => {
  const backend = new SignedCookieSessionBackend(codec(), 'sessionid', 1_209_600);

  it('the key is signing.dumps(session, compress=True, salt=...signed_cookies): any other salt or secret does not verify', async () => {
    const key = await backend.create(new Map([['a', 1]]), DAY);
    expect(codec().decode(key).data).toEqual({ a: 1 });
    expect(new SessionCodec({ secretKey: SECRET }).decode(key).status).toBe('bad-signature');
    expect(new SessionCodec({ secretKey: 'other', salt: SIGNED_COOKIES_SALT }).decode(key).status).toBe('bad-signature');
  });

  it('a tampered cookie is no session (and costs no exception)', async () => {
    const key = await backend.create(new Map([['user', 'alice']]), DAY);
    const [payload, stamp, signature] = key.split(':');
    const forged = `${Buffer.from('{"user":"admin"}').toString('base64url')}:${stamp}:${signature}`;
    await expect(backend.load(forged)).resolves.toBeNull();
    await expect(backend.load(`${payload}:${stamp}:${signature!.slice(0, -2)}xx`)).resolves.toBeNull();
  });

  it('a cookie signed longer ago than cookieAge is no session (Django: max_age=SESSION_COOKIE_AGE)', async () => {
    const key = await backend.create(new Map([['a', 1]]), DAY);
    const strict = new SignedCookieSessionBackend(codec(), 'sessionid', 1);
    await expect(strict.load(key)).resolves.toEqual(new Map([['a', 1]]));
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await expect(strict.load(key)).resolves.toBeNull();
    await expect(backend.load(key)).resolves.toEqual(new Map([['a', 1]]));
  });

  it('a session whose cookie would pass 4096 bytes is refused at save with SessionCookieTooLarge', async () => {
    // Random hex compresses to half at best: 3,200 random bytes stay over 4,096 once base64-encoded.
    const noise = randomBytes(3_200).toString('hex');
    await expect(backend.create(new Map([['noise', noise]]), DAY)).rejects.toBeInstanceOf(SessionCookieTooLarge);
    await expect(backend.create(new Map([['noise', noise]]), DAY)).rejects.toThrow(/4096 bytes/);
    // What compresses well fits.
    const key = await backend.create(new Map([['text', 'session '.repeat(2_000)]]), DAY);
    expect(key.length).toBeLessThan(4096);
  });

  it('clearExpired() is a no-op, and says the engine expires sessions itself', async () => {
    expect(backend.sweepsExpired).toBe(false);
    await expect(backend.clearExpired()).resolves.toBe(0);
  });
});
