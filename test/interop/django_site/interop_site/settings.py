"""
Settings of the interop test project. Everything a test varies comes from the environment:

  INTEROP_DB_URL          sqlite:////abs/path.sqlite3 | postgres://user@host:port/db | mysql://user:pw@host:port/db
  INTEROP_SECRET_KEY      SECRET_KEY (the Nest side's `secretKey`)
  INTEROP_TIME_ZONE       TIME_ZONE (default America/Chicago); with USE_TZ=True storage is UTC anyway
  INTEROP_HASHING         DEFAULT_HASHING_ALGORITHM (Django 3.1/3.2): 'sha1' writes the pre-3.1 format
  INTEROP_SESSION_ENGINE  SESSION_ENGINE: db (default) | cache | cached_db | signed_cookies | file
                          (django.contrib.sessions.backends.<name>), or a dotted module path
  INTEROP_REDIS_URL       cache, cached_db: CACHES['default'] at this URL
  INTEROP_CACHE_BACKEND   its BACKEND: django_redis.cache.RedisCache (default) |
                          django.core.cache.backends.redis.RedisCache (Django 4.0+'s own; pickle only)
  INTEROP_CACHE_PREFIX    its KEY_PREFIX (default '')
  INTEROP_CACHE_SERIALIZER  django-redis: pickle (its default PickleSerializer) | json (its JSONSerializer)
  INTEROP_FILE_PATH       file: SESSION_FILE_PATH
"""
import os
from urllib.parse import unquote, urlsplit


def _database(url):
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "sqlite":
        # sqlite:////abs/path -> /abs/path
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path}
    common = {
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or ""),
    }
    if scheme in ("postgres", "postgresql"):
        return {"ENGINE": "django.db.backends.postgresql", **common}
    if scheme in ("mysql", "mariadb"):
        return {"ENGINE": "django.db.backends.mysql", **common}
    raise ValueError("INTEROP_DB_URL: unsupported scheme %r" % scheme)


SECRET_KEY = os.environ["INTEROP_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "interop_site",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Touches the session only when a view added or read messages (BaseStorage.update).
    "django.contrib.messages.middleware.MessageMiddleware",
]
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
ROOT_URLCONF = "interop_site.urls"
DATABASES = {"default": _database(os.environ["INTEROP_DB_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

USE_TZ = True
TIME_ZONE = os.environ.get("INTEROP_TIME_ZONE", "America/Chicago")

_engine = os.environ.get("INTEROP_SESSION_ENGINE") or "db"
SESSION_ENGINE = _engine if "." in _engine else "django.contrib.sessions.backends." + _engine
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"  # the default, stated

_SERIALIZERS = {
    "pickle": "django_redis.serializers.pickle.PickleSerializer",
    "json": "django_redis.serializers.json.JSONSerializer",
}
_CACHE_BACKEND = os.environ.get("INTEROP_CACHE_BACKEND") or "django_redis.cache.RedisCache"
if os.environ.get("INTEROP_REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": _CACHE_BACKEND,
            "LOCATION": os.environ["INTEROP_REDIS_URL"],
            "KEY_PREFIX": os.environ.get("INTEROP_CACHE_PREFIX", ""),
        }
    }
    if _CACHE_BACKEND == "django_redis.cache.RedisCache":
        CACHES["default"]["OPTIONS"] = {"SERIALIZER": _SERIALIZERS[os.environ.get("INTEROP_CACHE_SERIALIZER") or "pickle"]}
    elif (os.environ.get("INTEROP_CACHE_SERIALIZER") or "pickle") != "pickle":
        # Django's own RedisCache has one serializer, RedisSerializer (pickle.HIGHEST_PROTOCOL).
        raise ValueError("INTEROP_CACHE_SERIALIZER: %s has no JSON serializer" % _CACHE_BACKEND)

if os.environ.get("INTEROP_FILE_PATH"):
    SESSION_FILE_PATH = os.environ["INTEROP_FILE_PATH"]

if os.environ.get("INTEROP_HASHING"):
    DEFAULT_HASHING_ALGORITHM = os.environ["INTEROP_HASHING"]

# CSRF (test/interop/csrf.spec.ts): only csrf_views' views are @csrf_protect'ed (no CsrfViewMiddleware).
#   INTEROP_CSRF_USE_SESSIONS=1      CSRF_USE_SESSIONS
#   INTEROP_CSRF_TRUSTED_ORIGINS     CSRF_TRUSTED_ORIGINS, comma-separated
#   INTEROP_SECURE_PROXY=1           SECURE_PROXY_SSL_HEADER = X-Forwarded-Proto: https (request.is_secure())
CSRF_FAILURE_VIEW = "interop_site.csrf_views.csrf_failure"
CSRF_USE_SESSIONS = os.environ.get("INTEROP_CSRF_USE_SESSIONS") == "1"
if os.environ.get("INTEROP_CSRF_TRUSTED_ORIGINS"):
    CSRF_TRUSTED_ORIGINS = os.environ["INTEROP_CSRF_TRUSTED_ORIGINS"].split(",")
if os.environ.get("INTEROP_SECURE_PROXY") == "1":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# A fast hasher: the tests create users, they don't need bcrypt-grade cost.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.server": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
        "django.security": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}
