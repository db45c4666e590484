/**
 * `django.contrib.messages.constants`: the five levels and their default tags (`DEFAULT_TAGS`),
 * the same in Django 3.2 to 6.x.
 */

/** The message levels (`messages.DEBUG`...`messages.ERROR`); any other integer is a level too. */
export const MessageLevel = Object.freeze({
  DEBUG: 10,
  INFO: 20,
  SUCCESS: 25,
  WARNING: 30,
  ERROR: 40,
} as const);

/** `constants.DEFAULT_TAGS`: each level's `level_tag`, unless `MESSAGE_TAGS` (the `tags` option) says otherwise. */
export const DEFAULT_MESSAGE_TAGS: Readonly<Record<number, string>> = Object.freeze({
  10: 'debug',
  20: 'info',
  25: 'success',
  30: 'warning',
  40: 'error',
});

/** `SessionStorage.session_key`: where the messages live in the session. */
export const MESSAGES_SESSION_KEY = '_messages';
