/**
 * Passport on Django's login: a Passport login on Nest writes the keys `django.contrib.auth.login()`
 * writes (`_auth_user_id`, `_auth_user_backend`, `_auth_user_hash`), and a session logged in by
 * Django (or by Nest) is a Passport user (`req.user`), read as `django.contrib.auth.get_user()`
 * reads it (backend listed, user found, hash matching the user's current password).
 *
 * Two pieces, put into a Passport instance in place of its own: a session manager (what
 * `req.logIn()`/`req.logOut()` call) and the `'session'` strategy (what `passport.session()` and
 * @fastify/passport's `secureSession()` run). Both work on the request's `SessionStore` (the one
 * `@Session()` gives), which `SessionModule.forRoot({ requestSession: true })` opens for every
 * request before the app's own middleware.
 *
 * Works with `passport` ≥ 0.6 (Express, and `@nestjs/passport`'s `AuthGuard`, which uses its
 * singleton) and with `@fastify/passport`'s `Authenticator`. Neither is imported here but lazily
 * (`DjangoPassportSerializer` imports `passport` when the app starts, unless given an instance):
 * the package's entry point does not depend on Passport.
 */
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { getUser, login, logout, type DjangoAuthUser } from '../auth/django-login.js';
import { AUTH_SESSION_KEYS, MODEL_BACKEND } from '../auth/session-auth-hash.js';
import { openedSessionOf, SessionRequests } from '../session.requests.js';
import type { SessionStore } from '../session.store.js';

type Callback = (error?: unknown) => void;
type Maybe<T> = T | null | undefined;

/** How Django keys are read and written for Passport. */
export interface DjangoPassportOptions<U extends DjangoAuthUser = DjangoAuthUser> {
  /**
   * `ModelBackend.get_user()`: the user whose primary key is `userId` (always a string, as Django
   * stores it), with its stored `password` hash (`auth_user.password`), or `null`. Return `null`
   * for an inactive user to follow Django's `is_active` rule.
   */
  findUser(userId: string): Promise<Maybe<U>> | Maybe<U>;
  /** What `req.user` is for a user `findUser` found. Default: that user. Drop the password hash here. */
  toUser?(user: U): unknown;
  /** The `_auth_user_backend` a login records. Default `'django.contrib.auth.backends.ModelBackend'`. */
  backend?: string;
  /** `AUTHENTICATION_BACKENDS`: sessions logged in through another backend are anonymous. Default: `[backend]`. */
  backends?: readonly string[];
  /** Accept Django < 3.1's SHA-1 `_auth_user_hash`, as Django 3.2 does (4.0+ does not). Default: as the module's `djangoVersion` says. */
  legacyHash?: boolean;
  /** The request's session. Default: the one `SessionModule` opened for it (`requestSession: true`). */
  sessionOf?(request: any): SessionStore<any>;
}

/** The request's `SessionStore`, as `SessionModule` left it on the request. */
function openedSession(request: any): SessionStore<any> {
  const state = openedSessionOf(request);
  if (state === undefined) {
    throw new Error('Django sessions for Passport: this request has no session. Use SessionModule.forRoot({ ..., requestSession: true }).');
  }
  return state.store;
}

/** The user a login records: the one Passport got, or (without its password hash) the one `findUser` finds. */
async function authUserOf<U extends DjangoAuthUser>(user: any, options: DjangoPassportOptions<U>): Promise<DjangoAuthUser> {
  const id: unknown = user?.id;
  if (typeof id !== 'string' && typeof id !== 'number' && typeof id !== 'bigint') {
    throw new TypeError(`Django sessions for Passport: the user logged in must have an \`id\` (the primary key), got ${id === null ? 'null' : typeof id}`);
  }
  if (typeof user.password === 'string') return user as DjangoAuthUser;
  const found = await options.findUser(String(id));
  if (found === null || found === undefined) throw new Error(`Django sessions for Passport: findUser('${String(id)}') found no user to log in`);
  return found;
}

/** Runs `io`; reports to an Express-style callback when there is one, else returns the promise. */
function settle(io: Promise<void>, callback: unknown): Promise<void> | undefined {
  if (typeof callback !== 'function') return io;
  io.then(
    () => (callback as Callback)(),
    (error: unknown) => (callback as Callback)(error),
  );
  return undefined;
}

/**
 * The session manager of `passport` (≥ 0.6: `logIn(req, user, options, callback)`,
 * `logOut(req, options, callback)`) and of `@fastify/passport` (the same, returning promises,
 * plus `getUserFromSession`). A login is `django.contrib.auth.login()`: a new session key (the data
 * kept; another user's session flushed) and the three Django keys; a logout is `logout()`: the
 * session flushed, its row deleted, the cookie removed.
 */
export class DjangoSessionManager<U extends DjangoAuthUser = DjangoAuthUser> {
  constructor(readonly options: DjangoPassportOptions<U>) {}

  logIn(request: any, user: unknown, options?: unknown, callback?: Callback): Promise<void> | undefined {
    const done = typeof options === 'function' ? options : callback;
    const io = (async () => {
      const session = (this.options.sessionOf ?? openedSession)(request);
      await login(session, await authUserOf(user, this.options), { backend: this.options.backend ?? MODEL_BACKEND });
    })();
    return settle(io, done);
  }

  logOut(request: any, options?: unknown, callback?: Callback): Promise<void> | undefined {
    const done = typeof options === 'function' ? options : callback;
    const io = (async () => {
      await logout((this.options.sessionOf ?? openedSession)(request));
    })();
    return settle(io, done);
  }

  /** `@fastify/passport`: the `_auth_user_id` of the request's session (unchecked; the strategy checks it). */
  getUserFromSession(request: any): string | undefined {
    const id: unknown = (this.options.sessionOf ?? openedSession)(request).get(AUTH_SESSION_KEYS.userId);
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  }
}

/** What Passport adds to a strategy while it runs it (`passport` and `@fastify/passport` alike). */
interface StrategyRun {
  pass(): void;
  error(error: unknown): void;
}

/**
 * The `'session'` strategy: `django.contrib.auth.get_user()` on the request's session. A user
 * found and whose `_auth_user_hash` matches becomes `req.user` (`toUser(user)`); a hash that does
 * not match (the password changed) flushes the session, as Django does; anything else is anonymous.
 * It never fails a request: anonymous is `pass()`.
 */
export class DjangoSessionStrategy<U extends DjangoAuthUser = DjangoAuthUser> {
  readonly name = 'session';

  constructor(readonly options: DjangoPassportOptions<U>) {}

  /** Passport runs this on an object made from the strategy, with `pass()` and `error()` added. */
  authenticate(this: DjangoSessionStrategy<U> & StrategyRun, request: any): Promise<void> {
    const { options } = this;
    return (async () => {
      const session = (options.sessionOf ?? openedSession)(request);
      const user = await getUser(session, (id) => options.findUser(id), {
        backends: options.backends ?? [options.backend ?? MODEL_BACKEND],
        legacyHash: options.legacyHash,
      });
      if (user !== null) request[userPropertyOf(request)] = options.toUser ? options.toUser(user) : user;
      this.pass();
    })().catch((error: unknown) => this.error(error));
  }
}

/** Where Passport puts the user: `passport.initialize({ userProperty })`, @fastify/passport's `userProperty`, else `user`. */
export function userPropertyOf(request: any): string {
  return request?._userProperty ?? request?.passport?.userProperty ?? 'user';
}

/** A `passport` (≥ 0.6) or `@fastify/passport` instance, as far as this module uses one. */
export interface PassportInstance {
  use(name: string, strategy: unknown): unknown;
}

/**
 * Puts Django's login into a Passport instance: `DjangoSessionStrategy` as its `'session'`
 * strategy, `DjangoSessionManager` as its session manager. `passport` is `passport`'s default
 * export (the instance `@nestjs/passport` uses) or an `@fastify/passport` `Authenticator`.
 * `DjangoPassportSerializer` does this for a Nest app.
 *
 * @example
 * ```ts
 * import passport from 'passport';
 * useDjangoSessions(passport, { findUser: (id) => users.findOne({ where: { id: Number(id) } }) });
 * app.use(passport.session());
 * ```
 */
export function useDjangoSessions<U extends DjangoAuthUser>(passport: PassportInstance, options: DjangoPassportOptions<U>): void {
  if (typeof options?.findUser !== 'function') throw new TypeError('useDjangoSessions(): `findUser(userId)` is required');
  const target = passport as PassportInstance & Record<string, unknown>;
  if (typeof target?.use !== 'function') throw new TypeError('useDjangoSessions(): pass a passport (≥ 0.6) or @fastify/passport instance');
  const manager = new DjangoSessionManager(options);
  if (typeof target.registerUserSerializer === 'function' && typeof target.sessionManager === 'object') {
    target.sessionManager = manager; // @fastify/passport: request.logIn() calls request.passport.sessionManager
  } else if (typeof target._sm === 'object' && target._sm !== null) {
    target._sm = manager; // passport ≥ 0.6: req.login() calls the manager authenticate() hands it (passport._sm)
  } else {
    throw new TypeError('useDjangoSessions(): this Passport has no session manager to replace (passport ≥ 0.6 or @fastify/passport needed)');
  }
  target.use('session', new DjangoSessionStrategy(options));
}

/**
 * `@nestjs/passport`'s `PassportSerializer`, Django's way: extend it, implement `findUser(userId)`
 * (and `toUser(user)` to choose what `req.user` is), and list it as a provider. When the app
 * starts it installs `useDjangoSessions()` into `passport` (or the instance `getPassportInstance()`
 * returns, e.g. an `@fastify/passport` `Authenticator`). Needs `SessionModule.forRoot({ ...,
 * requestSession: true })`.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class UserSerializer extends DjangoPassportSerializer<User> {
 *   constructor(@InjectRepository(User) private readonly users: Repository<User>) { super(); }
 *   findUser(id: string) { return this.users.findOneBy({ id: Number(id), isActive: true }); }
 *   override toUser({ password, ...user }: User) { return user; }
 * }
 * ```
 */
@Injectable()
export abstract class DjangoPassportSerializer<U extends DjangoAuthUser = DjangoAuthUser> implements OnModuleInit {
  @Inject(SessionRequests) private readonly sessionRequests!: SessionRequests;

  /** `ModelBackend.get_user()`: see `DjangoPassportOptions.findUser`. */
  abstract findUser(userId: string): Promise<Maybe<U>> | Maybe<U>;

  /** What `req.user` is for a user found. Default: the user itself (password hash included). */
  toUser(user: U): unknown {
    return user;
  }

  /** `backend`, `backends`, `legacyHash` (see `DjangoPassportOptions`). Default: Django's defaults. */
  protected djangoOptions(): Pick<DjangoPassportOptions<U>, 'backend' | 'backends' | 'legacyHash'> {
    return {};
  }

  /** The Passport instance to install into. Default: `passport`'s (the one `@nestjs/passport` uses), imported now. */
  protected getPassportInstance(): PassportInstance | Promise<PassportInstance> {
    return importPassport();
  }

  async onModuleInit(): Promise<void> {
    const requests = this.sessionRequests;
    useDjangoSessions<U>(await this.getPassportInstance(), {
      ...this.djangoOptions(),
      findUser: (userId) => this.findUser(userId),
      toUser: (user) => this.toUser(user),
      sessionOf: (request) => {
        const state = requests.openedFor(request);
        if (state === undefined) return openedSession(request); // the same error
        return state.store;
      },
    });
  }
}

/** `passport`'s singleton, imported when first needed (an optional peer dependency). */
async function importPassport(): Promise<PassportInstance> {
  const name = 'passport';
  const loaded = (await import(name)) as { default?: PassportInstance } & PassportInstance;
  return loaded.default ?? loaded;
}
