import { Catch, Injectable, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { SessionInterceptor } from './session.interceptor.js';
import { SessionService } from './session.service.js';

/**
 * Guards run before interceptors: when a guard opened the session (`forContext()`), changed it and
 * then refused the request, the interceptor never ran. This filter gives such a session the same
 * response phase (saved on a 4xx, as Django's middleware does), then lets Nest answer as usual.
 * A session the interceptor already handled is left alone.
 */
@Catch()
@Injectable()
export class SessionExceptionFilter extends BaseExceptionFilter {
  constructor(
    private readonly sessions: SessionService,
    private readonly interceptor: SessionInterceptor,
  ) {
    super();
  }

  override async catch(exception: unknown, host: ArgumentsHost): Promise<void> {
    const opened = host.getType() === 'http' ? this.sessions.openedFor(host.switchToHttp().getRequest()) : undefined;
    if (opened !== undefined && !opened.committed) {
      try {
        await this.interceptor.commitAfterError(opened, host.switchToHttp().getResponse(), exception);
      } catch (error) {
        exception = error;
      }
    }
    super.catch(exception, host);
  }
}
