import { inspect } from 'node:util';
import { Global, Module, type NestModule } from '@nestjs/common';
import { SessionBackend } from './backends/session-backend.js';
import { SessionCodec } from './codec/session-codec.js';
import { SESSION_OPTIONS } from './session.constants.js';
import { ConfigurableSessionModule } from './session.module-definition.js';
import { SESSION_PROVIDERS } from './session.providers.js';
import { SessionRequests } from './session.requests.js';
import { SessionResponses } from './session.responses.js';
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
  providers: SESSION_PROVIDERS,
  // SessionRequests: @Session() binds SessionInterceptor to handlers, so Nest builds it in the controllers' modules.
  exports: [SessionService, SessionBackend, SessionCodec, SESSION_OPTIONS, SessionRequests, SessionResponses],
})
export class SessionModule extends ConfigurableSessionModule implements NestModule {
  /** Printed by name only: what it holds reaches the whole app (and the options given to forRoot). */
  [inspect.custom](): string {
    return 'SessionModule {}';
  }

  constructor(private readonly routes: SessionRoutes) {
    super();
  }

  /** Runs during `app.init()`, after `useGlobalGuards()` and before the routes are registered. */
  configure(): void {
    this.routes.install();
  }
}
