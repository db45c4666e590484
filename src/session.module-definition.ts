import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { SessionModuleOptions } from './session-options.interface.js';

/** forRoot / forRootAsync (useFactory, useClass, useExisting, imports, inject), built by Nest. */
export const {
  ConfigurableModuleClass: ConfigurableSessionModule,
  MODULE_OPTIONS_TOKEN: SESSION_MODULE_OPTIONS,
  OPTIONS_TYPE: SESSION_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: SESSION_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<SessionModuleOptions>({ moduleName: 'Session' }).setClassMethodName('forRoot').build();
