import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { defaultCodec } from '../../codec/running-codecs.js';
import type { SessionCodec, SessionDict } from '../../codec/session-codec.js';
import { decodeLogged } from '../../codec/suspicious-session.js';

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

  /** `expire_date`: when the session expires (UTC). On sqlite see `useDjangoDateText()`. */
  @Index('django_session_expire_date_a5c62663')
  @Column({ name: 'expire_date' })
  expireDate!: Date;

  /**
   * The session's dictionary (Django's `get_decoded()`): `{}` (and a logged warning) when the
   * signature does not verify. Uses the codec passed in (`sessionService.codec`; outside a Nest
   * app `new SessionCodec({ secretKey })`), else the running `SessionModule`'s: with several
   * running, with different secrets, it throws rather than guess.
   */
  getDecoded(codec: SessionCodec | undefined = defaultCodec()): SessionDict {
    if (codec === undefined) {
      throw new Error('SessionEntity.getDecoded() needs SessionModule to be started, or a SessionCodec argument');
    }
    return decodeLogged(codec, this.sessionData).data;
  }

  /** The session key, as Django's `str(session)`. */
  toString(): string {
    return this.sessionKey;
  }
}
