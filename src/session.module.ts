import { Global, Module, type NestModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { SessionExceptionFilter } from './session.filter.js';
import { SESSION_OPTIONS } from './session.constants.js';
import { SessionInterceptor } from './session.interceptor.js';
import { ConfigurableSessionModule, SESSION_MODULE_OPTIONS } from './session.module-definition.js';
import { resolveSessionOptions } from './session-options.js';
import type { SessionModuleOptions } from './session-options.interface.js';
import { SessionRoutes } from './session.routes.js';
import { SessionService } from './session.service.js';

/**
 * Django's sessions for the whole application: `SessionModule.forRoot({ secretKey })` (or
 * `forRootAsync`) once, in the root module, next to `TypeOrmModule.forRoot()`. Global; registers
 * its own interceptor, so `@Session()` works in every controller with nothing else to add.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     TypeOrmModule.forRoot({ type: 'sqlite', database: 'app.sqlite3', entities: [SessionEntity],
 *                             migrations: [CreateDjangoSession1700000000000], migrationsRun: true }),
 *     SessionModule.forRoot({ secretKey: process.env.SECRET_KEY! }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Global()
@Module({
  providers: [
    {
      provide: SESSION_OPTIONS,
      useFactory: (options: SessionModuleOptions) => resolveSessionOptions(options),
      inject: [SESSION_MODULE_OPTIONS],
    },
    SessionService,
    SessionInterceptor,
    SessionRoutes,
    { provide: APP_FILTER, useClass: SessionExceptionFilter },
  ],
  exports: [SessionService, SESSION_OPTIONS],
})
export class SessionModule extends ConfigurableSessionModule implements NestModule {
  constructor(private readonly routes: SessionRoutes) {
    super();
  }

  /** Runs during `app.init()`, after `useGlobalGuards()` and before the routes are registered. */
  configure(): void {
    this.routes.install();
  }
}
