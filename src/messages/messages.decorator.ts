import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { markUsesSession } from '../session.decorator.js';
import { sessionOf } from '../transports/index.js';
import { messagesOf } from './message-storage.js';

const MessagesParam = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const opened = sessionOf(context);
  if (opened === undefined) {
    throw new Error('@Messages() found no session: import SessionModule.forRoot() in the application module');
  }
  return messagesOf(opened.store);
});

/**
 * Injects the request's messages (`MessageStorage`: Django's `request._messages`, what
 * `messages.add_message()` and `get_messages()` work on), kept in the session as Django's
 * `SessionStorage` keeps them. Like `@Session()`, it opens the session only for the handlers that
 * take it; the handler may take both (the same session).
 *
 * @example
 * ```ts
 * @Post('profile')
 * save(@Messages() messages: MessageStorage) {
 *   messages.success('Profile saved.');
 * }
 *
 * @Get('messages')
 * list(@Messages() messages: MessageStorage) {
 *   return messages.consume(); // shown once: gone on the next request
 * }
 * ```
 */
export function Messages(): ParameterDecorator {
  return (target, propertyKey, index) => {
    markUsesSession(target, propertyKey);
    MessagesParam()(target, propertyKey, index);
  };
}
