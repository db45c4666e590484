#!/usr/bin/env python3
"""Runs the corpus that test/interop/property-corpus.spec.ts generates through the real Django and
django-redis, in one process, and reports what they make of it. The spec draws the comparisons.

    <the spec's JSON> | /usr/bin/python3 test/interop/check_corpus.py > results.json

Needs Django (3.2, 5.2 or 6.x: the TEST_DJANGO*_PYTHON of test/interop/setup.sh) and django-redis importable.

Values travel in a canonical form that JSON can carry without loss, key order included:
    None, bool, str, float      themselves (a str may hold lone surrogates: \\udxxx escapes)
    int                         a JSON number, or {"int": "<decimal>"} beyond 2**53
    list / tuple                {"l": [...]} / {"tuple": [...]}
    dict                        {"d": [[key, value], ...]}
    datetime.datetime           {"datetime": isoformat(), "tz": "naive" | "utc" | "offset", ...};
                                in the input, an aware UTC datetime with tzinfo datetime.timezone.utc
                                (what the pickle writer writes: Django 3.2 and pytz-less 4+ read it)

Input (stdin, UTF-8 JSON):
    secret                      SECRET_KEY
    sessions: [{ts, db, cookie}]
        db      session_data our SessionCodec wrote (salt django.contrib.sessions.SessionStore)
        cookie  a signed_cookies session key our engine wrote
        ts      the unix time both were signed at: Django's clock is frozen there
    pickles / jsons: [{b64, value}]
        what our CACHE_SERIALIZERS.pickle / .json dumped for `value` (canonical form)
    datetime_pickles: [b64]     pickles holding datetime-shaped values, for PickleSerializer.loads
                                (the spec sends only harmless globals: datetime.*, pytz._UTC,
                                _codecs.encode)
    cookie_headers: [str]       Cookie headers, for django.http.cookie.parse_cookie

Output (stdout, ASCII JSON), one entry per input entry:
    sessions: {db_decoded, db_reencoded, db_json, db_zlib_len, cookie_loaded, cookie_reencoded}
        db_decoded      SessionStore().decode(db)
        db_reencoded    SessionStore().encode(db_decoded), clock frozen at ts
        db_json         json.dumps(db_decoded, separators=(',', ':')): the JSON Django signs
        db_zlib_len     len(zlib.compress(db_json)): Django compresses when < len(db_json) - 1
        cookie_loaded   signed_cookies SessionStore(session_key=cookie).load()
        cookie_reencoded  that store's _get_session_key() (signing.dumps(compress=True)) of it
    pickles / jsons: {loaded, redumped, dumped}
        loaded          the django-redis serializer's loads(bytes)
        redumped        its dumps(loaded), base64
        dumped          its dumps(value built from the canonical form), base64
    datetime_pickles: PickleSerializer.loads(bytes)
    cookie_headers: parse_cookie(header).get('sessionid') (null when absent)
A failure is reported as {"error": "<repr>"} in place of the value.
"""
import base64
import datetime
import json
import sys
from unittest import mock
import zlib

import django
from django.conf import settings


class Failed:
    """What `attempt` returns when the call raised: reported as {"error": repr}."""

    def __init__(self, e):
        self.repr = repr(e)


def canon(v):
    if isinstance(v, Failed):
        return {'error': v.repr}
    if v is None or isinstance(v, (bool, str, float)):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2 ** 53 else {'int': str(v)}
    if isinstance(v, list):
        return {'l': [canon(x) for x in v]}
    if isinstance(v, tuple):
        return {'tuple': [canon(x) for x in v]}
    if isinstance(v, dict):
        return {'d': [[k, canon(x)] for k, x in v.items()]}
    if isinstance(v, datetime.datetime):
        offset = v.utcoffset()
        tz = 'naive' if offset is None else 'utc' if offset == datetime.timedelta(0) else 'offset'
        return {'datetime': v.isoformat(), 'tz': tz, 'tzinfo': type(v.tzinfo).__name__, 'fold': v.fold}
    return {'error': 'unexpected type %s' % type(v).__name__}


def from_canon(c):
    if isinstance(c, dict):
        if 'd' in c:
            return {k: from_canon(x) for k, x in c['d']}
        if 'l' in c:
            return [from_canon(x) for x in c['l']]
        if 'int' in c:
            return int(c['int'])
        if 'datetime' in c:
            # The datetime our pickle writer writes for a top-level _session_expiry isoformat
            # string: aware, tzinfo datetime.timezone.utc (no pytz, which pip installs of Django
            # >= 4.0 lack; Django 3.2, whose own is pytz.utc, reads it too).
            return datetime.datetime.fromisoformat(c['datetime']).replace(tzinfo=datetime.timezone.utc)
        raise ValueError('unknown canonical form %r' % (c,))
    return c


def attempt(f):
    try:
        return f()
    except Exception as e:  # noqa: BLE001 - reported, the spec decides
        return Failed(e)


def main():
    request = json.loads(sys.stdin.buffer.read().decode('utf-8'))
    settings.configure(
        SECRET_KEY=request['secret'],
        INSTALLED_APPS=['django.contrib.sessions'],
        DATABASES={'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}},
        USE_TZ=True,
    )
    django.setup()

    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieStore
    from django.http.cookie import parse_cookie
    from django_redis.serializers.json import JSONSerializer
    from django_redis.serializers.pickle import PickleSerializer

    b64 = lambda b: base64.b64encode(b).decode('ascii')  # noqa: E731

    def session(item):
        out = {}
        # TimestampSigner.timestamp() is int(time.time()); signed_cookies' max_age check reads it too.
        with mock.patch('django.core.signing.time.time', return_value=item['ts']):
            decoded = SessionStore().decode(item['db'])
            out['db_decoded'] = canon(decoded)
            out['db_reencoded'] = canon(attempt(lambda: SessionStore().encode(decoded)))
            data = json.dumps(decoded, separators=(',', ':')).encode('latin-1')
            out['db_json'] = data.decode('latin-1')
            out['db_zlib_len'] = len(zlib.compress(data))

            store = CookieStore(session_key=item['cookie'])
            loaded = attempt(store.load)
            out['cookie_loaded'] = canon(loaded)
            if isinstance(loaded, Failed):
                return out
            again = CookieStore()
            again._session_cache = loaded
            out['cookie_reencoded'] = canon(attempt(again._get_session_key))
        return out

    def cache(serializer, item):
        data = base64.b64decode(item['b64'])
        loaded = attempt(lambda: serializer.loads(data))
        if isinstance(loaded, Failed):
            return {'loaded': canon(loaded)}
        return {
            'loaded': canon(loaded),
            'redumped': canon(attempt(lambda: b64(serializer.dumps(loaded)))),
            'dumped': canon(attempt(lambda: b64(serializer.dumps(from_canon(item['value']))))),
        }

    pickle_serializer = PickleSerializer(options={})
    json_serializer = JSONSerializer(options={})
    result = {
        'python': sys.version.split()[0],
        'django': django.get_version(),
        'sessions': [session(item) for item in request['sessions']],
        'pickles': [cache(pickle_serializer, item) for item in request['pickles']],
        'jsons': [cache(json_serializer, item) for item in request['jsons']],
        'datetime_pickles': [canon(attempt(lambda: pickle_serializer.loads(base64.b64decode(b)))) for b in request['datetime_pickles']],
        'cookie_headers': [parse_cookie(h).get('sessionid') for h in request['cookie_headers']],
    }
    sys.stdout.write(json.dumps(result))


if __name__ == '__main__':
    main()
