import type { ModuleRef } from '@nestjs/core';
import type { SessionCodec } from '../codec/session-codec.js';
import type { ResolvedSessionOptions } from '../session-options.interface.js';
import type { SessionBackend } from './session-backend.js';

/** What a built-in engine is made from (see `ENGINE_LOADERS` in ./engines.ts). */
export interface EngineContext {
  readonly options: ResolvedSessionOptions;
  /** Signs and reads `session_data` (the db and file engines' stored form). */
  readonly codec: SessionCodec;
  /** SessionModule's module reference: how an engine finds the app's DataSource. */
  readonly moduleRef: ModuleRef;
}

/** A built-in engine: its class, made from the module's context. */
export interface EngineClass {
  fromContext(context: EngineContext): SessionBackend;
}
