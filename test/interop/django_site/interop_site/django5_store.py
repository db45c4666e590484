"""
Django 3.2's db SessionStore with the set_expiry(datetime) of Django 4.x/5.x (ticket #21514 era):
the date is kept in the session as `datetime.isoformat()` and parsed back when the expiry is read.
Django 3.2 itself cannot store a date with the JSONSerializer (TypeError at save), so this is how
the tests make the rows a current Django writes. The class is named SessionStore, so the signing
salt is still 'django.contrib.sessions.SessionStore'. Used only by `manage.py interop_session
create --django5-expiry-date`.
"""
from datetime import datetime, timedelta

from django.contrib.sessions.backends import db
from django.utils import timezone


class SessionStore(db.SessionStore):
    def set_expiry(self, value):
        if isinstance(value, timedelta):
            value = timezone.now() + value
        if isinstance(value, datetime):
            value = value.isoformat()
        super().set_expiry(value)

    # Django 5.2's get_expiry_age / get_expiry_date, verbatim but for the kwargs handling.
    def get_expiry_age(self, **kwargs):
        modification = kwargs.get("modification") or timezone.now()
        expiry = kwargs["expiry"] if "expiry" in kwargs else self.get("_session_expiry")
        if not expiry:
            return self.get_session_cookie_age()
        if not isinstance(expiry, (datetime, str)):
            return expiry
        if isinstance(expiry, str):
            expiry = datetime.fromisoformat(expiry)
        delta = expiry - modification
        return delta.days * 86400 + delta.seconds

    def get_expiry_date(self, **kwargs):
        modification = kwargs.get("modification") or timezone.now()
        expiry = kwargs["expiry"] if "expiry" in kwargs else self.get("_session_expiry")
        if isinstance(expiry, datetime):
            return expiry
        if isinstance(expiry, str):
            return datetime.fromisoformat(expiry)
        expiry = expiry or self.get_session_cookie_age()
        return modification + timedelta(seconds=expiry)
