import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CreateDjangoSession1700000000000 } from '../../migrations/1700000000000-CreateDjangoSession.js';
import { SessionEntity } from '../backends/typeorm/session.entity.js';
import { SessionModule } from '../session.module.js';
import { DemoController } from './demo.controller.js';

export const DEMO_SECRET = 'django-insecure-demo-only-secret-key-change-me';

export interface DemoSettings {
  /** The embedded sqlite file holding `django_session`. */
  sqlitePath: string;
  secretKey: string;
}

/** The demo: its views, sessions in `django_session` on an embedded sqlite file. */
@Module({ controllers: [DemoController] })
export class AppModule {
  static forRoot({ sqlitePath, secretKey }: DemoSettings): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot({
          type: 'sqlite',
          database: sqlitePath,
          entities: [SessionEntity],
          migrations: [CreateDjangoSession1700000000000],
          migrationsRun: true,
          enableWAL: true,
          busyTimeout: 5000,
        }),
        SessionModule.forRoot({ secretKey }),
      ],
    };
  }
}
