import type { DataSource, ValueTransformer } from 'typeorm';
import { parseDjangoDate, toDjangoUtcString } from '../../django-dates.js';
import { dialectOf } from './dialect.js';
import { SessionEntity } from './session.entity.js';

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
