import type { DataSource } from 'typeorm';
import { SessionEntity } from './session.entity.js';

/** One SQL statement of the db engine, with bound parameters. */
export interface Statement {
  sql: string;
  /** For each bound parameter, in order, which argument it takes. */
  order: number[];
}

export type StatementName = 'load' | 'exists' | 'insert' | 'update' | 'delete' | 'clearExpired';

/**
 * The SQL Django's db backend runs, built once per DataSource by TypeORM's query builder (quoting
 * and placeholders per driver) with marker values as parameters, recording where each marker
 * landed: the driver decides placeholder style and order. Throws when the DataSource does not
 * know `SessionEntity`, so a missing entity fails the boot, not a request.
 */
export function buildStatements(dataSource: DataSource): Record<StatementName, Statement> {
  if (!dataSource.hasMetadata(SessionEntity)) {
    throw new Error(
      'nestjs-django-session: SessionEntity is not registered with the DataSource. Add it to `entities` ' +
        '(or use autoLoadEntities with TypeOrmModule.forFeature([SessionEntity])).',
    );
  }
  const repo = dataSource.getRepository(SessionEntity);
  const markers = ['\u0000arg0', '\u0000arg1', '\u0000arg2'];
  const build = ([sql, params]: [string, unknown[]]): Statement => ({
    sql,
    order: params.map((p) => {
      const index = markers.indexOf(p as string);
      if (index < 0) throw new Error(`nestjs-django-session: unexpected parameter in ${sql}`);
      return index;
    }),
  });
  const [a0, a1, a2] = markers;
  return {
    load: build(
      repo
        .createQueryBuilder('s')
        .select('s.sessionData', 'data')
        .addSelect('s.expireDate', 'expire')
        .where('s.sessionKey = :key', { key: a0 })
        .andWhere('s.expireDate > :now', { now: a1 })
        .getQueryAndParameters(),
    ),
    exists: build(
      repo.createQueryBuilder('s').select('1', 'found').where('s.sessionKey = :key', { key: a0 }).limit(1).getQueryAndParameters(),
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
    delete: build(repo.createQueryBuilder().delete().where('session_key = :key', { key: a0 }).getQueryAndParameters()),
    clearExpired: build(repo.createQueryBuilder().delete().where('expire_date < :now', { now: a0 }).getQueryAndParameters()),
  };
}
