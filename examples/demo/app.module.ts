import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
// The package's public entries, as an app imports them ('nestjs-django-session', '.../sqlite').
import { CreateDjangoSession1700000000000, SessionEntity, SessionModule, type DjangoVersion } from '../../src/index.js';
import { sqliteDataSourceOptions } from '../../src/exports/sqlite.js';
import { CreateDemoAuthUser1700000000100, DEMO_DJANGO_VERSION, DemoUser } from './auth-user.js';
import { DemoController } from './demo.controller.js';
import { DemoFastifyPassport, DemoLocalStrategy, DemoUserSerializer, PassportController, PassportLoginGuard } from './passport.js';

export const DEMO_SECRET = 'django-insecure-demo-only-secret-key-change-me';

export type DemoPlatform = 'express' | 'fastify';

export interface DemoSettings {
  /** The embedded sqlite file holding `django_session` and Django's `auth_user`. */
  sqlitePath: string;
  secretKey: string;
  /** The HTTP platform, for the Passport part (default `'express'`). See bootstrap.ts. */
  platform?: DemoPlatform;
  /** The Django release the demo shares its sqlite file with (default the package's, `'5.2'`). */
  djangoVersion?: DjangoVersion;
}

/**
 * The demo: the views of "How to use sessions", plus a Passport login on Django's `auth_user`;
 * `django_session` and `auth_user` in an embedded sqlite file (with the library's safe and fast
 * sqlite settings: `sqliteDataSourceOptions`).
 */
@Module({})
export class AppModule {
  static forRoot({ sqlitePath, secretKey, platform = 'express', djangoVersion }: DemoSettings): DynamicModule {
    const passport: Provider[] =
      platform === 'fastify' ? [DemoFastifyPassport, DemoUserSerializer, PassportLoginGuard] : [DemoLocalStrategy, DemoUserSerializer, PassportLoginGuard];
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot({
          ...sqliteDataSourceOptions({ database: sqlitePath }),
          entities: [SessionEntity, DemoUser],
          migrations: [CreateDjangoSession1700000000000, CreateDemoAuthUser1700000000100.for(djangoVersion)],
          migrationsRun: true,
        }),
        TypeOrmModule.forFeature([DemoUser]),
        // requestSession: req.session for Passport (the same session @Session() gives).
        SessionModule.forRoot({ secretKey, requestSession: true, djangoVersion }),
      ],
      controllers: [DemoController, PassportController],
      providers: [...passport, { provide: DEMO_DJANGO_VERSION, useValue: djangoVersion }],
    };
  }
}
