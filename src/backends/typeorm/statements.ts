import type { DataSource } from 'typeorm';
import { dialectOf } from './dialect.js';
import { SessionEntity } from './session.entity.js';

/** One SQL statement of the db engine, with bound parameters. */
export interface Statement {
  sql: string;
  /** For each bound parameter, in order, which argument it takes. */
  order: number[];
  /** Whether it answers rows (a SELECT) rather than a count of changed rows. */
  read: boolean;
}

export type StatementName = 'load' | 'exists' | 'insert' | 'update' | 'touch' | 'delete' | 'clearExpired';

/**
 * Rows `clearExpired()` deletes per statement. Between batches the sweep yields, so on a table with
 * a million expired rows a live app's session queries wait for one batch, not for the whole sweep.
 */
export const SWEEP_BATCH_ROWS = 1000;

/**
 * The SQL Django's db backend runs, built once per DataSource by TypeORM's query builder (quoting
 * and placeholders per driver) with marker values as parameters, recording where each marker
 * landed: the driver decides placeholder style and order. Throws when the DataSource does not
 * know `SessionEntity`, so a missing entity fails the boot, not a request.
 */
/**
 * One batch of the expired-row sweep: at most `SWEEP_BATCH_ROWS` rows. MySQL/MariaDB take a LIMIT
 * on DELETE itself (and refuse one in an IN subquery); the others delete by the keys of a limited
 * SELECT, which the `expire_date` index serves.
 */
function sweepBatch(dataSource: DataSource, now: string): [string, unknown[]] {
  const repo = dataSource.getRepository(SessionEntity);
  if (dialectOf(dataSource) === 'mysql') {
    const [sql, params] = repo.createQueryBuilder().delete().where('expire_date < :now', { now }).getQueryAndParameters();
    return [`${sql} LIMIT ${SWEEP_BATCH_ROWS}`, params];
  }
  const [select, params] = repo
    .createQueryBuilder('s')
    .select('s.sessionKey')
    .where('s.expireDate < :now', { now })
    .limit(SWEEP_BATCH_ROWS)
    .getQueryAndParameters();
  const { driver } = dataSource;
  return [`DELETE FROM ${driver.escape(repo.metadata.tableName)} WHERE ${driver.escape('session_key')} IN (${select})`, params];
}

export function buildStatements(dataSource: DataSource, timeoutMs?: number): Record<StatementName, Statement> {
  if (!dataSource.hasMetadata(SessionEntity)) {
    throw new Error(
      'nestjs-django-session: SessionEntity is not registered with the DataSource. Add it to `entities` ' +
        '(or use autoLoadEntities with TypeOrmModule.forFeature([SessionEntity])).',
    );
  }
  const repo = dataSource.getRepository(SessionEntity);
  const markers = ['\u0000arg0', '\u0000arg1', '\u0000arg2'];
  const build = ([sql, params]: [string, unknown[]], read = false): Statement => ({
    sql,
    read,
    order: params.map((p) => {
      const index = markers.indexOf(p as string);
      if (index < 0) throw new Error(`nestjs-django-session: unexpected parameter in ${sql}`);
      return index;
    }),
  });
  const [a0, a1, a2] = markers;
  const statements = {
    load: build(
      repo
        .createQueryBuilder('s')
        .select('s.sessionData', 'data')
        .addSelect('s.expireDate', 'expire')
        .where('s.sessionKey = :key', { key: a0 })
        .andWhere('s.expireDate > :now', { now: a1 })
        .getQueryAndParameters(),
      true,
    ),
    exists: build(
      repo.createQueryBuilder('s').select('1', 'found').where('s.sessionKey = :key', { key: a0 }).limit(1).getQueryAndParameters(),
      true,
    ),
    insert: build(
      repo
        .createQueryBuilder()
        .insert()
        .values({ sessionKey: () => ':key', sessionData: () => ':data', expireDate: () => ':expire' })
        .setParameters({ key: a0, data: a1, expire: a2 })
        .updateEntity(false)
        .getQueryAndParameters(),
    ),
    update: build(
      repo
        .createQueryBuilder()
        .update()
        .set({ sessionData: () => ':data', expireDate: () => ':expire' })
        .where('session_key = :key')
        .setParameters({ data: a0, expire: a1, key: a2 })
        .updateEntity(false)
        .getQueryAndParameters(),
    ),
    // touchAfter: the expiry alone, the session's data left as it is.
    touch: build(
      repo
        .createQueryBuilder()
        .update()
        .set({ expireDate: () => ':expire' })
        .where('session_key = :key')
        .setParameters({ expire: a0, key: a1 })
        .updateEntity(false)
        .getQueryAndParameters(),
    ),
    delete: build(repo.createQueryBuilder().delete().where('session_key = :key', { key: a0 }).getQueryAndParameters()),
    clearExpired: build(sweepBatch(dataSource, a0!)),
  };
  // MariaDB bounds a statement (lock waits included) by itself, so a stuck one frees its connection.
  if (timeoutMs !== undefined && dataSource.options.type === 'mariadb') {
    const prefix = `SET STATEMENT max_statement_time=${(timeoutMs / 1000).toFixed(3)} FOR `;
    for (const statement of Object.values(statements)) statement.sql = prefix + statement.sql;
  }
  return statements;
}
