#!/usr/bin/env python3
"""The Django side of test/interop/auth.spec.ts: django.contrib.auth itself, on a SQLite file that
the Nest side opens too.

    /usr/bin/python3 test/interop/django_auth.py <sqlite file> <SECRET_KEY> <command> '<json args>'

Prints one JSON value. Commands:
  migrate                              creates the tables (auth, contenttypes, sessions)
  hashers                              the PASSWORD_HASHERS algorithms whose library is importable
  create_user {username, password, hasher?}   User.objects.create_user(); with `hasher`, the
                                       password is then made by that hasher -> {id, password}
  set_password {id, password}          user.set_password(); user.save() -> the new stored hash
  check_password {password, encoded}   django.contrib.auth.hashers.check_password() -> bool
  authenticate {username, password}    django.contrib.auth.authenticate() -> the user's id or null
  session_auth_hash {id}               user.get_session_auth_hash()
  login {id}                           login() on a new db session, saved -> its session key
  get_user {session_key}               get_user() on that session (as the middleware loads it) ->
                                       {id (null: anonymous), exists (the row, afterwards)}
"""
import json
import sys

import django
from django.conf import settings

database, secret_key, command = sys.argv[1:4]
args = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}

settings.configure(
    SECRET_KEY=secret_key,
    INSTALLED_APPS=['django.contrib.contenttypes', 'django.contrib.auth', 'django.contrib.sessions'],
    DATABASES={'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': database}},
    USE_TZ=True,
    # Django's defaults, spelled out: PASSWORD_HASHERS (3.2), the db engine, the JSON serializer.
    SESSION_ENGINE='django.contrib.sessions.backends.db',
)
django.setup()

from django.contrib.auth import authenticate, get_user, login  # noqa: E402
from django.contrib.auth.hashers import check_password, get_hashers, make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpRequest  # noqa: E402


def request_with(session):
    request = HttpRequest()
    request.session = session
    request.META['SERVER_NAME'] = '127.0.0.1'
    request.META['SERVER_PORT'] = '80'
    return request


def usable(hasher):
    try:
        hasher.encode('x', hasher.salt())
        return True
    except ValueError:  # "Couldn't load ... algorithm library"
        return False


if command == 'migrate':
    call_command('migrate', verbosity=0, interactive=False)
    result = True
elif command == 'hashers':
    result = [h.algorithm for h in get_hashers() if usable(h)]
elif command == 'create_user':
    user = User.objects.create_user(args['username'], password=args['password'])
    if args.get('hasher'):
        user.password = make_password(args['password'], hasher=args['hasher'])
        user.save()
    result = {'id': user.pk, 'password': user.password}
elif command == 'set_password':
    user = User.objects.get(pk=args['id'])
    user.set_password(args['password'])
    user.save()
    result = user.password
elif command == 'check_password':
    result = check_password(args['password'], args['encoded'])
elif command == 'authenticate':
    user = authenticate(username=args['username'], password=args['password'])
    result = user.pk if user is not None else None
elif command == 'session_auth_hash':
    result = User.objects.get(pk=args['id']).get_session_auth_hash()
elif command == 'login':
    request = request_with(SessionStore())
    login(request, User.objects.get(pk=args['id']), backend='django.contrib.auth.backends.ModelBackend')
    request.session.save()
    result = request.session.session_key
elif command == 'session':
    # What Django reads from the row: {} for data it cannot decode (the row is kept).
    result = SessionStore(args['session_key']).load()
elif command == 'get_user':
    session = SessionStore(args['session_key'])
    user = get_user(request_with(session))
    result = {'id': user.pk, 'exists': SessionStore().exists(args['session_key'])}
else:
    raise SystemExit('unknown command %r' % command)

print(json.dumps(result))
