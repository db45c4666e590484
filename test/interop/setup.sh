#!/usr/bin/env bash
# Prepares this machine for the interop suites (test/interop) and the backend contract suites
# (test/contract): a real Django 3.2 with its PostgreSQL and MySQL drivers and django-redis (Debian
# packages, used through /usr/bin/python3), a running PostgreSQL, a running MariaDB and a running
# Redis (plus the redis-server binary, which the Redis fault, cluster and sentinel tests start on
# ports of their own). Idempotent: it installs and starts only what is missing. Prints the
# environment variables to export, e.g.
#   eval "$(test/interop/setup.sh)"
# Everything except the final `export` lines goes to stderr.
set -euo pipefail

PY=/usr/bin/python3
PG_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
MY_URL=${TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}
REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379}

log() { echo "[interop setup] $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do
    port_open "$1" && return 0
    sleep 0.5
  done
  log "nothing listens on 127.0.0.1:$1 after 30 s"
  return 1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Django, its database drivers and django-redis (5.2: Django's cache sessions on Redis), from Debian.
if ! "$PY" -c 'import django, psycopg2, MySQLdb, django_redis' 2>/dev/null; then
  log "installing python3-django python3-psycopg2 python3-mysqldb python3-django-redis"
  as_root apt-get update >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends \
    python3-django python3-psycopg2 python3-mysqldb python3-django-redis >&2
fi
log "$("$PY" -c 'import django; print("Django", django.get_version())')"

# 2. PostgreSQL.
if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      log "starting PostgreSQL $version"
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
    done
  fi
  wait_port 5432
fi

# 3. MariaDB.
if ! port_open 3306; then
  log "starting MariaDB"
  as_root mkdir -p /run/mysqld
  as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd >&2
  wait_port 3306
fi

# 4. Redis: the shared server on :6379 (suites keep to key prefixes of their own there), without
# persistence. redis-server is installed even when something else serves :6379, as the fault,
# cluster and sentinel tests start private servers with it (and use redis-cli, which comes with it).
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  log "installing redis-server"
  as_root apt-get update >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends redis-server >&2
fi
if ! port_open 6379; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
  wait_port 6379
fi

# 5. The `test` databases the URLs name (the suites create their own throwaway databases beside them).
if command -v psql >/dev/null 2>&1; then
  psql "${PG_URL%/*}/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null | grep -q 1 ||
    psql "${PG_URL%/*}/postgres" -c 'CREATE DATABASE test' >&2 || log "could not create PostgreSQL database test"
fi
if command -v mariadb >/dev/null 2>&1 || command -v mysql >/dev/null 2>&1; then
  "$(command -v mariadb || command -v mysql)" -h 127.0.0.1 -u root -e 'CREATE DATABASE IF NOT EXISTS test' >&2 ||
    log "could not create MariaDB database test"
fi

# 6. Chromium, which the browser suites (test/browser) drive through puppeteer-core (which
# downloads no browser).
if ! command -v chromium >/dev/null 2>&1; then
  log "installing chromium"
  as_root apt-get update >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y --no-install-recommends chromium >&2
fi

echo "export TEST_DJANGO_PYTHON=$PY"
echo "export TEST_POSTGRES_URL=$PG_URL"
echo "export TEST_MYSQL_URL=$MY_URL"
echo "export TEST_REDIS_URL=$REDIS_URL"
echo "export TEST_CHROMIUM=/usr/bin/chromium"
