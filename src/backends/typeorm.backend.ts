import type { DataSource, QueryRunner } from 'typeorm';
import { toDjangoUtcString } from '../django-dates.js';
import { dialectOf, type Dialect } from './dialect.js';
import { SessionEntity } from '../session.entity.js';
import { CreateError, UpdateError } from '../session.errors.js';
import type { SessionBackend } from './session-backend.interface.js';

interface Statement {
  sql: string;
  /** For each bound parameter, in order, which argument it takes. */
  order: number[];
}

/**
 * Stores sessions in Django's `django_session` table through a TypeORM DataSource, with the same
 * SQL Django's db backend runs, so either side reads and writes what the other does.
 *
 * The statements are built once by TypeORM's query builder (quoting and placeholders per driver)
 * and then run with bound parameters: a request costs one SELECT to read, one write to save.
 */
export class TypeOrmSessionBackend implements SessionBackend {
  private readonly dialect: Dialect;
  private statements?: {
    load: Statement;
    exists: Statement;
    insert: Statement;
    update: Statement;
    delete: Statement;
    clearExpired: Statement;
  };

  constructor(private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  /** A date as a bound parameter for `expire_date` on this database. */
  private dateParam(date: Date): Date | string {
    return this.dialect === 'sqlite' || this.dialect === 'mysql' ? toDjangoUtcString(date) : date;
  }

  async load(sessionKey: string): Promise<string | null> {
    const rows = (await this.run('load', [sessionKey, this.dateParam(new Date())])).records;
    const row = rows[0] as { data?: unknown } | undefined;
    return row === undefined ? null : String(row.data);
  }

  async exists(sessionKey: string): Promise<boolean> {
    return (await this.run('exists', [sessionKey])).records.length > 0;
  }

  async save(sessionKey: string, sessionData: string, expireDate: Date, mustCreate: boolean): Promise<void> {
    if (mustCreate) {
      try {
        await this.run('insert', [sessionKey, sessionData, this.dateParam(expireDate)]);
      } catch (error) {
        if (isUniqueViolation(error)) throw new CreateError(`session key ${sessionKey} is taken`);
        throw error;
      }
      return;
    }
    const { affected } = await this.run('update', [sessionData, this.dateParam(expireDate), sessionKey]);
    // MySQL reports rows *changed*, not matched (Django sets CLIENT.FOUND_ROWS for this): an UPDATE
    // that wrote identical values says 0, so confirm before calling the session gone.
    if (!affected && !(await this.exists(sessionKey))) {
      throw new UpdateError(`session ${sessionKey} no longer exists`);
    }
  }

  async delete(sessionKey: string): Promise<void> {
    await this.run('delete', [sessionKey]);
  }

  async clearExpired(): Promise<number> {
    return (await this.run('clearExpired', [this.dateParam(new Date())])).affected ?? 0;
  }

  private async run(name: keyof NonNullable<TypeOrmSessionBackend['statements']>, args: unknown[]) {
    const statement = this.prepare()[name];
    const params = statement.order.map((i) => args[i]);
    const runner: QueryRunner = this.dataSource.createQueryRunner();
    try {
      const result = await runner.query(statement.sql, params, true);
      return { records: (result.records ?? []) as unknown[], affected: result.affected as number | undefined };
    } finally {
      await runner.release();
    }
  }

  /**
   * Builds each statement with TypeORM's query builder, with marker values as parameters, and
   * records where each marker landed: the driver decides placeholder style and order.
   */
  /** Builds the statements (at start-up, so a missing entity fails the boot, not a request). */
  prepare() {
    return (this.statements ??= this.build());
  }

  private build() {
    if (!this.dataSource.hasMetadata(SessionEntity)) {
      throw new Error(
        'nestjs-django-session: SessionEntity is not registered with the DataSource. Add it to `entities` ' +
          '(or use autoLoadEntities with TypeOrmModule.forFeature([SessionEntity])).',
      );
    }
    const repo = this.dataSource.getRepository(SessionEntity);
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
      clearExpired: build(
        repo.createQueryBuilder().delete().where('expire_date < :now', { now: a0 }).getQueryAndParameters(),
      ),
    };
  }
}

/** A duplicate primary key, in the words of each driver. */
function isUniqueViolation(error: unknown): boolean {
  const driverError = (error as { driverError?: Record<string, unknown> })?.driverError ?? (error as Record<string, unknown>);
  const code = String(driverError?.code ?? '');
  return (
    code === '23505' || // PostgreSQL unique_violation
    code === 'ER_DUP_ENTRY' || // MySQL / MariaDB
    code.startsWith('SQLITE_CONSTRAINT') || // sqlite3 and better-sqlite3
    /UNIQUE constraint failed|duplicate key/i.test(String((driverError as { message?: unknown })?.message ?? ''))
  );
}
