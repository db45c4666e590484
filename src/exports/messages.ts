/** `nestjs-django-session/messages`: Django's messages framework (flash messages), kept in the session as Django's `SessionStorage` keeps them. */
export {
  Messages,
  MessageStorage,
  messagesOf,
  MessagesModule,
  MessageLevel,
  DEFAULT_MESSAGE_TAGS,
  MESSAGES_SESSION_KEY,
  MESSAGES_OPTIONS,
  MESSAGES_DEFAULTS,
  resolveMessagesOptions,
  type Message,
  type AddMessageOptions,
  type MessagesModuleOptions,
  type ResolvedMessagesOptions,
} from '../messages/index.js';
