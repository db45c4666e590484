"""
One-shot SessionStore operations, for what the HTTP server can't do with its settings:
sessions signed with another SECRET_KEY, in the pre-3.1 format (INTEROP_HASHING=sha1), or with a
Django 4.x/5.x-style date expiry.

  manage.py interop_session create --data '{"k": 1}' [--expiry 60] [--django5-expiry-date ISO]
  manage.py interop_session login --username alice [--data '{...}']
  manage.py interop_session read KEY

Prints one JSON object: {"key", "session_data", "expire_date", "data"} ("key" is the cookie
value: for signed_cookies the signed session itself; the row fields are null off the db engines).
"""
import json
from datetime import datetime
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create or read one session with Django's SessionStore and print it as JSON."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "login", "read"])
        parser.add_argument("key", nargs="?")
        parser.add_argument("--data", default="{}")
        parser.add_argument("--expiry", type=int)
        parser.add_argument("--django5-expiry-date")
        parser.add_argument("--username")

    def handle(self, *args, action, key, data, expiry, django5_expiry_date, username, **options):
        if django5_expiry_date:
            from interop_site.django5_store import SessionStore
        else:
            SessionStore = import_module(settings.SESSION_ENGINE).SessionStore

        if action == "read":
            store = SessionStore(session_key=key)
            self._print(key, dict(store.items()))
            return

        store = SessionStore()
        if action == "login":
            # What django.contrib.auth.login() writes, for a request-less store.
            user = User.objects.get(username=username)
            store[SESSION_KEY] = user._meta.pk.value_to_string(user)
            store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.update(json.loads(data))
        if expiry is not None:
            store.set_expiry(expiry)
        if django5_expiry_date:
            store.set_expiry(datetime.fromisoformat(django5_expiry_date))
        store.create()
        if store.session_key is None:
            # signed_cookies: create() only marks the session modified; save() signs the cookie value.
            store.save()
        self._print(store.session_key, dict(store.items()))

    def _print(self, key, data):
        row = Session.objects.filter(session_key=key).first()
        self.stdout.write(json.dumps({
            "key": key,
            "data": data,
            "session_data": row and row.session_data,
            "expire_date": row and row.expire_date.isoformat(),
        }))
