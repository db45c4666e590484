import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, lutimes, open, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionCodec } from '../../codec/session-codec.js';
import { DEFAULT_MAX_DECODED_BYTES } from '../../codec/python-json.js';
import { decodedMap, decodeLogged, reportSuspicious } from '../../codec/suspicious-session.js';
import { EXPIRY_KEY, sessionExpiry } from '../../django-dates.js';
import { CreateError, SessionConfigError, UpdateError } from '../../session.errors.js';
import type { EngineContext } from '../engine-context.js';
import { SessionBackend, type SessionExpiry, type SessionMap } from '../session-backend.js';
import { DEFAULT_BACKEND_TIMEOUT_SECONDS, withinBackendTimeout } from '../backend-timeout.js';

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException)?.code === 'ENOENT';

/**
 * How a session file is opened for reading: never through a symbolic link (ELOOP), and never
 * waiting on a FIFO or a device (O_NONBLOCK: opening a FIFO with no writer would otherwise hold
 * one of libuv's four threads for good; four such files would stall every file operation of the
 * process). O_NOFOLLOW and O_NONBLOCK are POSIX; on Windows they are 0 and the fstat check below
 * still refuses what is not a regular file.
 */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
/** The same for the write check of an existing file (a FIFO without a reader answers ENXIO at once). */
const UPDATE_FLAGS = constants.O_WRONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * The longest `session_data` whose JSON can be `maxDecodedBytes` long: base64 (4 characters per
 * 3 bytes) of the JSON and, in Django's pre-3.1 format, a 40-character hash and a colon before it;
 * plus the timestamp and signature. Anything longer would be refused by the codec anyway: a
 * longer file is refused unread.
 */
function maxSessionFileBytes(maxDecodedBytes: number): number {
  return Math.ceil((maxDecodedBytes + 41) / 3) * 4 + 128;
}

/** Why a file named like a session was not read (logged; the visitor gets a new session). */
type Refusal = 'not a regular file' | 'a symbolic link' | 'too large';

/** What one bounded read of a session file found. */
type FileRead = { text: string; modified: number } | { refused: Refusal; modified?: number } | null;

/**
 * Reads a session file without following a link or waiting on a FIFO, and only when `fstat` says
 * it is a regular file of at most `maxBytes` (then at most `maxBytes + 1` bytes are read, should
 * it grow meanwhile). Null when there is no such file.
 */
async function readBounded(file: string, maxBytes: number): Promise<FileRead> {
  let handle;
  try {
    handle = await open(file, READ_FLAGS);
  } catch (error) {
    if (isMissing(error)) return null;
    // O_NOFOLLOW on a symbolic link (ELOOP; EMLINK on some BSDs).
    const code = (error as NodeJS.ErrnoException)?.code;
    if (code === 'ELOOP' || code === 'EMLINK') return { refused: 'a symbolic link' };
    throw error;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return { refused: 'not a regular file' };
    if (stats.size > maxBytes) return { refused: 'too large', modified: stats.mtimeMs };
    const buffer = Buffer.allocUnsafe(Math.min(stats.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) {
        // It grew since fstat (only a foreign writer does that: this engine and Django replace a
        // file whole, by rename): refused past the bound, else what was read is decoded.
        if (length > maxBytes) return { refused: 'too large', modified: stats.mtimeMs };
        break;
      }
    }
    return { text: buffer.toString('latin1', 0, length), modified: stats.mtimeMs };
  } finally {
    await handle.close();
  }
}

/**
 * The `file` engine (Django's `django.contrib.sessions.backends.file`): one file per session,
 * `<filePath>/<cookieName><key>`, holding `session_data` exactly as the db engine stores it, so a
 * Nest process and a Django on one host can share the directory. A session expires at its
 * `_session_expiry` (seconds after the file's last write, or a date), else `cookieAge` seconds
 * after the last write; an expired file is deleted when read and by `clearExpired()`.
 *
 * Writes go to a temporary file in the same directory, renamed over the session's (atomic, as
 * Django does), created with mode 0600: the files are bearer credentials.
 */
export class FileSessionBackend extends SessionBackend {
  override readonly engineName: string = 'file';

  constructor(
    /** `SESSION_FILE_PATH`. */
    readonly directory: string,
    /** Each file's name is this prefix (the cookie name, as Django) and the key. */
    readonly prefix: string,
    private readonly codec: SessionCodec,
    private readonly cookieAgeSeconds: number,
    /**
     * `maxDecodedBytes` bounds the size of a file read (see `maxSessionFileBytes`, default for
     * 4 MiB); `backendTimeout` (seconds, default 3) how long one file operation may take before it
     * fails with `SessionBackendUnavailable` (503).
     */
    limits: { maxDecodedBytes?: number; backendTimeout?: number } = {},
  ) {
    super();
    this.maxFileBytes = maxSessionFileBytes(limits.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES);
    this.timeoutMs = Math.round((limits.backendTimeout ?? DEFAULT_BACKEND_TIMEOUT_SECONDS) * 1000);
  }

  /** The longest file read as a session; a longer one is refused unread. */
  readonly maxFileBytes: number;
  private readonly timeoutMs: number;

  static fromContext({ options, codec }: EngineContext): FileSessionBackend {
    const backend = new this(options.filePath, options.cookieName, codec, options.cookieAge, { maxDecodedBytes: options.maxDecodedBytes, backendTimeout: options.backendTimeout });
    backend.tracksStoredExpiry = options.touchAfter !== null;
    return backend;
  }

  /** Checks at start-up that the directory exists and can be written (Django: `ImproperlyConfigured`). */
  async onModuleInit(): Promise<void> {
    try {
      if (!(await stat(this.directory)).isDirectory()) throw new Error('not a directory');
      await access(this.directory, constants.W_OK | constants.R_OK | constants.X_OK);
    } catch (error) {
      const reason = isMissing(error) ? 'does not exist' : (error as Error).message === 'not a directory' ? 'is not a directory' : 'cannot be read and written by this process';
      // Not the path itself: configuration errors name the option, never its value (see resolveSessionOptions).
      throw new SessionConfigError(`SessionModule option "filePath" (a path of ${this.directory.length} characters) ${reason} (the "file" engine keeps one file per session there)`);
    }
  }

  private fileOf(key: string): string {
    // isValidKey() ran on every key from a request, so no key can climb out of the directory.
    if (!this.isValidKey(key)) throw new TypeError('invalid session key');
    return join(this.directory, this.prefix + key);
  }

  async load(key: string): Promise<SessionMap | null> {
    return (await this.read(key)).data;
  }

  /**
   * The live session of `key`; an expired one is deleted (`swept`). A file that is not a regular
   * file (a FIFO, a device, a directory, a symbolic link) or is longer than `maxFileBytes` is
   * refused unread, as data that does not verify: logged, and the visitor gets a new session
   * (under a new key: the file is left as it is). A refused regular file is swept once its
   * modification time is `cookieAge` old, as a session without data would be.
   */
  private async read(key: string): Promise<{ data: SessionMap | null; swept: boolean }> {
    const file = this.fileOf(key);
    const found = await this.withinTimeout('read', readBounded(file, this.maxFileBytes));
    if (found === null) return { data: null, swept: false };
    if ('refused' in found) {
      reportSuspicious(this, `Session data corrupted (the session file is ${found.refused === 'too large' ? `larger than ${this.maxFileBytes} bytes` : found.refused})`);
      if (found.modified === undefined || found.modified + this.cookieAgeSeconds * 1000 > Date.now()) return { data: null, swept: false };
      return { data: null, swept: await this.unlink(file) };
    }
    const { text, modified } = found;
    // An empty file is an empty session under its key (Django: `if file_data:`).
    const data = text === '' ? new Map<string, unknown>() : decodedMap(decodeLogged(this.codec, text));
    if (this.expiresAt(data, modified) > Date.now()) {
      // touchAfter: the modification time is when the expiry was last set (Django's _last_modification()).
      if (this.tracksStoredExpiry) SessionBackend.noteStoredExpiry(data, { writtenAt: modified });
      return { data, swept: false };
    }
    return { data: null, swept: await this.unlink(file) };
  }

  /**
   * `operation` within `backendTimeout`: a file system that does not answer (a hung network mount,
   * libuv's thread pool held by something else) makes the request answer 503 with `Retry-After`,
   * as a database or a Redis that does not answer. What the operation opened it closes.
   */
  private withinTimeout<T>(what: string, operation: Promise<T>): Promise<T> {
    return withinBackendTimeout(operation, this.timeoutMs, 'session directory', what);
  }

  /**
   * When a session written at `modified` expires: at its `_session_expiry` date, or that many
   * seconds after the write; else `cookieAge` seconds after it. (Django's file engine reads an
   * integer `_session_expiry` as an age from *now*, so such a file never expires on its side; a
   * file that is stale here is deleted, which Django then reads as a logged-out session.)
   */
  private expiresAt(data: ReadonlyMap<string, unknown>, modified: number): number {
    const { date, seconds } = sessionExpiry(data.get(EXPIRY_KEY), this.cookieAgeSeconds);
    return date ?? modified + seconds * 1000;
  }

  async exists(key: string): Promise<boolean> {
    const file = this.fileOf(key);
    return this.withinTimeout(
      'exists',
      access(file).then(
        () => true,
        () => false,
      ),
    );
  }

  async save(key: string, data: ReadonlyMap<string, unknown>, _expiry: SessionExpiry, mustCreate: boolean): Promise<string> {
    const file = this.fileOf(key);
    const sessionData = this.codec.encodeEntries(data);
    return this.withinTimeout('save', this.write(key, file, sessionData, mustCreate));
  }

  private async write(key: string, file: string, sessionData: string, mustCreate: boolean): Promise<string> {
    // Django: claim the name with O_CREAT|O_EXCL (CreateError when taken), or check it is still
    // there (UpdateError when a logout deleted it meanwhile), then write atomically.
    try {
      const handle = await open(file, mustCreate ? constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL : UPDATE_FLAGS, 0o600);
      await handle.close();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && mustCreate) throw new CreateError(`session key ${key} is taken`);
      if (code === 'ENOENT' && !mustCreate) throw new UpdateError(`session ${key} no longer exists`);
      throw error;
    }
    const temporary = `${file}_out_${randomBytes(6).toString('hex')}`;
    try {
      await writeFile(temporary, sessionData, { encoding: 'latin1', mode: 0o600, flag: 'wx' });
      await rename(temporary, file);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    return key;
  }

  /**
   * `touchAfter`: sets the file's modification time to now, its contents left as they are: the
   * time both this engine and Django's (`_last_modification()`) count a session's age from. Never
   * through a symbolic link (`lutimes`); `UpdateError` when the file is gone.
   */
  override async touch(key: string): Promise<string> {
    const file = this.fileOf(key);
    const now = new Date();
    try {
      await this.withinTimeout('touch', lutimes(file, now, now));
    } catch (error) {
      if (isMissing(error)) throw new UpdateError(`session ${key} no longer exists`);
      throw error;
    }
    return key;
  }

  async delete(key: string): Promise<void> {
    const file = this.fileOf(key);
    await this.withinTimeout('delete', this.unlink(file));
  }

  /** Deletes `file`; false when it was gone already. */
  private async unlink(file: string): Promise<boolean> {
    try {
      await unlink(file);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /** Django's `clear_expired()`: reads each session file of this prefix and deletes the expired ones. */
  async clearExpired(): Promise<number> {
    let count = 0;
    for (const name of await readdir(this.directory)) {
      if (!name.startsWith(this.prefix)) continue;
      const key = name.slice(this.prefix.length);
      // Skips other files, and temporary ones (`<name>_out_...`: '_' is no key character).
      if (!this.isValidKey(key)) continue;
      if ((await this.read(key)).swept) count++;
    }
    return count;
  }
}
