export { MessageLevel, DEFAULT_MESSAGE_TAGS, MESSAGES_SESSION_KEY } from './constants.js';
export { MessageStorage, messagesOf, type Message, type AddMessageOptions } from './message-storage.js';
export { Messages } from './messages.decorator.js';
export { MessagesModule, MESSAGES_OPTIONS } from './messages.module.js';
export { MESSAGES_DEFAULTS, resolveMessagesOptions, type MessagesModuleOptions, type ResolvedMessagesOptions } from './messages-options.js';
