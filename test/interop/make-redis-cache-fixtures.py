#!/usr/bin/env python3
"""Writes test/fixtures/django-redis-cache/redis-serializer.json: known answers for the cache
engines with `cache.backend: 'django.core.cache.backends.redis.RedisCache'`, produced by Django's
own `django.core.cache.backends.redis.RedisSerializer` (Django 4.0+) and redis-py's encoder, i.e.
exactly the bytes Django's RedisCache sends in its SET.

    eval "$(bash test/interop/setup.sh 2>/dev/null)"
    "$TEST_DJANGO52_PYTHON" test/interop/make-redis-cache-fixtures.py

Needs Django >= 4.0 and redis-py (the Django 5.2 that setup.sh unpacks has both; no Redis server,
no settings). The output is deterministic; commit it. Tests read only the committed file.
Sibling of make-cache-serializer-fixtures.py (django-redis on Django 3.2), with the same tags:

  None, bool, str     themselves;  int: a JSON number;  float: {"float": "<repr>"}
  list / dict         {"list": [...]} / {"dict": [[key, value], ...]} (key order kept)
  generated           {"repeat": [str, n]} str * n, {"range": n} list(range(n)),
                      {"format": [prefix, n]} [prefix + str(i) for i in range(n)],
                      {"keyed": [prefix, n]} {prefix + str(i): i for i in range(n)}

Sections:
  sessions   session dicts (no str object shared but CPython's singletons), as a JS value can
             express them exactly: RedisSerializer().dumps(session) (pickle.HIGHEST_PROTOCOL, 5),
             base64, or sha256 + length past 16 KiB. `expiry_iso`: the session's top-level
             '_session_expiry' is a datetime with tzinfo datetime.timezone.utc (what Nest writes for
             an aware-UTC isoformat() string), read back as that string; `expiry_str`: it is the
             isoformat() str itself, as Django 4.1+'s set_expiry(datetime) stores it.
  ints       what RedisCache stores for a plain int: RedisSerializer().dumps(n) is n itself, which
             redis-py sends as repr(n); RedisSerializer().loads() reads those bytes back as n.
"""
import base64
import datetime
import hashlib
import json
import os
import pickle
import sys

import django
from django.core.cache.backends.redis import RedisSerializer
from redis.connection import Encoder
from fixture_json import Gen, build, tag, write_fixture  # noqa: E402  (test/interop/fixture_json.py)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'fixtures', 'django-redis-cache', 'redis-serializer.json')

SERIALIZER = RedisSerializer()
# What redis-py does with a value before sending it (RedisCache's client: decode_responses=False).
ENCODER = Encoder(encoding='utf-8', encoding_errors='strict', decode_responses=False)
INLINE_MAX = 16 * 1024



def fresh(s):
    # A new str object with the same value: source literals are interned and shared, and CPython
    # pickles a str object met twice as a memo reference, which a JS string cannot be.
    return (s + '.')[:-1]


ZOE = 'Zo\u00eb \u2014 \u65e5\u672c\u8a9e \U0001f600'
ISO = '2030-01-02T03:04:05.123456+00:00'
UTC_EXPIRY = datetime.datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone.utc)

SESSIONS = [
    ('empty', {}),
    ('django_auth', {
        '_auth_user_id': '42',
        '_auth_user_backend': 'django.contrib.auth.backends.ModelBackend',
        '_auth_user_hash': '3f786850e387550fdab836ed7e6dc881de23001b2ff0e8e3dc8b1e0d8b0ef5a4',
        '_session_expiry': 1209600,
    }),
    ('ints', {'zero': 0, 'k255': 255, 'k256': 256, 'k65536': 65536, 'neg1': -1, 'neg129': -129,
              'i32max_plus1': 2**31, 'i32min_minus1': -2**31 - 1, 'max_safe': 2**53 - 1, 'min_safe': -(2**53 - 1)}),
    ('floats', {'half': 1.5, 'tenth': 0.1, 'third': 1 / 3, 'e5': 1e-05, 'tiny': 5e-324, 'price': 9.99}),
    ('scalars', {'t': True, 'f': False, 'n': None, 'empty': ''}),
    ('unicode', {'zoe': ZOE, ZOE: 'non-ASCII key', 'controls': '\x00\x1f\x7f\x80\x9f\xa0',
                 'astral': '\U00010000\U0001f600\U0010ffff', 'lone_high': '\ud800', 'lone_mixed': 'a\udc00b\udbffc'}),
    ('nested', {
        'cart': {'items': [{'sku': 'A-1', 'qty': 2, 'price': 9.99}, {'sku': 'B-2', 'qty': 1, 'price': 0.5}], 'coupon': None},
        'matrix': [[1, 2], [3, [4, [5, []]]]],
        'empty_list': [], 'empty_dict': {}, 'list1': [1], 'dict1': {'k': 'v'},
        'mixed': [None, True, False, 0, -1, 1.5, 'str', [], {}],
    }),
    ('integer_like_keys', {'b': 1, '10': 2, '2': 3, 'a': 4, '0': 5, '-1': 7}),
    ('dict_1001', Gen('keyed', 'k', 1001)),
    ('frames_around_big_string', {'before': Gen('range', 30000), 'big': Gen('repeat', 'q', 65536),
                                  'after': Gen('format', 'a', 20000)}),
]


def pickled(data):
    value = ENCODER.encode(SERIALIZER.dumps(data))
    assert value[:2] == b'\x80\x05', value[:2]
    assert SERIALIZER.loads(value) == data
    return value


def bytes_entry(value):
    if len(value) <= INLINE_MAX:
        return {'value': base64.b64encode(value).decode('ascii')}
    return {'sha256': hashlib.sha256(value).hexdigest(), 'length': len(value)}


def sessions():
    out = []
    for id_, spec in SESSIONS:
        out.append({'id': id_, 'session': tag(spec), **bytes_entry(pickled(build(spec, fresh)))})
    for id_, expiry in (('expiry_iso', UTC_EXPIRY), ('expiry_str', fresh(ISO))):
        data = {fresh('_auth_user_id'): fresh('7'), fresh('_session_expiry'): expiry}
        out.append({'id': id_, 'session': {'dict': [['_auth_user_id', '7'], ['_session_expiry', ISO]]},
                    'expiry_is_datetime': isinstance(expiry, datetime.datetime), **bytes_entry(pickled(data))})
    return out


def ints():
    out = []
    for n in (0, 42, -7, 1209600):
        stored = SERIALIZER.dumps(n)
        assert stored == n and type(stored) is int
        value = ENCODER.encode(stored)
        assert SERIALIZER.loads(value) == n
        out.append([n, value.decode('ascii')])
    return out


def main():
    doc = {
        'python': sys.version.split()[0],
        'django': django.get_version(),
        'serializer': 'django.core.cache.backends.redis.RedisSerializer',
        'pickle_protocol': SERIALIZER.protocol,
        'sessions': sessions(),
        'ints': ints(),
    }
    write_fixture(OUT, doc)
    print(f'wrote {os.path.relpath(OUT)}: {len(doc["sessions"])} sessions, {len(doc["ints"])} ints', file=sys.stderr)


if __name__ == '__main__':
    main()
