import { SessionConfigError } from './session.errors.js';

/** A bad option: the error names it and says what is wrong (never its value: see `describeOption`). */
export function failOption(option: string, problem: string): never {
  throw new SessionConfigError(`SessionModule option "${option}" ${problem}`);
}

/** A bad option's value by its kind, never the value itself (it may be a secret or hold a password). */
export function describeOption(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function or class (${value.name || 'anonymous'})`;
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (typeof value === 'number') return Number.isFinite(value) ? (Number.isInteger(value) ? 'a whole number outside that range' : 'a fraction') : 'a non-finite number';
  return `a ${typeof value}`;
}
