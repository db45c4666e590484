import { Column, Entity, Index, PrimaryColumn, type ValueTransformer } from 'typeorm';
import type { SessionCodec, SessionDict } from './codec/session-codec.js';

let defaultCodec: SessionCodec | null = null;

/** @internal Called by `SessionModule` at start-up so `getDecoded()` needs no argument. */
export function setDefaultCodec(codec: SessionCodec | null): void {
  defaultCodec = codec;
}

// TypeORM's sqlite driver turns "YYYY-MM-DD HH:MM:SS.ffffff" (what Django writes) into a *local*
// time; strings that reach us are parsed as the UTC they are.
const utcDate: ValueTransformer = {
  to: (value: unknown) => value,
  from: (value: unknown) => {
    if (typeof value !== 'string') return value;
    const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?/.exec(value);
    if (m === null) return new Date(value);
    const [, y, mo, d, h, mi, s, frac = '0'] = m;
    return new Date(Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!, Math.floor(Number(`0.${frac}`) * 1000)));
  },
};

/**
 * One row of Django's `django_session` table (`django.contrib.sessions.models.Session`).
 * Use it through the normal TypeORM repository, as Django's `Session.objects`:
 *
 * @example
 * ```ts
 * const s = await dataSource.getRepository(SessionEntity).findOneByOrFail({ sessionKey: '2b1189a188b44ad18c35e113ac6ceead' });
 * s.expireDate;    // Date
 * s.getDecoded();  // { user_id: 42 }
 * ```
 *
 * The table is created by the shipped migration, never by `synchronize` (which would drop
 * Django's own indexes), hence `synchronize: false`.
 */
@Entity({ name: 'django_session', synchronize: false })
export class SessionEntity {
  /** `session_key`: 32 characters of `[a-z0-9]` (up to 40 accepted). */
  @PrimaryColumn({ name: 'session_key', type: 'varchar', length: 40, primaryKeyConstraintName: 'django_session_pkey' })
  sessionKey!: string;

  /** `session_data`: the signed, maybe compressed JSON of the session (see `getDecoded()`). */
  @Column({ name: 'session_data', type: 'text' })
  sessionData!: string;

  /** `expire_date`: when the session expires (UTC). */
  @Index('django_session_expire_date_a5c62663')
  @Column({ name: 'expire_date', transformer: utcDate })
  expireDate!: Date;

  /**
   * The session's dictionary (Django's `get_decoded()`): `{}` when the signature does not verify.
   * Uses the codec of the running `SessionModule`, or the one passed in.
   */
  getDecoded(codec: SessionCodec | null = defaultCodec): SessionDict {
    if (codec === null) {
      throw new Error('SessionEntity.getDecoded() needs SessionModule to be started, or a SessionCodec argument');
    }
    return codec.decode(this.sessionData).data;
  }

  /** The session key, as Django's `str(session)`. */
  toString(): string {
    return this.sessionKey;
  }
}
