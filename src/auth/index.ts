export { AUTH_SESSION_KEYS, MODEL_BACKEND, sessionAuthHash } from './session-auth-hash.js';
export {
  getUser,
  login,
  logout,
  updateSessionAuthHash,
  userLoginFailed,
  type DjangoAuthKeys,
  type DjangoAuthUser,
  type DjangoGetUserOptions,
  type DjangoLoginOptions,
  type DjangoUserLookup,
} from './django-login.js';
export { DJANGO_PBKDF2_ITERATIONS, PasswordHashersBusy, makeDjangoPassword, verifyDjangoPassword, type MakeDjangoPasswordOptions, type VerifyDjangoPasswordOptions } from './password-hashers.js';
export { DjangoAuthModule } from './django-auth.module.js';
export { DjangoAuthService } from './django-auth.service.js';
export { DJANGO_AUTH_DEFAULTS, type DjangoAuthModuleOptions, type LoginRequiredOptions, type UnauthenticatedResponse } from './django-auth.options.js';
export { LoginRequired, UserPassesTest, type UserTest } from './login-required.js';
export { CurrentUser } from './current-user.js';
export { GraphqlAuthError, LoginRedirectException } from './auth-refusals.js';
export { redirectToLogin } from './login-redirect.js';
