#!/usr/bin/python3
"""
Run by bench/django/server.js before gunicorn starts: checks the prerequisites (exit 3 with one line
on stderr when one is missing) and makes sure django_session exists, created by Django's own
migration `sessions.0001_initial`:
  * no table: the sessions app's migration record (if a previous run left one behind a dropped
    table) is removed and `migrate sessions` creates it;
  * a table there already (created by our module's migration, the same schema): `migrate sessions
    --fake-initial` only records it.
Prints one JSON line: {"django": version, "created": bool}.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
INSTALL = "install it with: sh bench/django/setup.sh (Debian: apt-get install -y python3-django python3-psycopg2 gunicorn)"


def missing(what):
    sys.stderr.write("bench django: %s is missing; %s\n" % (what, INSTALL))
    sys.exit(3)


try:
    import django
except ImportError:
    missing("Django (python3-django)")
if django.VERSION[:2] != (3, 2):
    sys.stderr.write("bench django: warning: Django %s, the bench is written for 3.2\n" % django.get_version())
try:
    import gunicorn  # noqa: F401
except ImportError:
    missing("gunicorn")
if os.environ.get("BENCH_DB") == "postgres":
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        missing("psycopg2 (python3-psycopg2)")

sys.path.insert(0, HERE)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.migrations.recorder import MigrationRecorder  # noqa: E402

exists = "django_session" in connection.introspection.table_names()
if not exists:
    recorder = MigrationRecorder(connection)
    if recorder.has_table():
        recorder.migration_qs.filter(app="sessions").delete()
call_command("migrate", "sessions", fake_initial=True, verbosity=0, interactive=False)
print(json.dumps({"django": django.get_version(), "created": not exists}), flush=True)
