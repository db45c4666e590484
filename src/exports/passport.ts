/** `nestjs-django-session/passport`: Passport (Express and Fastify) on Django's login keys. */
export {
  DjangoPassportSerializer,
  DjangoSessionManager,
  DjangoSessionStrategy,
  useDjangoSessions,
  type DjangoPassportOptions,
  type PassportInstance,
} from '../integrations/passport.js';
