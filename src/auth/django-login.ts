/**
 * Django's login, logout and `get_user()` on a `SessionStore`, key for key what
 * `django.contrib.auth` reads and writes, so that a user logged in on either side is logged in on
 * the other, and a password changed on either side ends the other sessions on both.
 *
 * These functions touch only the session: finding the user and checking the password (see
 * `verifyDjangoPassword`) is the app's business, as it is `ModelBackend`'s in Django.
 */
import { constantTimeEqual } from '../codec/signing.js';
import { rotateCsrfTokenOnLogin } from '../csrf/login-rotation.js';
import { djangoVersionTraits } from '../django-versions.js';
import { engineOf, moduleOptionsOf, sessionKeyHint, type SessionStore } from '../session.store.js';
import { signalsFor } from '../telemetry/session-signals.js';
import { AUTH_SESSION_KEYS, MODEL_BACKEND, matchSessionAuthHash, sessionAuthHash } from './session-auth-hash.js';

/** What `login()` needs of a user: its primary key and its stored password hash (`auth_user.password`). */
export interface DjangoAuthUser {
  /** The primary key (`user.pk`); stored as a string, as Django stores it (`5` → `'5'`). */
  id: string | number | bigint;
  /** The stored hash (`pbkdf2_sha256$…`), never the plain password. */
  password: string;
}

/** The keys `_auth_user_hash` is made and checked with. */
export interface DjangoAuthKeys {
  /** `SECRET_KEY`. Default: the `secretKey` of the module the session belongs to. */
  secretKey?: string;
  /**
   * `SECRET_KEY_FALLBACKS` (Django 4.1.8+ accepts a login hash made with one of them). Default: the
   * module's `secretKeyFallbacks` when `secretKey` is not given either, else `[]`.
   */
  secretKeyFallbacks?: readonly string[];
}

/** Options of `login()`. */
export interface DjangoLoginOptions extends Pick<DjangoAuthKeys, 'secretKey'> {
  /** The `_auth_user_backend` to record (`login(request, user, backend=...)`). Default `'django.contrib.auth.backends.ModelBackend'`. */
  backend?: string;
}

/** Options of `getUser()`. */
export interface DjangoGetUserOptions extends DjangoAuthKeys {
  /**
   * `AUTHENTICATION_BACKENDS`: a session whose `_auth_user_backend` is not listed is anonymous
   * (and kept), as in Django. Default `['django.contrib.auth.backends.ModelBackend']`.
   */
  backends?: readonly string[];
  /**
   * Also accept the SHA-1 `_auth_user_hash` that Django < 3.1 wrote (and 3.1/3.2 under
   * `DEFAULT_HASHING_ALGORITHM = 'sha1'`), as Django 3.2's `get_user()` does; Django 4.0+ flushes
   * such a session. Default: as the session's module `djangoVersion` says (`true` for `'3.2'`
   * only; `false` for a session not from a module).
   */
  legacyHash?: boolean;
}

/** Finds a user by the primary key stored in the session (a string: convert it to your key's type). */
export type DjangoUserLookup<U extends { password: string }> = (userId: string) => Promise<U | null | undefined> | U | null | undefined;

/**
 * `django.contrib.auth.login(request, user)`: records `user` as logged in on `session`, against
 * session fixation. If the session already holds another user (or this user under an older password
 * hash) it is flushed first; if it holds no user its key is cycled (the data stays under a new key);
 * if it holds this very user it is left as it is. Then `_auth_user_id` (the key as a string),
 * `_auth_user_backend` and `_auth_user_hash` are set.
 *
 * In a handler the session is saved after it as usual; elsewhere call `session.save()`.
 * Check the password first (`verifyDjangoPassword`).
 *
 * @example
 * ```ts
 * @Post('login')
 * async logIn(@Session() session: SessionStore, @Body() body: { username: string; password: string }) {
 *   const user = await this.users.findOneBy({ username: body.username });
 *   if (!user || !(await verifyDjangoPassword(body.password, user.password))) throw new UnauthorizedException();
 *   await login(session, user);
 * }
 * ```
 */
export async function login(session: SessionStore<any>, user: DjangoAuthUser, options: DjangoLoginOptions = {}): Promise<void> {
  const userId = primaryKeyText(user?.id);
  const { secretKey } = keysFor(session, options);
  const hash = sessionAuthHash(user.password, secretKey);
  const backend = options.backend ?? MODEL_BACKEND;
  if (typeof backend !== 'string' || backend === '') throw new TypeError('login(): `backend` must be a dotted import path string');

  if (session.has(AUTH_SESSION_KEYS.userId)) {
    const storedHash: unknown = session.get(AUTH_SESSION_KEYS.hash, '');
    // Django: `_get_user_session_key(request) != user.pk or not constant_time_compare(...)`.
    if (!samePrimaryKey(session.get(AUTH_SESSION_KEYS.userId), userId) || typeof storedHash !== 'string' || !constantTimeEqual(storedHash, hash)) {
      // Another user's session: start an empty one rather than reuse it.
      await session.flush();
    }
  } else {
    await session.cycleKey();
  }
  session.set(AUTH_SESSION_KEYS.userId, userId);
  session.set(AUTH_SESSION_KEYS.backend, backend);
  session.set(AUTH_SESSION_KEYS.hash, hash);
  // Django: rotate_token(request), a new CSRF secret for the request this session belongs to (CsrfModule).
  rotateCsrfTokenOnLogin(session);
  const engine = engineOf(session);
  signalsFor(engine)?.emit('django.user_logged_in', { engine: engine!.engineName, userId, backend, sessionKeyHint: sessionKeyHint(session.sessionKey) });
}

/**
 * `django.contrib.auth.logout(request)`: flushes the session (data and row deleted, cookie removed).
 */
export async function logout(session: SessionStore<any>): Promise<void> {
  const engine = engineOf(session);
  const signals = signalsFor(engine);
  if (signals !== undefined) {
    // Django sends user_logged_out before the flush, with the user (None when anonymous).
    const userId: unknown = session.get(AUTH_SESSION_KEYS.userId);
    signals.emit('django.user_logged_out', {
      engine: engine!.engineName,
      userId: typeof userId === 'string' || typeof userId === 'number' ? String(userId) : null,
      sessionKeyHint: sessionKeyHint(session.sessionKey),
    });
  }
  await session.flush();
}

/**
 * Credentials whose value is hidden: Django's `_clean_credentials()` words (`api`, `token`, `key`,
 * `secret`, `password`, `signature`, any case) and, to be safe, `pass` (passwd, passphrase), `pwd`, `cookie`.
 */
const SENSITIVE_CREDENTIAL = /api|token|key|secret|pass|pwd|signature|cookie/i;
/** What a hidden value becomes (Django's `CLEANSED_SUBSTITUTE`). */
const CLEANSED_SUBSTITUTE = '********************';

/**
 * Django's `user_login_failed` signal, as `authenticate()` sends it when no backend accepted the
 * credentials: call it where your login refuses them (unknown user, wrong password). Sends
 * `django.user_login_failed` (`SESSION_EVENTS.userLoginFailed`) to the app's listeners, with the
 * credentials cleansed as Django cleanses them (the value of every key containing `api`, `token`,
 * `key`, `secret`, `pass`, `pwd`, `signature` or `cookie`, in any case, is `'********************'`);
 * nothing when nothing listens. Returns nothing and never throws: the refusal is still yours to answer.
 *
 * @example
 * ```ts
 * if (!user || !(await verifyDjangoPassword(body.password, user.password))) {
 *   userLoginFailed(session, { username: body.username, password: body.password }); // password sent as ********************
 *   throw new UnauthorizedException();
 * }
 * ```
 */
export function userLoginFailed(session: SessionStore<any>, credentials: Readonly<Record<string, unknown>>): void {
  const engine = engineOf(session);
  const signals = signalsFor(engine);
  if (signals === undefined) return;
  const cleansed: Record<string, unknown> = {};
  if (credentials !== null && typeof credentials === 'object') {
    for (const [key, value] of Object.entries(credentials)) cleansed[key] = SENSITIVE_CREDENTIAL.test(key) ? CLEANSED_SUBSTITUTE : value;
  }
  signals.emit('django.user_login_failed', { engine: engine!.engineName, credentials: cleansed, sessionKeyHint: sessionKeyHint(session.sessionKey) });
}

/**
 * `django.contrib.auth.get_user(request)`: the logged-in user, or `null` for an anonymous session.
 *
 * Reads `_auth_user_id` and `_auth_user_backend` (either missing, or a backend not in `backends`:
 * `null`), finds the user with `lookup` (not found: `null`), and checks `_auth_user_hash` against
 * the user's current password hash in constant time. A hash made with a `secretKeyFallbacks` key is
 * accepted and replaced (the key is cycled, as Django 4.1.8+ does). Any other mismatch (the
 * password changed since the login) flushes the session, as Django does, and returns `null`.
 *
 * `lookup` plays `ModelBackend.get_user()`: return `null` for an inactive user if you follow
 * Django's `is_active` rule. Make sure it returns the `password` column.
 *
 * @example
 * ```ts
 * const user = await getUser(session, (id) => this.users.findOneBy({ id: Number(id) }));
 * if (!user) throw new UnauthorizedException();
 * ```
 */
export async function getUser<U extends { password: string }>(
  session: SessionStore<any>,
  lookup: DjangoUserLookup<U>,
  options: DjangoGetUserOptions = {},
): Promise<U | null> {
  // Django reads `session[SESSION_KEY]` and `session[BACKEND_SESSION_KEY]`: a KeyError is anonymous.
  if (!session.has(AUTH_SESSION_KEYS.userId) || !session.has(AUTH_SESSION_KEYS.backend)) return null;
  const backend: unknown = session.get(AUTH_SESSION_KEYS.backend);
  if (typeof backend !== 'string' || !(options.backends ?? [MODEL_BACKEND]).includes(backend)) return null;
  const storedId: unknown = session.get(AUTH_SESSION_KEYS.userId);
  if (typeof storedId !== 'string' && typeof storedId !== 'number') return null;

  const user = await lookup(String(storedId));
  if (user === null || user === undefined) return null;

  const { secretKey, secretKeyFallbacks } = keysFor(session, options);
  const match = matchSessionAuthHash(session.get(AUTH_SESSION_KEYS.hash), user.password, {
    secretKey,
    fallbackKeys: secretKeyFallbacks,
    legacy: options.legacyHash ?? djangoVersionTraits(moduleOptionsOf(session)?.djangoVersion).legacyHash,
  });
  if (match === 'current' || match === 'legacy') return user;
  if (match === 'fallback') {
    // Django 4.1.8+ (ticket #34384): keep the user, re-key the session and store the current hash.
    await session.cycleKey();
    session.set(AUTH_SESSION_KEYS.hash, sessionAuthHash(user.password, secretKey));
    return user;
  }
  await session.flush();
  return null;
}

/**
 * `django.contrib.auth.update_session_auth_hash(request, user)`: after the logged-in user changed
 * their own password, keeps *this* session logged in (its key cycled, its hash updated) while their
 * other sessions end. Pass the user with the new stored hash.
 */
export async function updateSessionAuthHash(
  session: SessionStore<any>,
  user: DjangoAuthUser,
  options: Pick<DjangoAuthKeys, 'secretKey'> = {},
): Promise<void> {
  const userId = primaryKeyText(user?.id);
  const { secretKey } = keysFor(session, options);
  const hash = sessionAuthHash(user.password, secretKey);
  await session.cycleKey();
  // Django sets the hash only when `request.user == user`.
  if (session.has(AUTH_SESSION_KEYS.userId) && samePrimaryKey(session.get(AUTH_SESSION_KEYS.userId), userId)) {
    session.set(AUTH_SESSION_KEYS.hash, hash);
  }
}

/** `user._meta.pk.value_to_string(user)`: how Django stores a primary key in the session. */
function primaryKeyText(id: unknown): string {
  if (typeof id === 'string') return id;
  if (typeof id === 'bigint') return id.toString();
  if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  throw new TypeError(`the user's id must be a string, a safe integer or a bigint, got ${typeof id === 'number' ? id : typeof id}`);
}

/**
 * Whether the stored `_auth_user_id` is `userId`. Django compares `pk.to_python(stored)` with
 * `user.pk`; what Django writes (`str(pk)`) compares equal as text, and so does a number stored by
 * other code.
 */
function samePrimaryKey(stored: unknown, userId: string): boolean {
  return (typeof stored === 'string' || typeof stored === 'number') && String(stored) === userId;
}

/** The keys from `options`, else from the session's module (its `secretKey` is Django's `SECRET_KEY`). */
function keysFor(session: SessionStore<any>, options: DjangoAuthKeys): { secretKey: string; secretKeyFallbacks: readonly string[] } {
  if (options.secretKey !== undefined) {
    if (typeof options.secretKey !== 'string' || options.secretKey === '') throw new TypeError('`secretKey` must be a non-empty string');
    return { secretKey: options.secretKey, secretKeyFallbacks: options.secretKeyFallbacks ?? [] };
  }
  const moduleOptions = moduleOptionsOf(session);
  if (typeof moduleOptions?.secretKey !== 'string' || moduleOptions.secretKey === '') {
    throw new TypeError('pass `secretKey` (Django\'s SECRET_KEY): this session does not come from a SessionModule');
  }
  const fallbacks = options.secretKeyFallbacks ?? moduleOptions.secretKeyFallbacks ?? [];
  return { secretKey: moduleOptions.secretKey, secretKeyFallbacks: fallbacks as readonly string[] };
}
