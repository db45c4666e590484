export { AUTH_SESSION_KEYS, MODEL_BACKEND, sessionAuthHash } from './session-auth-hash.js';
export {
  getUser,
  login,
  logout,
  updateSessionAuthHash,
  type DjangoAuthKeys,
  type DjangoAuthUser,
  type DjangoGetUserOptions,
  type DjangoLoginOptions,
  type DjangoUserLookup,
} from './django-login.js';
export { DJANGO_PBKDF2_ITERATIONS, PasswordHashersBusy, makeDjangoPassword, verifyDjangoPassword, type MakeDjangoPasswordOptions, type VerifyDjangoPasswordOptions } from './password-hashers.js';
