import { failOption } from '../../option-checks.js';

/**
 * The db engines' `dataSource` option (Django's `DATABASES` alias): the `name` given to
 * `TypeOrmModule.forRoot()`, or undefined for the default DataSource. Validated at boot.
 */
export function resolveDataSourceName(input: unknown): string | undefined {
  if (input !== undefined && (typeof input !== 'string' || input.length === 0)) {
    failOption('dataSource', 'must be the name of a TypeORM DataSource (a non-empty string)');
  }
  return input as string | undefined;
}
