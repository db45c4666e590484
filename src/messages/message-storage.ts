import { Logger } from '@nestjs/common';
import type { DjangoVersion } from '../django-versions.js';
import { moduleOptionsOf, SessionStore } from '../session.store.js';
import { MessageLevel, MESSAGES_SESSION_KEY } from './constants.js';
import { decodeMessages, encodeMessages, type StoredMessage } from './message-codec.js';
import { messagesOptionsFor, type ResolvedMessagesOptions } from './messages-options.js';

const logger = new Logger('Messages');

/** A message as read (Django's `Message`, with its `tags` and `level_tag` properties resolved). */
export interface Message {
  /** The text (`str(message)`). */
  readonly message: string;
  /** The level (`message.level`): 10 DEBUG ... 40 ERROR, or any integer. */
  readonly level: number;
  /** `message.extra_tags`: `''` by default; `null` where Django has `None` (3.2 reads empty tags back as `None`). */
  readonly extraTags: string | null;
  /** `message.level_tag`: the level's tag (`tags` option over Django's defaults), `''` for a level without one. */
  readonly levelTag: string;
  /** `message.tags`: the extra tags and the level tag, space-separated, the empty ones left out. */
  readonly tags: string;
  /** Whether the text is safe HTML (`mark_safe()` in Django: a template does not escape it). */
  readonly safe: boolean;
}

/** What `add()` takes besides the level and the text. */
export interface AddMessageOptions {
  /** `extra_tags`: space-separated tags of your own, before the level's in `tags`. Default `''`, as Django. */
  extraTags?: string | null;
  /** Marks the text safe HTML (Django's `mark_safe(text)`): Django's templates then do not escape it. Default false. */
  safe?: boolean;
}

/** What `_messages` should hold after an operation: nothing, this text, or what the request found. */
const KEEP = Symbol('keep');

/**
 * The request's messages (Django's `request._messages`, a `SessionStorage`): `add()` and the
 * level shortcuts queue a message for a later request; iterating (`for...of`, `consume()`) reads
 * them and marks them used, so they are not shown again. Django's `update(response)` is applied to
 * the session on every change rather than at the end of the request, with the same result: the
 * session's own rule (saved when modified) then stores it.
 *
 * - read (iterated): only the messages added after the last read are kept; none → `_messages` removed;
 * - not read, something added: what was stored and what was added are kept;
 * - neither: the session is not touched.
 *
 * Get it with `@Messages()` in a handler, or `messagesOf(session)` for any `SessionStore`.
 */
export class MessageStorage implements Iterable<Message> {
  readonly #session: SessionStore<Record<string, any>>;
  readonly #options: ResolvedMessagesOptions;
  readonly #djangoVersion: DjangoVersion | undefined;
  /** `_loaded_data`: read from the session on first use. */
  #loaded: StoredMessage[] | null = null;
  /** `_messages` as the request found it (`present` false when absent), once read. */
  #found: { present: boolean; value: unknown } | null = null;
  #queued: StoredMessage[] = [];
  #used = false;
  #addedNew = false;
  #level: number | undefined;
  /** Whether this object has written `_messages` (then restoring what was found is a write too). */
  #written = false;

  /** @internal Use `@Messages()` or `messagesOf(session)`. */
  constructor(session: SessionStore<any>, options: ResolvedMessagesOptions, djangoVersion: DjangoVersion | undefined) {
    this.#session = session;
    this.#options = options;
    this.#djangoVersion = djangoVersion;
  }

  /** `storage.used`: whether the messages were read. Set it back to `false` to keep them for the next request, as in Django. */
  get used(): boolean {
    return this.#used;
  }
  set used(value: boolean) {
    this.#used = Boolean(value);
    this.#sync();
  }

  /**
   * `storage.level` (`get_level()` / `set_level()`): the lowest level `add()` records, for this
   * request; the `level` option (`MESSAGE_LEVEL`, default INFO 20) until set. `null` returns to it.
   */
  get level(): number {
    return this.#level ?? this.#options.level;
  }
  set level(value: number | null) {
    if (value === null || value === undefined) {
      this.#level = undefined;
      return;
    }
    if (!Number.isSafeInteger(value)) throw new TypeError(`messages.level must be an integer level or null, got ${typeof value === 'number' ? String(value) : typeof value}`);
    this.#level = value;
  }

  /** `len(storage)`: the stored and the queued messages; does not mark them read. */
  get length(): number {
    return this.#loadedMessages().length + this.#queued.length;
  }

  /**
   * `add_message(request, level, message, extra_tags)`: queues `message` unless it is empty or its
   * level is below `level`. Returns whether it was queued.
   */
  add(level: number, message: string, options: AddMessageOptions = {}): boolean {
    if (typeof level !== 'number' || !Number.isSafeInteger(level)) throw new TypeError(`messages.add() takes an integer level (MessageLevel.INFO is 20), got ${typeof level === 'number' ? String(level) : typeof level}`);
    if (typeof message !== 'string') throw new TypeError(`messages.add() takes the message as a string, got ${message === null ? 'null' : typeof message}`);
    const extraTags = options.extraTags === undefined ? '' : options.extraTags;
    if (extraTags !== null && typeof extraTags !== 'string') throw new TypeError(`messages.add() takes extraTags as a string or null, got ${typeof extraTags}`);
    if (!message) return false;
    if (level < this.level) return false;
    this.#addedNew = true;
    this.#queued.push({ level, message, extraTags, safe: options.safe === true });
    this.#sync();
    return true;
  }

  /** `messages.debug(request, message)`: level 10 (dropped at the default level, INFO). */
  debug(message: string, options?: AddMessageOptions): boolean {
    return this.add(MessageLevel.DEBUG, message, options);
  }
  /** `messages.info(request, message)`: level 20. */
  info(message: string, options?: AddMessageOptions): boolean {
    return this.add(MessageLevel.INFO, message, options);
  }
  /** `messages.success(request, message)`: level 25. */
  success(message: string, options?: AddMessageOptions): boolean {
    return this.add(MessageLevel.SUCCESS, message, options);
  }
  /** `messages.warning(request, message)`: level 30. */
  warning(message: string, options?: AddMessageOptions): boolean {
    return this.add(MessageLevel.WARNING, message, options);
  }
  /** `messages.error(request, message)`: level 40. */
  error(message: string, options?: AddMessageOptions): boolean {
    return this.add(MessageLevel.ERROR, message, options);
  }

  /**
   * `for message in get_messages(request)`: every message, stored then queued, and marks them read
   * (they are not stored again; what is added afterwards is).
   */
  [Symbol.iterator](): Iterator<Message> {
    this.#used = true;
    const loaded = this.#loadedMessages();
    if (this.#queued.length > 0) {
      loaded.push(...this.#queued);
      this.#queued = [];
    }
    this.#sync();
    return loaded.map((m) => this.#view(m))[Symbol.iterator]();
  }

  /** The messages as an array, marked read: `[...messages]`. */
  consume(): Message[] {
    return [...this];
  }

  /** Printed without the messages (they are the visitor's). */
  toJSON(): { length: number; used: boolean } {
    return { length: this.length, used: this.#used };
  }

  #view(m: StoredMessage): Message {
    const levelTag = this.#options.tags[m.level] ?? '';
    const tags = [m.extraTags, levelTag].filter((t) => t).join(' ');
    return Object.freeze({ message: m.message, level: m.level, extraTags: m.extraTags, levelTag, tags, safe: m.safe });
  }

  /** `_loaded_messages`: what the session holds under `_messages`, read once; a value Django would not have written is none (logged). */
  #loadedMessages(): StoredMessage[] {
    if (this.#loaded !== null) return this.#loaded;
    const session = this.#session;
    const present = session.has(MESSAGES_SESSION_KEY);
    const value: unknown = present ? session.get(MESSAGES_SESSION_KEY) : undefined;
    this.#found = { present, value };
    const decoded = decodeMessages(value);
    if (decoded.ok) {
      this.#loaded = decoded.messages;
    } else {
      logger.warn(`The session's ${MESSAGES_SESSION_KEY} was ignored (no messages): ${decoded.problem}`);
      this.#loaded = [];
    }
    return this.#loaded;
  }

  /** Django's `update(response)`, applied now: what `_messages` holds after it. */
  #sync(): void {
    let target: string | null | typeof KEEP;
    if (this.#used) {
      target = this.#queued.length > 0 ? encodeMessages(this.#queued, this.#djangoVersion) : null;
    } else if (this.#addedNew) {
      target = encodeMessages([...this.#loadedMessages(), ...this.#queued], this.#djangoVersion);
    } else {
      target = KEEP;
    }
    const session = this.#session;
    if (target === KEEP) {
      // Back to what the request found (`storage.used = false` after a read): undo this object's writes only.
      if (!this.#written || this.#found === null) return;
      if (this.#found.present) {
        const found = this.#found.value;
        if (session.get(MESSAGES_SESSION_KEY) !== found) session.set(MESSAGES_SESSION_KEY, found);
        return;
      }
      target = null;
    }
    if (target === null) {
      if (session.has(MESSAGES_SESSION_KEY)) {
        session.delete(MESSAGES_SESSION_KEY);
        this.#written = true;
      }
    } else if (!session.has(MESSAGES_SESSION_KEY) || session.get(MESSAGES_SESSION_KEY) !== target) {
      session.set(MESSAGES_SESSION_KEY, target);
      this.#written = true;
    }
  }
}

/** Each session's messages: one object per session, so per request. */
const storages = new WeakMap<SessionStore<any>, MessageStorage>();

/**
 * The messages of `session` (any `SessionStore`: `@Session()`, `SessionService.forContext()`,
 * `load()`, `create()`), the same object for the same session. Outside a request, save the
 * session yourself (`await session.save()`) after adding or reading.
 *
 * @example
 * ```ts
 * const messages = messagesOf(await sessions.forContext(context));
 * messages.warning('Your trial ends tomorrow.');
 * ```
 */
export function messagesOf(session: SessionStore<any>): MessageStorage {
  let storage = storages.get(session);
  if (storage === undefined) {
    const sessionOptions = session instanceof SessionStore ? moduleOptionsOf(session) : undefined;
    if (sessionOptions === undefined) {
      throw new TypeError("messagesOf() takes a session from this package (@Session(), SessionService's forContext(), load() or create())");
    }
    storage = new MessageStorage(session, messagesOptionsFor(sessionOptions), sessionOptions.djangoVersion);
    storages.set(session, storage);
  }
  return storage;
}
