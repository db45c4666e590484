import {
  CreateError,
  SessionBackend,
  UpdateError,
  type SessionExpiry,
  type SessionMap,
} from '../src/index.js'; // in an app: from 'nestjs-django-session'

/**
 * A whole engine: sessions in this process's memory (for tests and demos: they are gone when the
 * process ends, and other processes do not see them). `SessionModule.forRoot({ secretKey, engine:
 * MemorySessionBackend })`: Nest creates it, injecting what its constructor asks for (nothing here).
 */
export class MemorySessionBackend extends SessionBackend {
  override readonly engineName = 'memory';
  private readonly rows = new Map<string, { data: SessionMap; expires: number }>();

  /** The session's data, or null when there is none or it has expired. */
  async load(key: string): Promise<SessionMap | null> {
    const row = this.rows.get(key);
    return row !== undefined && row.expires > Date.now() ? copy(row.data) : null;
  }

  async exists(key: string): Promise<boolean> {
    return this.rows.has(key);
  }

  /** Creates (`mustCreate`: the key must be free) or updates (the session must still be there). */
  async save(key: string, data: ReadonlyMap<string, unknown>, expiry: SessionExpiry, mustCreate: boolean): Promise<string> {
    if (mustCreate && this.rows.has(key)) throw new CreateError(`session key ${key} is taken`);
    if (!mustCreate && !this.rows.has(key)) throw new UpdateError(`session ${key} no longer exists`);
    this.rows.set(key, { data: copy(data), expires: expiry.date.getTime() });
    return key;
  }

  async delete(key: string): Promise<void> {
    this.rows.delete(key);
  }

  /** `clearsessions`: deletes the expired sessions, and says how many. */
  async clearExpired(): Promise<number> {
    let deleted = 0;
    for (const [key, row] of this.rows) {
      if (row.expires <= Date.now() && this.rows.delete(key)) deleted++;
    }
    return deleted;
  }
}

/** A copy no later change to the session's values reaches (values are JSON-like). */
function copy(data: ReadonlyMap<string, unknown>): SessionMap {
  return new Map([...data].map(([key, value]) => [key, structuredClone(value)]));
}
