#!/usr/bin/env bash
# Prepares this machine for the interop suites (test/interop) and the backend contract suites
# (test/contract): a real Django 3.2 with its PostgreSQL and MySQL drivers and django-redis (Debian
# packages, used through /usr/bin/python3), Django 5.2 LTS and 6.x unpacked from the Debian archive
# into a cache folder (step 7), a running PostgreSQL, a running MariaDB and a running
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

# 7. Django 5.2 LTS and 6.x beside Debian's 3.2, for the same interop suites (TEST_DJANGO52_PYTHON,
# TEST_DJANGO6_PYTHON). They are Architecture: all Debian packages (Django 5.2 from
# trixie-backports, 6.x from experimental, the rest from trixie/sid), fetched with a private apt
# configuration (the system's sources are left alone) and unpacked with dpkg-deb under
# $DJANGO_CACHE/django-<version>/, which is reused when present. Each gets a `python` wrapper
# there that the suites run as they run /usr/bin/python3: it execs the interpreter with -S (no
# site-packages or dist-packages, so Debian's pytz is not importable, as in a pip install of a
# current Django) and a PYTHONPATH of exactly the unpacked packages. Skipped (with a message) when
# the archive cannot be reached or a version does not import; the suites then leave it out.
DJANGO_CACHE=${TEST_DJANGO_CACHE:-/var/cache/nestjs-django-session}
if ! mkdir -p "$DJANGO_CACHE" 2>/dev/null || [ ! -w "$DJANGO_CACHE" ]; then
  DJANGO_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/nestjs-django-session
  mkdir -p "$DJANGO_CACHE"
fi
APT_DIR=$DJANGO_CACHE/apt
APT_OPTS=(
  -o "Dir::Etc::SourceList=$APT_DIR/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache"
  -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
  -o APT::Architecture=amd64 -o Acquire::Languages=none -o APT::Sandbox::User=root
)
APT_READY=
private_apt_update() {
  [ -n "$APT_READY" ] && return 0
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg suite
  : >"$APT_DIR/sources.list"
  for suite in trixie trixie-backports sid experimental; do
    echo "deb [signed-by=$keyring] http://deb.debian.org/debian $suite main" >>"$APT_DIR/sources.list"
  done
  log "reading the Debian archive's trixie, trixie-backports, sid and experimental indexes (private apt state in $APT_DIR)"
  apt-get "${APT_OPTS[@]}" update >&2 && APT_READY=1
}

# Fails when pytz is importable through <wrapper>: a current Django installed with pip has none,
# and a pytz on the path would hide what Django >= 4 writes without it.
without_pytz() { ! "$1" -c 'import pytz' 2>/dev/null; }

# django_release <folder> <python> <extra PYTHONPATH entries (colon-separated) or ""> <package/suite>...
# Prints nothing; leaves <folder>/python, a wrapper that runs <python> on the unpacked packages.
django_release() {
  local dir=$1 python=$2 extra=$3
  shift 3
  # Refetched when the package list or the interpreter changes (.complete records both).
  if [ "$(cat "$dir/.complete" 2>/dev/null)" != "$python $*" ]; then
    private_apt_update || return 1
    rm -rf "$dir" && mkdir -p "$dir/debs"
    (cd "$dir/debs" && apt-get "${APT_OPTS[@]}" download "$@" >&2) || return 1
    local deb
    for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
    # Byte-compiled once here, as dpkg would on install: the suites run Python with
    # PYTHONDONTWRITEBYTECODE=1, and compiling Django on every start costs seconds per process.
    "$python" -S -m compileall -q -j 0 "$dir/root/usr/lib/python3/dist-packages" >&2 ||
      log "some of $(basename "$dir") did not byte-compile (it still runs, more slowly)"
    echo "$python $*" >"$dir/.complete"
  fi
  local path=$dir/root/usr/lib/python3/dist-packages${extra:+:$extra}
  cat >"$dir/python" <<WRAPPER
#!/bin/sh
# Written by test/interop/setup.sh: $(basename "$dir") unpacked from Debian packages ($*),
# on $python -S, so that only these packages are importable (no dist-packages, no pytz).
PYTHONPATH='$path' exec '$python' -S "\$@"
WRAPPER
  chmod +x "$dir/python"
}

# For 5.2 on /usr/bin/python3, the compiled database drivers of step 1 (bookworm's psycopg2 and
# mysqlclient 1.4.6; Django 5.2 accepts >= 1.4.3) and async_timeout (redis 6 needs it on Python
# 3.11.2), without the rest of dist-packages: one folder of symlinks.
BOOKWORM_DRIVERS=$DJANGO_CACHE/bookworm-drivers
mkdir -p "$BOOKWORM_DRIVERS"
for module in psycopg2 MySQLdb async_timeout; do
  ln -sfn "/usr/lib/python3/dist-packages/$module" "$BOOKWORM_DRIVERS/$module"
done

# Django 6.x needs Python >= 3.12 (bookworm's is 3.11): pyenv's, when there is one. Debian's
# compiled drivers cannot load there, so 6.x talks to PostgreSQL through psycopg 3 (pure Python
# over bookworm's libpq5) and to MariaDB through PyMySQL (pure Python) standing in for mysqlclient
# (Debian has mysqlclient 1.4.6 only; Django 6 requires 2.2.1): a MySQLdb shim in $PYMYSQL_SHIM.
PY6=${TEST_DJANGO6_INTERPRETER:-}
if [ -z "$PY6" ]; then
  for candidate in "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3 \
    /root/.pyenv/versions/3.13*/bin/python3 /root/.pyenv/versions/3.12*/bin/python3 \
    /usr/bin/python3.13 /usr/bin/python3.12 /usr/local/bin/python3.13 /usr/local/bin/python3.12; do
    if [ -x "$candidate" ]; then PY6=$candidate; break; fi
  done
fi
PYMYSQL_SHIM=$DJANGO_CACHE/pymysql-shim
mkdir -p "$PYMYSQL_SHIM/MySQLdb"
cat >"$PYMYSQL_SHIM/MySQLdb/__init__.py" <<'SHIM'
# Written by test/interop/setup.sh: PyMySQL in place of mysqlclient, for Django 6 on a Python that
# Debian's compiled mysqlclient cannot load in. PyMySQL reports mysqlclient 1.4.6 for
# compatibility; Django 6 refuses anything older than 2.2.1, which PyMySQL's API covers.
import pymysql

pymysql.version_info = (2, 2, 1, "final", 0)
pymysql.install_as_MySQLdb()
SHIM
"${PY6:-$PY}" -S -m compileall -q "$PYMYSQL_SHIM" >&2 || true

DJANGO52=
if django_release "$DJANGO_CACHE/django-5.2" "$PY" "$BOOKWORM_DRIVERS" \
  python3-django/trixie-backports python3-asgiref/trixie python3-sqlparse/trixie \
  python3-redis/trixie python3-django-redis/trixie; then
  if version=$("$DJANGO_CACHE/django-5.2/python" -c 'import django, psycopg2, MySQLdb, redis, django_redis; print(django.get_version())' 2>&1); then
    DJANGO52=$DJANGO_CACHE/django-5.2/python
    without_pytz "$DJANGO52" || log "warning: pytz is importable by Django 5.2 ($DJANGO52)"
    log "Django $version: $DJANGO52"
  else
    log "Django 5.2 does not import, leaving it out: $version"
  fi
else
  log "could not fetch Django 5.2 from the Debian archive, leaving it out"
fi

DJANGO6=
if [ -z "$PY6" ]; then
  log "no Python >= 3.12 found (set TEST_DJANGO6_INTERPRETER), leaving Django 6 out"
elif django_release "$DJANGO_CACHE/django-6" "$PY6" "$PYMYSQL_SHIM" \
  python3-django/experimental python3-asgiref/sid python3-sqlparse/trixie \
  python3-redis/trixie python3-django-redis/trixie python3-psycopg/trixie \
  python3-typing-extensions/trixie python3-pymysql/trixie; then
  if version=$("$DJANGO_CACHE/django-6/python" -c 'import django, psycopg, MySQLdb, redis, django_redis; print(django.get_version())' 2>&1); then
    DJANGO6=$DJANGO_CACHE/django-6/python
    without_pytz "$DJANGO6" || log "warning: pytz is importable by Django 6 ($DJANGO6)"
    log "Django $version on $("$PY6" -c 'import sys; print("Python", sys.version.split()[0])'): $DJANGO6"
  else
    log "Django 6 does not import, leaving it out: $version"
  fi
else
  log "could not fetch Django 6 from the Debian archive, leaving it out"
fi

echo "export TEST_DJANGO_PYTHON=$PY"
if [ -n "$DJANGO52" ]; then echo "export TEST_DJANGO52_PYTHON=$DJANGO52"; fi
if [ -n "$DJANGO6" ]; then echo "export TEST_DJANGO6_PYTHON=$DJANGO6"; fi
echo "export TEST_POSTGRES_URL=$PG_URL"
echo "export TEST_MYSQL_URL=$MY_URL"
echo "export TEST_REDIS_URL=$REDIS_URL"
echo "export TEST_CHROMIUM=/usr/bin/chromium"
