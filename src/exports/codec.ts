/** `nestjs-django-session/codec`: Django's `session_data` format and django-redis's cache values, on their own. */
export { SessionCodec, MAX_SESSION_DEPTH, DEFAULT_MAX_DECODED_BYTES, type SessionCodecOptions, type SessionDict, type DecodeStatus } from '../codec/session-codec.js';
export { CACHE_SERIALIZERS, type CacheSerializer } from '../codec/cache-serializers.js';
