#!/usr/bin/python3
"""
Django's cache session engine on django-redis (JSONSerializer) against bench/limit.js's redis store
(see its header): reads a session key and prints its dict, or with --write creates a session with
{"counter": 41} and prints its key. Needs python3-django-redis.
  /usr/bin/python3 bench/django/check-redis.py PREFIX KEY | --write PREFIX
"""
import json
import os
import sys

import django
from django.conf import settings

write = sys.argv[1] == "--write"
prefix = sys.argv[2] if write else sys.argv[1]
settings.configure(
    SECRET_KEY="bench-secret",
    INSTALLED_APPS=["django.contrib.sessions"],
    SESSION_ENGINE="django.contrib.sessions.backends.cache",
    CACHES={
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379"),
            "KEY_PREFIX": prefix,
            "OPTIONS": {"SERIALIZER": "django_redis.serializers.json.JSONSerializer"},
        }
    },
)
django.setup()
from django.contrib.sessions.backends.cache import SessionStore  # noqa: E402

if write:
    s = SessionStore()
    s["counter"] = 41
    s.save()
    print(s.session_key)
else:
    print(json.dumps(dict(SessionStore(session_key=sys.argv[2]).items())))
