/**
 * A Passport app (test/support/passport-app.ts: `DjangoPassportSerializer`, `passport.session()` /
 * `@fastify/passport`'s `secureSession()` on every request) that also imports `DjangoAuthModule`:
 * its Passport routes work as before, and `@LoginRequired()` / `@CurrentUser()` take the user
 * Passport put on the request (`req.user`) without a lookup of their own.
 */
import 'reflect-metadata';
import { Controller, Get, Injectable, Req } from '@nestjs/common';
import { CurrentUser, DjangoAuthModule, LoginRequired, UserPassesTest, makeDjangoPassword, verifyDjangoPassword } from '../../src/exports/auth.js';
import { DjangoPassportSerializer } from '../../src/exports/passport.js';
import { PLATFORMS, sqliteAppPerSuite } from '../support/app.js';
import { fastifyAuthenticator, nestLocalStrategy, startPassportApp } from '../support/passport-app.js';

const SECRET = 'login-required-passport-e2e-secret';

interface AuthUser {
  id: number;
  username: string;
  password: string;
}
type PublicUser = Omit<AuthUser, 'password'>;

const USERS: AuthUser[] = [];
const publicUser = ({ password: _password, ...rest }: AuthUser): PublicUser => rest;
/** Calls of DjangoAuthModule's loadUser (Passport's findUser is not counted). */
const lookups: string[] = [];

async function checkPassword(username: string, password: string): Promise<AuthUser | false> {
  const found = USERS.find((u) => u.username === username);
  return found !== undefined && (await verifyDjangoPassword(password, found.password)) ? found : false;
}

@Injectable()
class UserSerializer extends DjangoPassportSerializer<AuthUser> {
  findUser(id: string): AuthUser | null {
    return USERS.find((u) => u.id === Number(id)) ?? null;
  }
  override toUser(found: AuthUser) {
    return publicUser(found);
  }
}

const fastifyPassport = fastifyAuthenticator(checkPassword);

@Injectable()
class FastifyUserSerializer extends UserSerializer {
  protected override getPassportInstance() {
    return fastifyPassport;
  }
}

@Controller('private')
class PrivateController {
  @Get()
  @LoginRequired()
  page(@CurrentUser() current: PublicUser, @Req() request: any) {
    return { user: current, samePassportUser: current === request.user };
  }

  @Get('alice-only')
  @UserPassesTest((u: PublicUser) => u.username === 'alice', { unauthenticated: 401 })
  aliceOnly() {
    return 'alice';
  }
}

beforeAll(async () => {
  USERS.push(
    { id: 1, username: 'alice', password: await makeDjangoPassword('wonderland', { iterations: 1000 }) },
    { id: 2, username: 'bob', password: await makeDjangoPassword('builder', { iterations: 1000 }) },
  );
});

describe.each(PLATFORMS)('DjangoAuthModule in a Passport app (%s)', (platform) => {
  const t = sqliteAppPerSuite(`login-required-passport-${platform}`, SECRET, (file) =>
    startPassportApp({
      platform,
      file,
      secretKey: SECRET,
      fastifyPassport,
      fastifyUser: publicUser,
      providers: platform === 'express' ? [nestLocalStrategy(async (u, p) => {
        const found = await checkPassword(u, p);
        return found && publicUser(found);
      }), UserSerializer] : [FastifyUserSerializer],
      imports: [
        DjangoAuthModule.forRoot({
          loadUser: (id) => {
            lookups.push(id);
            return USERS.find((u) => u.id === Number(id)) ?? null;
          },
        }),
      ],
      controllers: [PrivateController],
    }),
  );
  beforeEach(() => {
    lookups.length = 0;
  });

  it('Passport logs in and out as before; @LoginRequired() and @CurrentUser() take req.user as it is, with no lookup of their own', async () => {
    const client = t.client();
    expect((await client.get('/private')).headers.get('location')).toBe('/accounts/login/?next=/private');

    expect((await client.post('/login', { username: 'alice', password: 'wonderland' })).json()).toEqual({ user: { id: 1, username: 'alice' } });
    expect((await client.get('/me')).json()).toEqual({ user: { id: 1, username: 'alice' }, authenticated: true });
    const reply = await client.get('/private');
    expect(reply.json()).toEqual({ user: { id: 1, username: 'alice' }, samePassportUser: true });
    expect((await client.get('/private/alice-only')).text).toBe('alice');
    expect(lookups).toEqual([]);

    await client.post('/logout');
    expect((await client.get('/private')).status).toBe(302);
    expect((await client.get('/private/alice-only')).status).toBe(401);
  });

  it('another Passport user who fails the test: 403', async () => {
    const client = t.client();
    await client.post('/login', { username: 'bob', password: 'builder' });
    expect((await client.get('/private/alice-only')).status).toBe(403);
    expect(lookups).toEqual([]);
  });
});
