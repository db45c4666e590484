import 'reflect-metadata';
import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import passport from 'passport';
import { AppModule, type DemoSettings } from './app.module.js';
import { DemoFastifyPassport } from './passport.js';

/**
 * The demo app, not yet listening, on Express (default) or Fastify, with Passport wired in: on
 * Express `passport.session()` (Passport reads the Django login of every request that has a
 * session); on Fastify `@fastify/passport`'s `initialize()` and `secureSession()`.
 */
export async function createDemoApp(settings: DemoSettings, options: NestApplicationOptions = {}): Promise<INestApplication> {
  if (settings.platform === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    const app = await NestFactory.create<import('@nestjs/platform-fastify').NestFastifyApplication>(AppModule.forRoot(settings), new FastifyAdapter(), options);
    const { authenticator } = app.get(DemoFastifyPassport);
    await app.register(authenticator.initialize());
    await app.register(authenticator.secureSession());
    return app;
  }
  const app = await NestFactory.create(AppModule.forRoot({ ...settings, platform: 'express' }), options);
  app.use(passport.session());
  return app;
}
