import type { SessionCodec } from './session-codec.js';

/**
 * The codecs of the running `SessionModule`s, the most recently started last: what
 * `SessionEntity.getDecoded()` uses when it is given none (Django's `get_decoded()` takes no
 * argument either; its secret comes from settings).
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

/** The codec of the most recently started `SessionModule`, if any runs. */
export function defaultCodec(): SessionCodec | undefined {
  return runningCodecs.at(-1);
}
