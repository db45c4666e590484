import { Logger } from '@nestjs/common';
import { Column, Entity, Index, PrimaryColumn, type DataSource, type ValueTransformer } from 'typeorm';
import { dialectOf } from './backends/dialect.js';
import { parseDjangoDate, toDjangoUtcString } from './django-dates.js';
import type { DecodeResult, SessionCodec, SessionDict } from './codec/session-codec.js';

/** The codecs of the running `SessionModule`s, the most recently started last. */
const runningCodecs: SessionCodec[] = [];

/** @internal Called by `SessionModule` at start-up so `getDecoded()` needs no argument. */
export function setDefaultCodec(codec: SessionCodec): void {
  runningCodecs.push(codec);
}

/** @internal Called by `SessionModule` at shutdown: `getDecoded()` goes back to the app started before. */
export function releaseDefaultCodec(codec: SessionCodec): void {
  const index = runningCodecs.lastIndexOf(codec);
  if (index >= 0) runningCodecs.splice(index, 1);
}

// Named after Django's logger, so operators recognise the warning.
const securityLogger = new Logger('django.security.SuspiciousSession');

/** @internal `codec.decode()`, with Django's warning when the data does not verify. */
export function decodeLogged(codec: SessionCodec, sessionData: string): DecodeResult {
  const result = codec.decode(sessionData);
  if (result.status === 'bad-signature') securityLogger.warn('Session data corrupted');
  return result;
}

/**
 * sqlite stores `expire_date` as Django's UTC text `YYYY-MM-DD HH:MM:SS[.ffffff]`, but TypeORM's
 * sqlite driver reads text with a 6-digit fraction as *local* time (its `datetime` hydration adds
 * `Z` only to 3-digit fractions), before any transformer runs. So on sqlite the column is switched
 * to plain text at start-up and converted here, both ways, in Django's form.
 */
const djangoUtcText: ValueTransformer = {
  to: (value: unknown) => (value instanceof Date ? toDjangoUtcString(value) : value),
  from: (value: unknown) => (typeof value === 'string' ? (parseDjangoDate(value) ?? new Date(value)) : value),
};

/**
 * Makes `SessionEntity.expireDate` exact on sqlite whatever the process's time zone (see
 * `djangoUtcText`); does nothing on other databases. `SessionModule` calls it at start-up for its
 * DataSource; call it yourself after `initialize()` for a DataSource used outside a Nest app.
 */
export function useDjangoDateText(dataSource: DataSource): void {
  if (dialectOf(dataSource) !== 'sqlite' || !dataSource.hasMetadata(SessionEntity)) return;
  const column = dataSource.getMetadata(SessionEntity).findColumnWithPropertyName('expireDate');
  if (column === undefined) return;
  column.type = 'varchar';
  column.transformer = djangoUtcText;
}

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
  @Column({ name: 'expire_date' })
  expireDate!: Date;

  /**
   * The session's dictionary (Django's `get_decoded()`): `{}` (and a logged warning) when the
   * signature does not verify. Uses the codec of the most recently started `SessionModule`, or the
   * one passed in (outside a Nest app: `new SessionCodec({ secretKey })`).
   */
  getDecoded(codec: SessionCodec | undefined = runningCodecs.at(-1)): SessionDict {
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
