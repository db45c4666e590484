import { Column, Entity, PrimaryGeneratedColumn, type MigrationInterface, type QueryRunner } from 'typeorm';
import type { DjangoVersion } from '../../src/index.js';
import { makeDjangoPassword } from '../../src/exports/auth.js';

/** The demo's one user: `ada`, password `lovelace` (stored as Django's `pbkdf2_sha256` hash). */
export const DEMO_USER = { username: 'ada', password: 'lovelace' } as const;

/**
 * A row of Django's `auth_user` (`django.contrib.auth.models.User`), as far as the demo reads it.
 * The table is Django's: no `synchronize` here, the migration below creates it with all of Django's columns.
 */
@Entity({ name: 'auth_user', synchronize: false })
export class DemoUser {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 150, unique: true })
  username!: string;

  /** Django's encoded hash (`pbkdf2_sha256$260000$salt$hash`), never the plain password. */
  @Column({ type: 'varchar', length: 128 })
  password!: string;

  @Column({ name: 'is_active', type: 'boolean' })
  isActive!: boolean;
}

/** The demo's `djangoVersion` (a provider), for its password checks. */
export const DEMO_DJANGO_VERSION = Symbol('DEMO_DJANGO_VERSION');

/**
 * Creates `auth_user` as Django 3.2's migrations leave it on sqlite (`manage.py migrate`, then
 * `.schema auth_user`), unless it is there already, and adds `ada` / `lovelace` with a password
 * hash made by the library's `makeDjangoPassword` (pbkdf2_sha256, Django's default), unless she is
 * there already. Django pointed at the demo's sqlite file reads this table as its own.
 */
export class CreateDemoAuthUser1700000000100 implements MigrationInterface {
  name = 'CreateDemoAuthUser1700000000100';
  /** The Django release whose PBKDF2 cost ada's password is made at (default the package's, 5.2). */
  protected readonly djangoVersion?: DjangoVersion;

  /** This migration, making ada's password for `djangoVersion` (so that Django keeps it as it is at her login there). */
  static for(djangoVersion: DjangoVersion | undefined): typeof CreateDemoAuthUser1700000000100 {
    return class extends CreateDemoAuthUser1700000000100 {
      protected override readonly djangoVersion = djangoVersion;
    };
  }

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE IF NOT EXISTS "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "password" varchar(128) NOT NULL, ' +
        '"last_login" datetime NULL, "is_superuser" bool NOT NULL, "username" varchar(150) NOT NULL UNIQUE, "last_name" varchar(150) NOT NULL, ' +
        '"email" varchar(254) NOT NULL, "is_staff" bool NOT NULL, "is_active" bool NOT NULL, "date_joined" datetime NOT NULL, "first_name" varchar(150) NOT NULL)',
    );
    const existing = (await queryRunner.query('SELECT id FROM auth_user WHERE username = ?', [DEMO_USER.username])) as unknown[];
    if (existing.length > 0) return;
    // Django's sqlite datetime text, in UTC (USE_TZ = True).
    const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
    await queryRunner.query(
      'INSERT INTO auth_user (password, last_login, is_superuser, username, last_name, email, is_staff, is_active, date_joined, first_name) ' +
        "VALUES (?, NULL, 0, ?, 'Lovelace', 'ada@example.com', 0, 1, ?, 'Ada')",
      [await makeDjangoPassword(DEMO_USER.password, { djangoVersion: this.djangoVersion }), DEMO_USER.username, now],
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS "auth_user"');
  }
}
