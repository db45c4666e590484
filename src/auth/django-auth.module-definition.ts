import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { DjangoAuthModuleOptions } from './django-auth.options.js';

/** forRoot / forRootAsync (useFactory, useClass, useExisting, imports, inject), built by Nest. */
export const {
  ConfigurableModuleClass: ConfigurableDjangoAuthModule,
  MODULE_OPTIONS_TOKEN: DJANGO_AUTH_MODULE_OPTIONS,
  OPTIONS_TYPE: DJANGO_AUTH_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: DJANGO_AUTH_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<DjangoAuthModuleOptions>({ moduleName: 'DjangoAuth' }).setClassMethodName('forRoot').build();

/** Injection token of the resolved `DjangoAuthModuleOptions`. */
export const DJANGO_AUTH_OPTIONS = Symbol('DJANGO_AUTH_OPTIONS');
