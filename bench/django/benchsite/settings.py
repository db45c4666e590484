"""
The Django side of the bench: the db session engine and three views, nothing else.

Environment (set by bench/django/server.js, the same as bench/server.js gets):
  BENCH_DB        sqlite | postgres
  BENCH_SQLITE    the sqlite file (sqlite)
  BENCH_PG_URL    postgres://user[:password]@host[:port]/db (postgres)
  BENCH_SYNC      PRAGMA synchronous on sqlite (default NORMAL)
  BENCH_PAD       N: /write also stores `pad` (see views.py)
  BENCH_CONN_MAX_AGE  CONN_MAX_AGE in seconds, or 'none' (default): persistent connections
"""
import os
import re
from urllib.parse import unquote, urlsplit

SECRET_KEY = "bench-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["django.contrib.sessions", "benchsite"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware"]
ROOT_URLCONF = "benchsite.urls"
WSGI_APPLICATION = "benchsite.wsgi.application"

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"

# UTC in the table, as our module writes and reads it.
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

_max_age = os.environ.get("BENCH_CONN_MAX_AGE", "none")
CONN_MAX_AGE = None if _max_age.lower() == "none" else int(_max_age)

SYNC = os.environ.get("BENCH_SYNC", "NORMAL").upper()
if not re.fullmatch(r"OFF|NORMAL|FULL|EXTRA", SYNC):
    raise ValueError("BENCH_SYNC must be OFF, NORMAL, FULL or EXTRA, got %r" % SYNC)


def _database():
    db = os.environ.get("BENCH_DB", "sqlite")
    if db == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["BENCH_SQLITE"],
            "OPTIONS": {"timeout": 5},
            "CONN_MAX_AGE": CONN_MAX_AGE,
        }
    if db == "postgres":
        url = urlsplit(os.environ["BENCH_PG_URL"])
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.path.lstrip("/"),
            "USER": unquote(url.username or ""),
            "PASSWORD": unquote(url.password or ""),
            "HOST": url.hostname or "127.0.0.1",
            "PORT": str(url.port or ""),
            "CONN_MAX_AGE": CONN_MAX_AGE,
        }
    raise ValueError("BENCH_DB must be sqlite or postgres, got %r" % db)


DATABASES = {"default": _database()}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "django.security": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}
