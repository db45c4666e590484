/**
 * Django's `login()` calls `rotate_token(request)`: a new CSRF secret at each login, against a
 * token planted before it. Our `login()` takes a session, not a request, so the two meet here, by
 * session object: `CsrfModule` links the request's session to the request's CSRF state when it
 * opens it (`useSessions`), and otherwise looks for a login on the request's session when the
 * handler is done. No imports, and nothing but a WeakSet entry per login where CSRF is not used.
 */

const rotators = new WeakMap<object, () => void>();
const pendingLogins = new WeakSet<object>();

/** @internal `login()`'s call: rotates the CSRF secret of the request `session` belongs to (now, or when its CSRF state next looks). */
export function rotateCsrfTokenOnLogin(session: object): void {
  const rotate = rotators.get(session);
  if (rotate !== undefined) rotate();
  else pendingLogins.add(session);
}

/** @internal Links a request's session to its CSRF state's rotation. */
export function linkCsrfRotation(session: object, rotate: () => void): void {
  rotators.set(session, rotate);
}

/** @internal Whether `session` saw a login not yet answered by a rotation (and forgets it). */
export function takePendingLogin(session: object): boolean {
  return pendingLogins.delete(session);
}
