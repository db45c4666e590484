import { Inject, Module, type DynamicModule } from '@nestjs/common';
import { SESSION_OPTIONS } from '../session.constants.js';
import { registerMessagesOptions, resolveMessagesOptions, type MessagesModuleOptions, type ResolvedMessagesOptions } from './messages-options.js';

/** Injection token of the resolved `MessagesModuleOptions`. */
export const MESSAGES_OPTIONS = Symbol('MESSAGES_OPTIONS');

/**
 * Django's messages settings for the app (`MESSAGE_LEVEL`, `MESSAGE_TAGS`). Optional: without it,
 * `@Messages()` and `messagesOf()` use Django's defaults (INFO, the default tags). Import it once,
 * next to `SessionModule.forRoot()`. Nothing runs per request.
 *
 * @example
 * ```ts
 * MessagesModule.forRoot({ level: MessageLevel.DEBUG, tags: { [MessageLevel.ERROR]: 'danger' } })
 * ```
 */
@Module({})
export class MessagesModule {
  constructor(@Inject(SESSION_OPTIONS) sessionOptions: object, @Inject(MESSAGES_OPTIONS) options: ResolvedMessagesOptions) {
    registerMessagesOptions(sessionOptions, options);
  }

  /** The options, checked here (a bad one throws a `SessionConfigError` naming it, before the app is built). */
  static forRoot(options: MessagesModuleOptions = {}): DynamicModule {
    const resolved = resolveMessagesOptions(options);
    return {
      module: MessagesModule,
      providers: [{ provide: MESSAGES_OPTIONS, useValue: resolved }],
      exports: [MESSAGES_OPTIONS],
    };
  }
}
