import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SessionCodec } from '../../codec/session-codec.js';
import { decodedMap, decodeLogged } from '../../codec/suspicious-session.js';
import { parseDjangoDate } from '../../django-dates.js';
import { CreateError, UpdateError } from '../../session.errors.js';
import { SessionConfigError } from '../../session-options.js';
import { SessionBackend, type EngineContext, type SessionExpiry, type SessionMap } from '../session-backend.js';

const EXPIRY_KEY = '_session_expiry';

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException)?.code === 'ENOENT';

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
  ) {
    super();
  }

  static fromContext({ options, codec }: EngineContext): FileSessionBackend {
    return new this(options.filePath, options.cookieName, codec, options.cookieAge);
  }

  /** Checks at start-up that the directory exists and can be written (Django: `ImproperlyConfigured`). */
  async onModuleInit(): Promise<void> {
    try {
      if (!(await stat(this.directory)).isDirectory()) throw new Error('not a directory');
      await access(this.directory, constants.W_OK | constants.R_OK | constants.X_OK);
    } catch (error) {
      const reason = isMissing(error) ? 'does not exist' : (error as Error).message === 'not a directory' ? 'is not a directory' : 'cannot be read and written by this process';
      throw new SessionConfigError(`SessionModule option "filePath" ${JSON.stringify(this.directory)} ${reason} (the "file" engine keeps one file per session there)`);
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

  /** The live session of `key`; an expired one is deleted (`swept`). */
  private async read(key: string): Promise<{ data: SessionMap | null; swept: boolean }> {
    const file = this.fileOf(key);
    let text: string;
    let modified: number;
    try {
      [text, modified] = await Promise.all([readFile(file, 'latin1'), stat(file).then((s) => s.mtimeMs)]);
    } catch (error) {
      if (isMissing(error)) return { data: null, swept: false };
      throw error;
    }
    // An empty file is an empty session under its key (Django: `if file_data:`).
    const data = text === '' ? new Map<string, unknown>() : decodedMap(decodeLogged(this.codec, text));
    if (this.expiresAt(data, modified) > Date.now()) return { data, swept: false };
    return { data: null, swept: await this.unlink(file) };
  }

  /**
   * When a session written at `modified` expires: at its `_session_expiry` date, or that many
   * seconds after the write; else `cookieAge` seconds after it. (Django's file engine reads an
   * integer `_session_expiry` as an age from *now*, so such a file never expires on its side; a
   * file that is stale here is deleted, which Django then reads as a logged-out session.)
   */
  private expiresAt(data: ReadonlyMap<string, unknown>, modified: number): number {
    const expiry = data.get(EXPIRY_KEY);
    if (typeof expiry === 'string') {
      const date = parseDjangoDate(expiry);
      if (date !== null) return date.getTime();
    }
    const seconds = typeof expiry === 'number' && expiry !== 0 ? expiry : this.cookieAgeSeconds;
    return modified + seconds * 1000;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await access(this.fileOf(key));
      return true;
    } catch {
      return false;
    }
  }

  async save(key: string, data: ReadonlyMap<string, unknown>, _expiry: SessionExpiry, mustCreate: boolean): Promise<string> {
    const file = this.fileOf(key);
    const sessionData = this.codec.encodeEntries(data);
    // Django: claim the name with O_CREAT|O_EXCL (CreateError when taken), or check it is still
    // there (UpdateError when a logout deleted it meanwhile), then write atomically.
    try {
      const handle = await open(file, mustCreate ? constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL : constants.O_WRONLY, 0o600);
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

  async delete(key: string): Promise<void> {
    await this.unlink(this.fileOf(key));
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
