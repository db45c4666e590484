/**
 * The `_messages` value of Django's `SessionStorage`: a JSON *string* stored in the session,
 * written by `MessageEncoder().encode(messages)` (Python's default separators `', '` / `': '`,
 * ASCII-escaped) and read by `json.loads(data, cls=MessageDecoder)`:
 *
 *     [["__json_message", 0, 20, "Saved.", ""], ["__json_message", 1, 40, "<b>No</b>"]]
 *
 * one array per message: the marker, 1 when the text is safe (`mark_safe`, `SafeData`) else 0,
 * the level, the text and, when it has them, the extra tags. Django 3.2 (and 4.0) write the extra
 * tags only when they are not empty (`if obj.extra_tags:`), so `''` comes back as `None`; 4.1+
 * write them unless `None` (`if obj.extra_tags is not None:`, ticket #33458).
 */
import { parsePythonJson, pythonJsonDumps } from '../codec/python-json.js';
import type { DjangoVersion } from '../django-versions.js';

/** `MessageEncoder.message_key`. */
export const MESSAGE_MARKER = '__json_message';

/** One message as stored: Django's `Message(level, message, extra_tags)` and whether its text is `SafeData`. */
export interface StoredMessage {
  readonly level: number;
  readonly message: string;
  /** `None` in Django: what 3.2 reads back for empty extra tags. */
  readonly extraTags: string | null;
  readonly safe: boolean;
}

/** Whether `version` writes extra tags only when they are truthy (before Django 4.1). */
function omitsEmptyExtraTags(version: DjangoVersion | undefined): boolean {
  return version === '3.2' || version === '4.0';
}

/** `SessionStorage.serialize_messages(messages)`, as the Django release `version` writes it. */
export function encodeMessages(messages: readonly StoredMessage[], version: DjangoVersion | undefined): string {
  const omitEmpty = omitsEmptyExtraTags(version);
  const items = messages.map((m) => {
    const parts: unknown[] = [MESSAGE_MARKER, m.safe ? 1 : 0, m.level, m.message];
    if (omitEmpty ? Boolean(m.extraTags) : m.extraTags !== null) parts.push(m.extraTags);
    return `[${parts.map((p) => pythonJsonDumps(p)).join(', ')}]`;
  });
  return `[${items.join(', ')}]`;
}

/** What `decodeMessages` makes of a `_messages` value: the messages, or why there are none. */
export type DecodedMessages = { ok: true; messages: StoredMessage[] } | { ok: false; problem: string };

/**
 * `SessionStorage.deserialize_messages(data)`, for the values Django writes. A falsy value (none,
 * `''`, `[]`...) is no messages, as in Django; anything Django would not have written (not a JSON
 * string of message arrays: hand-edited, another app's) is refused with the reason, never thrown.
 */
export function decodeMessages(value: unknown): DecodedMessages {
  if (!pythonTruthy(value)) return { ok: true, messages: [] };
  if (typeof value !== 'string') return { ok: false, problem: `it is ${kindOf(value)}, not the JSON text Django stores` };
  let parsed: unknown;
  try {
    parsed = parsePythonJson(value);
  } catch {
    return { ok: false, problem: 'it is not valid JSON' };
  }
  // json.loads of '[]' (or of any falsy JSON value) is no messages: `messages or []`.
  if (!pythonTruthy(parsed)) return { ok: true, messages: [] };
  if (!Array.isArray(parsed)) return { ok: false, problem: `its JSON is ${kindOf(parsed)}, not a list of messages` };
  const messages: StoredMessage[] = [];
  for (const [index, item] of parsed.entries()) {
    const message = decodeMessage(item);
    if (typeof message === 'string') return { ok: false, problem: `item ${index} ${message}` };
    messages.push(message);
  }
  return { ok: true, messages };
}

/** `MessageDecoder.process_messages` of one item: `Message(*obj[2:])`, text marked safe when `obj[1]`; else what is wrong. */
function decodeMessage(item: unknown): StoredMessage | string {
  if (!Array.isArray(item) || item[0] !== MESSAGE_MARKER) return `is not a message (["${MESSAGE_MARKER}", safe, level, text, extra tags?])`;
  if (item.length < 4 || item.length > 5) return `has ${item.length} fields, not 4 or 5`;
  const level = pythonInt(item[2]);
  if (level === undefined) return 'has a level that is not an integer';
  const message: unknown = item[3];
  if (typeof message !== 'string') return `has a text that is ${kindOf(message)}`;
  const extraTags: unknown = item.length === 5 ? item[4] : null;
  if (extraTags !== null && typeof extraTags !== 'string') return `has extra tags that are ${kindOf(extraTags)}`;
  return { level, message, extraTags, safe: pythonTruthy(item[1]) };
}

/** Python's `int(value)` for what JSON holds (`Message.__init__` does `int(level)`); undefined where it raises. */
function pythonInt(value: unknown): number | undefined {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return Number.isFinite(value) && Number.isSafeInteger(Math.trunc(value)) ? Math.trunc(value) : undefined;
  if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) {
    const n = Number(value.trim());
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

/** Python's truth value of a JSON value (`if data`, `if obj[1]`). */
export function pythonTruthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return false;
  if (typeof value === 'number') return value !== 0; // NaN is true in Python too
  if (typeof value === 'bigint') return value !== 0n;
  if (typeof value === 'string') return value.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** A value by its kind, never the value itself (it is the visitor's data). */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
