import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { SessionEventName, SessionEventPayloads } from './session-events.js';

const logger = new Logger('SessionSignals');

/** Something told of every event of one `SessionModule`. */
export type SessionEventListener = <N extends SessionEventName>(name: N, payload: SessionEventPayloads[N]) => void;

/** What `owner` (a module's engine, its codec) reports to. */
const signalsOf = new WeakMap<object, SessionSignals>();

/**
 * @internal One `SessionModule`'s events: sent through the app's `EventEmitter2` when it imports
 * `EventEmitterModule` (`@nestjs/event-emitter`, looked up once at start-up, never required), and
 * to `SessionTelemetryModule`. While nothing listens `listening` is false and nothing is built:
 * the sender's only cost is that check.
 */
@Injectable()
export class SessionSignals implements OnModuleInit {
  #listeners: SessionEventListener[] = [];
  /** Whether anything listens; senders build a payload only then. */
  listening = false;

  constructor(private readonly moduleRef: ModuleRef) {}

  /** Finds the app's `EventEmitter2` (`EventEmitterModule.forRoot()`), if it has one. */
  async onModuleInit(): Promise<void> {
    const emitter = await appEventEmitter(this.moduleRef);
    if (emitter !== undefined) this.listen((name, payload) => emitter.emit(name, payload));
  }

  /** Adds a listener of every event. */
  listen(listener: SessionEventListener): void {
    this.#listeners.push(listener);
    this.listening = true;
  }

  /** Tells every listener; a listener that throws is logged, never the request's failure. */
  emit<N extends SessionEventName>(name: N, payload: SessionEventPayloads[N]): void {
    for (const listener of this.#listeners) {
      try {
        listener(name, payload);
      } catch (error) {
        logger.error(`A listener of ${name} threw: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      }
    }
  }

  /** The engine's name, for the payloads. */
  engineName = '';

  /**
   * Makes the module's engine report to these signals (`signalsFor(owner)`), with what reports for
   * it: its codec (`decodeLogged()`), the cache engines' Redis entries, the instrumented engine.
   */
  attach(engine: { readonly engineName: string }, ...owners: unknown[]): void {
    this.engineName = engine.engineName;
    const entries: unknown = (engine as { entries?: unknown }).entries;
    for (const owner of [engine, entries, ...owners]) if (typeof owner === 'object' && owner !== null) signalsOf.set(owner, this);
  }
}

/** @internal The signals `owner` (an engine, a codec) reports to when something listens; undefined otherwise. */
export function signalsFor(owner: object | undefined): SessionSignals | undefined {
  if (owner === undefined) return undefined;
  const signals = signalsOf.get(owner);
  return signals?.listening ? signals : undefined;
}

interface EventEmitterLike {
  emit(event: string, ...values: unknown[]): unknown;
}

/** `EventEmitter2` as `EventEmitterModule` provides it, or undefined when the app has no such module (or the package is not installed). */
async function appEventEmitter(moduleRef: ModuleRef): Promise<EventEmitterLike | undefined> {
  let token: unknown;
  try {
    const name = '@nestjs/event-emitter'; // an optional peer: never a static import
    token = ((await import(name)) as { EventEmitter2?: unknown }).EventEmitter2;
  } catch {
    return undefined;
  }
  if (typeof token !== 'function') return undefined;
  try {
    const emitter = moduleRef.get(token as new () => EventEmitterLike, { strict: false });
    return typeof emitter?.emit === 'function' ? emitter : undefined;
  } catch {
    return undefined;
  }
}
