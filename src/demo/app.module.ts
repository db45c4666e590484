import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CreateDjangoSession1700000000000 } from '../../migrations/1700000000000-CreateDjangoSession.js';
import { SessionEntity } from '../backends/typeorm/session.entity.js';
import { SessionModule } from '../session.module.js';
import { DemoController } from './demo.controller.js';

export const DEMO_SECRET = 'django-insecure-demo-only-secret-key-change-me';

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'sqlite',
      database: process.env.SQLITE_PATH ?? 'app.sqlite3',
      entities: [SessionEntity],
      migrations: [CreateDjangoSession1700000000000],
      migrationsRun: true,
      enableWAL: true,
      busyTimeout: 5000,
    }),
    SessionModule.forRoot({ secretKey: process.env.SECRET_KEY ?? DEMO_SECRET }),
  ],
  controllers: [DemoController],
})
export class AppModule {}
