/** The built-in engines, by the name the `engine` option (Django's `SESSION_ENGINE`) gives them. */
export const ENGINE_NAMES = ['db', 'cache', 'cached_db', 'signed_cookies', 'file'] as const;

/** A built-in engine's name: `'db'`, `'cache'`, `'cached_db'`, `'signed_cookies'` or `'file'`. */
export type EngineName = (typeof ENGINE_NAMES)[number];

/** Whether `name` is a built-in engine's. */
export function isEngineName(name: unknown): name is EngineName {
  return typeof name === 'string' && (ENGINE_NAMES as readonly string[]).includes(name);
}
