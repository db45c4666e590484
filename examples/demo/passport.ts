/**
 * The demo's Passport login, one that Django honours: `passport-local` checks the password against
 * Django's `auth_user` with `verifyDjangoPassword`, and `DjangoPassportSerializer` makes the login
 * Django's (`_auth_user_id`, `_auth_user_backend`, `_auth_user_hash` under a new session key), so
 * Django on the same sqlite file sees `request.user` = ada. On Express: `passport` +
 * `@nestjs/passport` (`app.use(passport.session())`, see bootstrap.ts); on Fastify:
 * `@fastify/passport` (`initialize()` + `secureSession()` registered, see bootstrap.ts).
 */
import {
  Controller,
  Get,
  HttpCode,
  Inject,
  Injectable,
  Optional,
  Post,
  Req,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { AuthGuard, PassportStrategy } from '@nestjs/passport';
import { InjectRepository } from '@nestjs/typeorm';
import { Authenticator } from '@fastify/passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { Repository } from 'typeorm';
import type { DjangoVersion } from '../../src/index.js';
import { verifyDjangoPassword } from '../../src/exports/auth.js';
import { DjangoPassportSerializer } from '../../src/exports/passport.js';
import { DEMO_DJANGO_VERSION, DemoUser } from './auth-user.js';

/** What `req.user` is: the user without its password hash. */
export interface PublicUser {
  id: number;
  username: string;
}

const publicUser = ({ id, username }: DemoUser): PublicUser => ({ id, username });

/** `ModelBackend.authenticate()`: the active user with that username and password, or `null`. */
async function checkPassword(users: Repository<DemoUser>, username: string, password: string, djangoVersion?: DjangoVersion): Promise<DemoUser | null> {
  const user = await users.findOneBy({ username: String(username), isActive: true });
  // '' for an unknown user: the check takes as long as a real one at that Django's cost, as in Django.
  const ok = await verifyDjangoPassword(String(password), user?.password ?? '', { djangoVersion });
  return ok && user ? user : null;
}

/** Express: the `local` strategy on `passport`'s singleton (the one `@nestjs/passport` uses). */
@Injectable()
export class DemoLocalStrategy extends PassportStrategy(LocalStrategy) {
  constructor(
    @InjectRepository(DemoUser) private readonly users: Repository<DemoUser>,
    @Inject(DEMO_DJANGO_VERSION) private readonly djangoVersion?: DjangoVersion,
  ) {
    super();
  }

  async validate(username: string, password: string): Promise<PublicUser> {
    const user = await checkPassword(this.users, username, password, this.djangoVersion);
    if (!user) throw new UnauthorizedException();
    return publicUser(user);
  }
}

/** Fastify: an `@fastify/passport` instance with its own `local` strategy. */
@Injectable()
export class DemoFastifyPassport {
  readonly authenticator = new Authenticator();

  constructor(@InjectRepository(DemoUser) users: Repository<DemoUser>, @Inject(DEMO_DJANGO_VERSION) djangoVersion?: DjangoVersion) {
    this.authenticator.use(
      'local',
      new LocalStrategy((username, password, done) => {
        checkPassword(users, username, password, djangoVersion).then((user) => done(null, user ? publicUser(user) : false), done);
      }),
    );
  }
}

/** How Passport finds the user of a Django login (`ModelBackend.get_user()`), and what `req.user` is. */
@Injectable()
export class DemoUserSerializer extends DjangoPassportSerializer<DemoUser> {
  constructor(
    @InjectRepository(DemoUser) private readonly users: Repository<DemoUser>,
    @Optional() @Inject(DemoFastifyPassport) private readonly fastifyPassport?: DemoFastifyPassport,
  ) {
    super();
  }

  findUser(id: string): Promise<DemoUser | null> {
    return this.users.findOneBy({ id: Number(id), isActive: true });
  }

  override toUser(user: DemoUser): PublicUser {
    return publicUser(user);
  }

  protected override getPassportInstance() {
    return this.fastifyPassport?.authenticator ?? super.getPassportInstance();
  }
}

/** `passport.authenticate('local')` and a Django login, on Express or on Fastify: a wrong password is 401. */
@Injectable()
export class PassportLoginGuard implements CanActivate {
  constructor(@Optional() @Inject(DemoFastifyPassport) private readonly fastifyPassport?: DemoFastifyPassport) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest();
    if (!this.fastifyPassport) {
      const guard = new (AuthGuard('local'))();
      const ok = (await guard.canActivate(context)) as boolean;
      await guard.logIn(request);
      return ok;
    }
    let user: unknown;
    const authenticate = this.fastifyPassport.authenticator.authenticate('local', async (_request, _reply, error, found) => {
      if (error) throw error;
      user = found;
    });
    await authenticate.call(request.server, request, http.getResponse());
    if (!user) throw new UnauthorizedException();
    await request.logIn(user);
    return true;
  }
}

/** Log in with Passport, who am I (Passport alone reads the session), log out. */
@Controller('passport')
export class PassportController {
  constructor(@Optional() @Inject(DemoFastifyPassport) private readonly fastifyPassport?: DemoFastifyPassport) {}

  @Post('login')
  @HttpCode(200)
  @UseGuards(PassportLoginGuard)
  login(@Req() request: { user?: PublicUser }) {
    return { user: request.user };
  }

  @Get('me')
  me(@Req() request: { user?: PublicUser }) {
    return { user: request.user ?? null };
  }

  /** `req.logout()`: Django's `logout()`, the session flushed and its cookie removed. */
  @Post('logout')
  @HttpCode(200)
  async logout(@Req() request: any) {
    if (this.fastifyPassport) await request.logout();
    else await new Promise<void>((resolve, reject) => request.logout((error: unknown) => (error ? reject(error) : resolve())));
    return { user: null };
  }
}
