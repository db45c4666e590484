import { SessionConfigError } from '../session.errors.js';
import { DEFAULT_MESSAGE_TAGS, MessageLevel } from './constants.js';

/** `MessagesModule.forRoot()`'s options: Django's messages settings. */
export interface MessagesModuleOptions {
  /**
   * `MESSAGE_LEVEL`: the lowest level recorded (a message below it is dropped by `add()`).
   * Default `MessageLevel.INFO` (20), as Django. A request may change it (`messages.level = ...`).
   */
  level?: number;
  /**
   * `MESSAGE_TAGS`: level → `levelTag`, merged over Django's defaults (`{ 40: 'danger' }` renames
   * ERROR's tag; a level of your own gets one). Default none.
   */
  tags?: Readonly<Record<number, string>>;
}

/** The options every request's messages read: the level and the full level → tag table. */
export interface ResolvedMessagesOptions {
  readonly level: number;
  readonly tags: Readonly<Record<number, string>>;
}

/** Django's defaults: `MESSAGE_LEVEL` INFO, `DEFAULT_TAGS`. */
export const MESSAGES_DEFAULTS: ResolvedMessagesOptions = Object.freeze({ level: MessageLevel.INFO, tags: DEFAULT_MESSAGE_TAGS });

const OPTION_NAMES = ['level', 'tags'];

function fail(option: string, problem: string): never {
  throw new SessionConfigError(`MessagesModule option "${option}" ${problem}`);
}

/** Checks and completes `MessagesModule` options; a bad one is a `SessionConfigError` naming it. */
export function resolveMessagesOptions(input: MessagesModuleOptions | undefined): ResolvedMessagesOptions {
  if (input === undefined || input === null) return MESSAGES_DEFAULTS;
  if (typeof input !== 'object' || Array.isArray(input)) throw new SessionConfigError('MessagesModule.forRoot() takes an object of options');
  for (const name of Object.keys(input)) {
    if (!OPTION_NAMES.includes(name)) fail(name, `is not an option (the options are ${OPTION_NAMES.join(', ')})`);
  }
  const level = input.level ?? MESSAGES_DEFAULTS.level;
  if (!Number.isSafeInteger(level)) fail('level', `must be an integer level (MessageLevel.INFO is 20), got ${describe(level)}`);
  const tags: Record<number, string> = { ...DEFAULT_MESSAGE_TAGS };
  if (input.tags !== undefined) {
    if (input.tags === null || typeof input.tags !== 'object' || Array.isArray(input.tags)) fail('tags', `must be an object of level → tag, got ${describe(input.tags)}`);
    for (const [key, tag] of Object.entries(input.tags)) {
      if (!/^-?\d+$/.test(key) || !Number.isSafeInteger(Number(key))) fail('tags', `has a key that is not an integer level (a string of ${key.length} characters)`);
      if (typeof tag !== 'string') fail('tags', `gives level ${key} ${describe(tag)}, not a string`);
      tags[Number(key)] = tag;
    }
  }
  return Object.freeze({ level, tags: Object.freeze(tags) });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return `the number ${String(value)}`;
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Each app's messages options, by the `SessionModule` options object of that app (two apps in one process never mix). */
const registered = new WeakMap<object, ResolvedMessagesOptions>();

/** @internal Called by `MessagesModule`: the options of the app whose session options are `sessionOptions`. */
export function registerMessagesOptions(sessionOptions: object, options: ResolvedMessagesOptions): void {
  registered.set(sessionOptions, options);
}

/** @internal The messages options of the app whose session options are `sessionOptions` (Django's defaults without `MessagesModule`). */
export function messagesOptionsFor(sessionOptions: object): ResolvedMessagesOptions {
  return registered.get(sessionOptions) ?? MESSAGES_DEFAULTS;
}
