import type { SessionCodec } from './session-codec.js';

/**
 * The codecs of the running `SessionModule`s: what `SessionEntity.getDecoded()` uses when it is
 * given none (Django's `get_decoded()` takes no argument either; its secret comes from settings),
 * as long as they all read alike. Two apps in one process with different secrets: the caller says
 * which (never one app's row decoded with the other's secret).
 */
const runningCodecs: SessionCodec[] = [];

/** @internal Called by `SessionModule` at start-up. */
export function setDefaultCodec(codec: SessionCodec): void {
  runningCodecs.push(codec);
}

/** @internal Called by `SessionModule` at shutdown: the app started before becomes the default again. */
export function releaseDefaultCodec(codec: SessionCodec): void {
  const index = runningCodecs.lastIndexOf(codec);
  if (index >= 0) runningCodecs.splice(index, 1);
}

/**
 * The codec of the running `SessionModule`s, if any runs; throws when several run that read
 * differently (another secret, salt or limit).
 */
export function defaultCodec(): SessionCodec | undefined {
  const [first, ...others] = runningCodecs;
  if (first !== undefined && others.some((codec) => !codec.sameAs(first))) {
    throw new Error(
      'SessionEntity.getDecoded(): several SessionModules are running in this process, with different secrets; pass the codec of the one the row belongs to: row.getDecoded(sessionService.codec)',
    );
  }
  return first;
}
