import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Creates `django_session` exactly as Django's own migration `sessions.0001_initial` does on
 * each database (`manage.py sqlmigrate sessions 0001`), index names included, so Django and this
 * module can share the table whichever side created it. If the table is already there (Django
 * migrated first), it is left as it is.
 */
export class CreateDjangoSession1700000000000 implements MigrationInterface {
  name = 'CreateDjangoSession1700000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (await queryRunner.hasTable('django_session')) return;
    const type = queryRunner.connection.options.type;
    if (type === 'postgres' || type === 'aurora-postgres' || type === 'cockroachdb') {
      await queryRunner.query(
        'CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL)',
      );
      await queryRunner.query(
        'CREATE INDEX "django_session_session_key_c0390e0f_like" ON "django_session" ("session_key" varchar_pattern_ops)',
      );
      await queryRunner.query('CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")');
    } else if (type === 'mysql' || type === 'mariadb' || type === 'aurora-mysql') {
      await queryRunner.query(
        'CREATE TABLE `django_session` (`session_key` varchar(40) NOT NULL PRIMARY KEY, `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL)',
      );
      await queryRunner.query('CREATE INDEX `django_session_expire_date_a5c62663` ON `django_session` (`expire_date`)');
    } else {
      // sqlite (sqlite3, better-sqlite3, sql.js, ...) and anything else that speaks this SQL.
      await queryRunner.query(
        'CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL)',
      );
      await queryRunner.query('CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date")');
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('django_session', true);
  }
}
