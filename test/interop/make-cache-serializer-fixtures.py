#!/usr/bin/env python3
"""Writes test/fixtures/django-redis/serializers.json: known answers for src/codec/pickle.ts and
src/codec/cache-serializers.ts, produced by django-redis's own serializers.

    /usr/bin/python3 test/interop/make-cache-serializer-fixtures.py

Needs Django 3.2, pytz and django-redis importable (Debian: python3-django, python3-tz,
python3-django-redis). The output is deterministic; commit it. Tests read only the committed file.

Values are "tagged" so that JSON can carry what matters, compactly:
  None, bool, str            themselves
  int                        a JSON number when |n| < 2**53, else {"int": "<decimal>"}
  float                      {"float": "<repr>"}
  list / tuple               {"list": [...]} / {"tuple": [...]}
  dict                       {"dict": [[key, value], ...]} (key order kept)
  generated (big values)     {"repeat": [str, n]} str * n, {"range": n} list(range(n)),
                             {"format": [prefix, n]} [prefix + str(i) for i in range(n)],
                             {"keyed": [prefix, n]} {prefix + str(i): i for i in range(n)},
                             {"rows": n} [{'id': i, 'name': f'row {i}', 'tags': ['a', 'bc', f't{i}'],
                                           'score': i + 0.5} for i in range(n)],
                             {"nest": n} n nested lists, [[...[]...]]

Sections (pickles and refused JSON are base64, JSON written by Python is text: it is ASCII):
  dumps    session dicts a JS value can express exactly (no tuples, ints exactly representable as
           doubles, non-integral floats, no str object shared except CPython's singletons '' and
           one latin-1 character): PickleSerializer and JSONSerializer output, to match byte for
           byte. Pickles past 16 KiB are given as sha256 + length + their FRAME opcodes (offset,
           length), and so is big JSON; the small ones also at protocols 0-3 and 5, to be read.
  shared   one dict holding the same list three times, to match CPython's BINGET for shared objects.
  loads    values a JS value cannot express (tuples, big ints, 1.0, NaN, shared str...): pickles at
           protocols 0-5 and JSON, with what Python reads back.
  datetimes  sessions whose top-level '_session_expiry' is a datetime.datetime, as Django 3.2's
           set_expiry(datetime | timedelta) leaves it (aware UTC, tzinfo pytz.utc), and also with
           datetime.timezone.utc, naive, microseconds 0 and not: pickles at protocols 0-5 (plus
           crafted spellings Python reads the same, e.g. BINBYTES), the session as the reader must
           return it ('_session_expiry' as isoformat()), and 'rewritten': what the writer must
           produce from that, i.e. PickleSerializer's bytes for the same session with the datetime
           as datetime.timezone.utc (read by Django 3.2 and by Django >= 4.0 without pytz) or,
           naive, as the isoformat() str.
  datetime_frames  one datetime.timezone.utc '_session_expiry' after a str padded so that the 64 KiB frame
           boundary falls at every point inside the datetime: [pad, length, sha256, frames].
  refused_pickles / refused_json   what the readers must refuse, with what Python does with it.
           'datetime_keys_too': refused even when reading datetimes under '_session_expiry'.
"""
import base64
import collections
import datetime
import decimal
import hashlib
import json
import math
import os
import pickle
import pickletools
import struct
import sys
import uuid

import pytz

import django_redis
from django_redis.serializers.json import JSONSerializer
from django_redis.serializers.pickle import PickleSerializer
from fixture_json import Gen, build, tag, write_fixture  # noqa: E402  (test/interop/fixture_json.py)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'fixtures', 'django-redis', 'serializers.json')

PICKLE = PickleSerializer(options={})
JSON = JSONSerializer(options={})

# A marker the os.system payload would create; the test checks that it never appears.
RCE_MARKER = '/tmp/nestjs-django-session-pickle-rce-marker'


def b64(data):
    return base64.b64encode(data).decode('ascii')



def fresh(s):
    # A new str object with the same value (CPython shares '' and one latin-1 character anyway).
    return (s + '.')[:-1]


def unshare(v):
    """A copy in which no str object occurs twice (source literals are interned and shared)."""
    if isinstance(v, str):
        return fresh(v)
    if isinstance(v, list):
        return [unshare(x) for x in v]
    if isinstance(v, dict):
        return {fresh(k): unshare(x) for k, x in v.items()}
    return v


def nested_lists(depth):
    """A session dict whose containers nest `depth` levels deep, the dict included."""
    return {'deep': Gen('nest', depth - 1)}


ZOE = 'Zo\u00eb \u2014 \u65e5\u672c\u8a9e \U0001f600'

DUMPS = [
    ('empty', {}),
    ('django_auth', {
        '_auth_user_id': '42',
        '_auth_user_backend': 'django.contrib.auth.backends.ModelBackend',
        '_auth_user_hash': '3f786850e387550fdab836ed7e6dc881de23001b2ff0e8e3dc8b1e0d8b0ef5a4',
        '_session_expiry': 1209600,
    }),
    ('ints', {
        'zero': 0, 'one': 1, 'k255': 255, 'k256': 256, 'k65535': 65535, 'k65536': 65536,
        'neg1': -1, 'neg128': -128, 'neg129': -129, 'neg256': -256, 'neg32768': -32768,
        'neg32769': -32769, 'i32max': 2**31 - 1, 'i32max_plus1': 2**31, 'i32min': -2**31,
        'i32min_minus1': -2**31 - 1, 'u32max': 2**32 - 1, 'p2_32': 2**32, 'p2_40_neg': -2**40,
        'max_safe': 2**53 - 1, 'min_safe': -(2**53 - 1), 'p2_53': 2**53, 'p2_63': 2**63,
        'neg_p2_63': -2**63, 'p2_64': 2**64, 'neg_p2_64': -2**64, 'p2_100': 2**100,
        'ten_20': 10**20, 'neg_p2_1023': -2**1023, 'max_double': int(sys.float_info.max),
        'neg_ff_edge': -0x8000000000, 'neg_7f_edge': -0x7fffffffff,
    }),
    ('floats', {
        'half': 1.5, 'neg_quarter': -0.25, 'tenth': 0.1, 'third': 1 / 3, 'pi': math.pi,
        'e4': 0.0001, 'e5': 1e-05, 'e7': 1.5e-07, 'tiny': 5e-324, 'min_normal': 2.2250738585072014e-308,
        'big_frac': 4503599627370495.5, 'neg_small': -1.2345e-10, 'mid': 123456.789,
        'price': 9.99, 'e16_frac': 1234567890123456.8,
    }),
    ('scalars', {'t': True, 'f': False, 'n': None, 'empty': ''}),
    ('unicode', {
        'zoe': ZOE,
        ZOE: 'non-ASCII key',
        'controls': '\x00\x01\x1f\x7f\x80\x9f\xa0',
        'escapes': '"\\/\n\r\t\b\f',
        'bmp': '\u0100\u07ff\u0800\ud7ff\ue000\ufeff\uffff',
        'astral': '\U00010000\U0001f600\U0010ffff',
        'lone_high': '\ud800',
        'lone_low': '\udfff',
        'lone_mixed': 'a\udc00b\udbffc',
        'backslash_u': '\\u0041 \\U0001F600',
    }),
    ('singletons', {'s': ['', '', 'a', 'a', '\u00e9', '\u00ff', '\u00ff', 'x', '\u0100']}),
    ('long_strings', {
        's255': 'x' * 255, 's256': 'x' * 256, 'ascii300': 'a' * 300, 'utf8_256': '\u00e9' * 128,
        's65535': Gen('repeat', 'y', 65535), 's65536': Gen('repeat', 'y', 65536),
        's70000': Gen('repeat', 'z', 70000), 'accents': Gen('repeat', '\u00e9', 33000),
    }),
    ('nested', {
        'cart': {'items': [{'sku': 'A-1', 'qty': 2, 'price': 9.99}, {'sku': 'B-2', 'qty': 1, 'price': 0.5}],
                 'coupon': None},
        'matrix': [[1, 2], [3, [4, [5, []]]]],
        'empty_list': [], 'empty_dict': {}, 'list1': [1], 'dict1': {'k': 'v'},
        'mixed': [None, True, False, 0, -1, 1.5, 'str', [], {}],
    }),
    ('integer_like_keys', {'b': 1, '10': 2, '2': 3, 'a': 4, '0': 5, '01': 6, '-1': 7,
                           '4294967294': 8, '4294967295': 9, '1.5': 10}),
    ('proto_keys', {
        '__proto__': {'polluted': 'yes'},
        'constructor': {'prototype': {'polluted': 'yes'}},
        'toString': 'x', 'hasOwnProperty': 1, 'nested': {'__proto__': [1]},
    }),
    ('dict_1', {'only': 1}),
    ('dict_999', Gen('keyed', 'k', 999)),
    ('dict_1000', Gen('keyed', 'k', 1000)),
    ('dict_1001', Gen('keyed', 'k', 1001)),
    ('dict_2000', Gen('keyed', 'k', 2000)),
    ('lists', {'l999': Gen('range', 999), 'l1000': Gen('range', 1000), 'l1001': Gen('range', 1001),
               'l2000': Gen('range', 2000), 'l2001': Gen('range', 2001)}),
    ('frames_ints', {'ints': Gen('range', 70000)}),
    ('frames_strings', {'strings': Gen('format', 'item-', 40000), 'tail': 'end'}),
    ('frames_around_big_string', {'before': Gen('range', 30000), 'big': Gen('repeat', 'q', 65536),
                                  'after': Gen('format', 'a', 20000)}),
    ('frames_nested', {'rows': Gen('rows', 3000)}),
    ('deep_500', nested_lists(500)),
    ('deep_1000', nested_lists(1000)),  # pickle only: past MAX_JSON_DEPTH (500)
]


def shared_case():
    shared = [1, 'x']
    return {'a': shared, 'b': shared, 'c': {'d': shared}}


def loads_only():
    """Values a JS value cannot express, read back from what Python writes."""
    shared_str = fresh('shared-string')
    shared_list = [1, fresh('in-list')]
    return [
        ('tuples', {'t0': (), 't1': (1,), 't2': (1, 'a'), 't3': (1, 2, 3), 't4': (1, 2, 3, 4),
                    'nested': ((1,), [(), {}])}),
        ('big_ints', {'p2_60_text': 2**60,'p2_64_plus1': 2**64 + 1, 'neg': -(2**64 + 1), 'ten_30_plus1': 10**30 + 1,
                      'p2_1100': 2**1100, 'neg_p2_1100': -2**1100, 'p2_53_plus1': 2**53 + 1}),
        ('integral_floats', {'one': 1.0, 'neg_zero': -0.0, 'big': 1e100, 'max': sys.float_info.max,
                             'p2_64': float(2**64)}),
        ('special_floats', {'inf': float('inf'), 'ninf': float('-inf'), 'nan': float('nan')}),
        ('shared_strings', {'a': shared_str, 'b': [shared_str, shared_str]}),
        ('shared_containers', {'a': shared_list, 'b': shared_list, 'c': {'d': shared_list}}),
        ('json_memoized_keys', json.loads('{"rows": [{"name": 1}, {"name": 2}, {"name": 3}]}')),
        ('python_surrogate_pair', {'pair': '\ud83d\ude00'}),
    ]


EXPIRY = '_session_expiry'
PARIS = pytz.timezone('Europe/Paris')


def django_set_expiry_session(when):
    """The session dict Django 3.2's own cache SessionStore holds after set_expiry(when)."""
    from django.conf import settings
    if not settings.configured:
        settings.configure(
            USE_TZ=True, SECRET_KEY='fixtures',
            CACHES={'default': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}},
            SESSION_ENGINE='django.contrib.sessions.backends.cache')
        import django
        django.setup()
    from django.contrib.sessions.backends.cache import SessionStore
    from django.utils import timezone
    # Django 3.2: timezone.utc is pytz.utc, and so is timezone.now()'s tzinfo.
    assert timezone.utc is pytz.utc and timezone.now().tzinfo is pytz.utc
    store = SessionStore()
    store['_auth_user_id'] = '42'
    store['x'] = 1
    store.set_expiry(when.replace(tzinfo=timezone.utc))
    assert type(store[EXPIRY]) is datetime.datetime and store[EXPIRY].tzinfo is pytz.utc
    return dict(store._session)


def with_frame_length(data):
    """`data` (one protocol 4 frame holding everything) with its FRAME length recomputed."""
    assert data[2] == 0x95
    return data[:3] + struct.pack('<Q', len(data) - 11) + data[11:]


def as_binbytes(data):
    """A protocol 4 pickle with its one SHORT_BINBYTES written as BINBYTES (Python reads it alike)."""
    ops = [(op.name, pos) for op, arg, pos in pickletools.genops(data)]
    (pos,) = [pos for name, pos in ops if name == 'SHORT_BINBYTES']
    n = data[pos + 1]
    return with_frame_length(data[:pos] + b'B' + struct.pack('<I', n) + data[pos + 2:])


def iso_session(session):
    return {k: (v.isoformat() if k == EXPIRY and isinstance(v, datetime.datetime) else v)
            for k, v in session.items()}


def rewritten(session):
    """What the writer must make of the session it read: aware datetimes as datetime.timezone.utc.

    Not pytz.utc: a pip install of Django >= 4.0 has no pytz, and its cache engine would fail to
    unpickle a reference to pytz._UTC (and drop the session); Django 3.2 reads timezone.utc too.
    """
    out = {}
    for k, v in session.items():
        if k == EXPIRY and isinstance(v, datetime.datetime):
            v = v.replace(tzinfo=datetime.timezone.utc) if v.tzinfo is not None else v.isoformat()
        out[fresh(k)] = v
    return out


def datetime_cases():
    dt = datetime.datetime
    auth = {'_auth_user_id': '42', '_auth_user_backend': 'django.contrib.auth.backends.ModelBackend'}
    return [
        ('django_set_expiry', django_set_expiry_session(dt(2030, 1, 2, 3, 4, 5, 123456))),
        ('pytz_utc_us', {**auth, EXPIRY: dt(2030, 1, 2, 3, 4, 5, 123456, tzinfo=pytz.utc)}),
        ('pytz_utc_no_us', {**auth, EXPIRY: dt(2030, 1, 2, 3, 4, 5, tzinfo=pytz.utc)}),
        ('pytz_utc_us_7', {EXPIRY: dt(2030, 12, 31, 23, 59, 59, 7, tzinfo=pytz.utc), 'x': 1}),
        ('pytz_utc_leap_day', {'x': [1, 'y'], EXPIRY: dt(2028, 2, 29, 23, 59, 59, 999999, tzinfo=pytz.utc)}),
        ('pytz_utc_year_5', {EXPIRY: dt(5, 1, 1, tzinfo=pytz.utc)}),
        ('pytz_utc_year_9999', {EXPIRY: dt(9999, 12, 31, 23, 59, 59, 999999, tzinfo=pytz.utc)}),
        ('timezone_utc_us', {**auth, EXPIRY: dt(2030, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone.utc)}),
        ('timezone_utc_no_us', {**auth, EXPIRY: dt(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)}),
        ('naive_us', {**auth, EXPIRY: dt(2030, 1, 2, 3, 4, 5, 123456)}),
        ('naive_no_us', {**auth, EXPIRY: dt(2030, 1, 2, 3, 4, 5)}),
    ]


def datetimes():
    entries = []
    for id_, session in datetime_cases():
        session = unshare(session) if id_ != 'django_set_expiry' else session
        protocols = {str(p): b64(pickle.dumps(session, p)) for p in range(6)}
        protocols['4-binbytes'] = b64(as_binbytes(pickle.dumps(session, 4)))
        for data in protocols.values():
            assert pickle.loads(base64.b64decode(data)) == session
        again = rewritten(session)
        entries.append({'id': id_, 'python_repr': repr(session[EXPIRY]), 'expected': tag(iso_session(session)),
                        'protocols': protocols, 'rewritten': b64(PICKLE.dumps(again)),
                        'rewritten_is_datetime': isinstance(again[EXPIRY], datetime.datetime)})
    return entries


def datetime_frames():
    """The frame boundary (64 KiB) at every save() inside a datetime.timezone.utc datetime."""
    when = datetime.datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone.utc)
    out = {'iso': when.isoformat(), 'pads': []}
    seen = set()
    for pad in range(65400, 65504):
        data = PICKLE.dumps({'pad': 'p' * pad, EXPIRY: when})
        assert pickle.loads(data)[EXPIRY] == when
        layout = tuple(map(tuple, frames(data)))
        seen.add(layout)
        out['pads'].append([pad, len(data), hashlib.sha256(data).hexdigest(), frames(data)])
    assert len(seen) > 10  # the second frame starts at many different points
    return out


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y


class Exploit:
    def __reduce__(self):
        return (os.system, (f'touch {RCE_MARKER}',))


def refused_pickles():
    cases = []

    def add(id_, data, why, python='raises', loads_ok=False):
        if python == 'check':
            try:
                pickle.loads(data)
                python = 'reads it'
            except Exception as e:  # noqa: BLE001 - recorded, not handled
                python = f'raises {type(e).__name__}'
        cases.append({'id': id_, 'pickle': b64(data), 'why': why, 'python': python,
                      'pickle_loads_ok': loads_ok})

    for proto in range(6):
        add(f'datetime_p{proto}', pickle.dumps({'when': datetime.datetime(2024, 1, 2, 3, 4, 5)}, proto),
            'datetime.datetime: GLOBAL/STACK_GLOBAL + REDUCE', 'check')
        add(f'class_instance_p{proto}', pickle.dumps({'obj': Point(1, 2)}, proto),
            'instance of a class: GLOBAL/STACK_GLOBAL + NEWOBJ/REDUCE + BUILD', 'check')
    for proto in (0, 2, 4):
        # Never passed to pickle.loads here: it would run the command.
        add(f'os_system_p{proto}', pickle.dumps({'x': Exploit()}, proto),
            'os.system REDUCE payload', f'would run: touch {RCE_MARKER}')
    for id_, v, why in [
        ('date', {'d': datetime.date(2024, 1, 2)}, 'datetime.date'),
        ('decimal', {'d': decimal.Decimal('1.5')}, 'decimal.Decimal'),
        ('uuid', {'u': uuid.UUID(int=1)}, 'uuid.UUID'),
        ('set', {'s': {1, 2}}, 'set: EMPTY_SET + ADDITEMS'),
        ('frozenset', {'s': frozenset({1})}, 'frozenset: FROZENSET'),
        ('bytes', {'b': b'abc'}, 'bytes: SHORT_BINBYTES'),
        ('bytes_300', {'b': b'x' * 300}, 'bytes: BINBYTES'),
        ('bytearray', {'b': bytearray(b'ab')}, 'bytearray (protocol 4: REDUCE)'),
        ('ordered_dict', {'o': collections.OrderedDict(a=1)}, 'OrderedDict: REDUCE'),
        ('complex', {'c': 1j}, 'complex: REDUCE'),
        ('int_key', {1: 'a'}, 'int dict key'),
        ('tuple_key', {('a', 'b'): 1}, 'tuple dict key'),
        ('none_key', {None: 1}, 'None dict key'),
    ]:
        add(id_, pickle.dumps(v, 4), why, 'check')
    add('bytearray_p5', pickle.dumps({'b': bytearray(b'ab')}, 5), 'bytearray: BYTEARRAY8', 'check')

    # Datetimes the reader refuses even under '_session_expiry' (datetime_keys_too).
    def add_dt(id_, data, why, python='check'):
        add(id_, data, why, python)
        cases[-1]['datetime_keys_too'] = True

    when = datetime.datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=pytz.utc)
    good_dt = pickle.dumps({EXPIRY: when}, 4)
    state_at = good_dt.index(b'C\n')
    for proto in range(6):
        add_dt(f'dt_date_p{proto}', pickle.dumps({EXPIRY: datetime.date(2030, 1, 2)}, proto), 'datetime.date')
    for proto in (2, 3, 4, 5):
        add_dt(f'dt_timedelta_p{proto}', pickle.dumps({EXPIRY: datetime.timedelta(days=14)}, proto),
               'datetime.timedelta(days=14) alone')
        add_dt(f'dt_paris_p{proto}', pickle.dumps({EXPIRY: PARIS.localize(datetime.datetime(2030, 1, 2, 3, 4, 5))}, proto),
               "tzinfo pytz.timezone('Europe/Paris') (pytz._p)")
        add_dt(f'dt_offset_0530_p{proto}', pickle.dumps(
            {EXPIRY: datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30)))}, proto),
            'tzinfo datetime.timezone(timedelta(hours=5, minutes=30)): offsets other than UTC are not read')
    add_dt('dt_timedelta_zero', pickle.dumps({EXPIRY: datetime.timedelta(0)}, 4), 'datetime.timedelta(0) alone')
    add_dt('dt_named_utc', pickle.dumps({EXPIRY: datetime.datetime(2030, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(0), 'UTC'))}, 4),
           "tzinfo datetime.timezone(timedelta(0), 'UTC'): a named timezone, 2 arguments")
    add_dt('dt_fold', pickle.dumps({EXPIRY: when.replace(fold=1)}, 4), 'fold=1 (month byte | 0x80)')
    add_dt('dt_state_9_bytes', with_frame_length(good_dt[:state_at] + b'C\t' + good_dt[state_at + 2:state_at + 11] + good_dt[state_at + 12:]),
           'datetime.datetime with a 9-byte state')
    add_dt('dt_state_11_bytes', with_frame_length(good_dt[:state_at] + b'C\x0b' + good_dt[state_at + 2:state_at + 12] + b'\x00' + good_dt[state_at + 12:]),
           'datetime.datetime with an 11-byte state')
    add_dt('dt_state_day_32', with_frame_length(good_dt[:state_at + 5] + b'\x20' + good_dt[state_at + 6:]),
           'datetime.datetime with day 32 in its state (CPython checks only the month)')
    add_dt('dt_state_hour_24', with_frame_length(good_dt[:state_at + 6] + b'\x18' + good_dt[state_at + 7:]),
           'datetime.datetime with hour 24 in its state')
    p2 = pickle.dumps({EXPIRY: when}, 2)
    add_dt('dt_codecs_utf8', p2.replace(b'X\x06\x00\x00\x00latin1', b'X\x05\x00\x00\x00utf-8'),
           "_codecs.encode(state, 'utf-8'): only 'latin1'")
    # The state as a str, without _codecs.encode (Python 3 reads a latin-1 str state, for Python 2 pickles).
    ops = list(pickletools.genops(p2))
    codecs_at = next(pos for op, arg, pos in ops if op.name == 'GLOBAL' and arg == '_codecs encode')
    state_at2 = next(pos for op, arg, pos in ops if pos > codecs_at and op.name == 'BINUNICODE')
    latin1_at = next(pos for op, arg, pos in ops if op.name == 'BINUNICODE' and arg == 'latin1')
    reduce_at = next(pos for op, arg, pos in ops if pos > latin1_at and op.name == 'REDUCE')
    str_state = p2[:codecs_at] + p2[state_at2:latin1_at] + p2[reduce_at + 1:]
    add_dt('dt_str_state', str_state, 'a str state (no _codecs.encode)')
    add_dt('dt_codecs_as_value', pickle.dumps({EXPIRY: b'\x07\xee\x01\x02\x03\x04\x05\x01\xe2@'}, 2),
           'bytes (protocol 2: _codecs.encode) as the value')
    add_dt('dt_bytes_as_value', pickle.dumps({EXPIRY: b'\x07\xee\x01\x02\x03\x04\x05\x01\xe2@'}, 4),
           'bytes (SHORT_BINBYTES) as the value')
    add_dt('dt_class_as_value', pickle.dumps({EXPIRY: datetime.datetime}, 4), 'the class datetime.datetime as the value')
    add_dt('dt_utc_as_value', pickle.dumps({EXPIRY: pytz.utc}, 4), 'pytz.utc as the value')
    add_dt('dt_timezone_utc_as_value', pickle.dumps({EXPIRY: datetime.timezone.utc}, 4), 'datetime.timezone.utc as the value')
    add_dt('dt_other_key', pickle.dumps({'when': when}, 4), "a datetime under another key than '_session_expiry'")
    add_dt('dt_nested', pickle.dumps({'outer': {EXPIRY: when}}, 4), "a datetime under '_session_expiry' below the top level")
    add_dt('dt_in_list', pickle.dumps({EXPIRY: [when]}, 4), 'a datetime in a list')
    add_dt('dt_in_tuple', pickle.dumps({EXPIRY: (when,)}, 4), 'a datetime in a tuple')
    add_dt('dt_as_key', pickle.dumps({when: 1}, 4), 'a datetime as a dict key')
    add_dt('dt_top_level', pickle.dumps(when, 4), 'a datetime, not a dict')
    add_dt('dt_os_system', pickle.dumps({EXPIRY: Exploit()}, 4), 'os.system REDUCE payload under _session_expiry',
           f'would run: touch {RCE_MARKER}')
    # REDUCE of the right global with a wrong argument shape.
    add_dt('dt_utc_with_args', with_frame_length(good_dt.replace(b'\x93\x94)R', b'\x93\x94K\x00\x85R')), 'pytz._UTC(0)')
    add_dt('dt_three_args', with_frame_length(good_dt.replace(b'\x86\x94R\x94s.', b'N\x87\x94R\x94s.')),
           'datetime.datetime(state, tzinfo, None)')
    add_dt('dt_tzinfo_none', with_frame_length(good_dt[:good_dt.index(b'\x8c\x04pytz')] + b'N\x86\x94R\x94s.'),
           'datetime.datetime(state, None): Python reads it as naive; the shape is refused')

    rec_list = []
    rec_list.append(rec_list)
    add('recursive_list', pickle.dumps({'l': rec_list}, 4), 'a list containing itself', 'check')
    rec_dict = {}
    rec_dict['self'] = rec_dict
    add('recursive_dict', pickle.dumps(rec_dict, 4), 'a dict containing itself', 'check')
    rec_tuple_list = []
    rec_tuple_list.append((rec_tuple_list,))
    add('recursive_tuple', pickle.dumps({'l': rec_tuple_list}, 4), 'a list in a tuple in itself', 'check')

    add('deep_1001', pickle.dumps(nested_lists(1001), 4), 'containers nested 1001 deep', 'check')
    add('deep_10000_lists', b'\x80\x04}\x8c\x04deep' + b']' * 10000 + b'a' * 9999 + b's.',
        '10,000 nested lists (EMPTY_LIST x 10000, APPEND x 9999)', 'check')
    add('deep_10000_tuples', b'\x80\x04}\x8c\x04deep)' + b'\x85' * 10000 + b's.',
        '10,000 nested tuples built on a constant stack (TUPLE1 x 10000)', 'check')

    good = pickle.dumps({'user': 'Zo\u00eb', 'n': [1, 2, 3], 'long': 'x' * 300}, 4)
    for cut in (0, 1, 2, 5, 11, 13, len(good) // 2, len(good) - 1):
        add(f'truncated_{cut}', good[:cut], f'the first {cut} of {len(good)} bytes', 'check')
    add('trailing_bytes', good + b'\x00garbage', 'bytes after STOP (Python ignores them)', 'check')
    add('trailing_stop', good + b'.', 'a second STOP (Python ignores it)', 'check')
    add('protocol_6', b'\x80\x06}\x94.', 'PROTO 6', 'check')
    add('unknown_opcode', b'\x80\x04}\x94\xff.', 'byte 0xff is no opcode', 'check')
    add('py2_string', b"(dp0\nS'a'\np1\nI1\ns.", 'Python 2 STRING opcode (Python 3 reads it as ASCII str)', 'check')
    add('not_a_dict', pickle.dumps([1, 2], 4), 'a list: fine for pickleLoads, not a session', 'check', True)
    add('not_a_dict_str', pickle.dumps('session', 4), 'a str: fine for pickleLoads, not a session', 'check', True)
    return cases


def refused_json():
    cases = []

    def add(id_, data, why):
        try:
            JSON.loads(data)
            python = 'reads it'
        except Exception as e:  # noqa: BLE001
            python = f'raises {type(e).__name__}'
        cases.append({'id': id_, 'json_b64': b64(data), 'why': why, 'python': python})

    add('list', JSON.dumps([1, 2]), 'a list, not a dict')
    add('string', JSON.dumps('s'), 'a str, not a dict')
    add('invalid_utf8', b'{"a": "\xff"}', 'not UTF-8')
    add('encoded_surrogate', b'{"a": "\xed\xa0\x80"}', 'a UTF-8-encoded surrogate (strict decode refuses)')
    add('bom', b'\xef\xbb\xbf{}', 'a UTF-8 BOM')
    add('truncated', b'{"a": 1', 'truncated')
    add('deep_501', b'{"d": ' + b'[' * 500 + b']' * 500 + b'}', 'nested 501 deep: past MAX_JSON_DEPTH')
    return cases


BIG = 16 * 1024


def frames(data):
    return [[pos, arg] for op, arg, pos in pickletools.genops(data) if op.name == 'FRAME']


def bytes_field(name, data, out):
    """Small data inline (pickle in base64, JSON as text); big data as its sha256, length (and
    frames, for pickles)."""
    if len(data) <= BIG:
        out[name] = b64(data) if name == 'pickle' else data.decode('ascii')
    else:
        out[name + '_sha256'] = hashlib.sha256(data).hexdigest()
        out[name + '_length'] = len(data)
        if name == 'pickle':
            out['pickle_frames'] = frames(data)


def main():
    # The deep corpus entries need more than the default recursion limit (1000) to be pickled.
    sys.setrecursionlimit(20000)
    dumps = []
    for id_, spec in DUMPS:
        value = unshare(build(spec))
        entry = {'id': id_, 'value': tag(spec)}
        bytes_field('pickle', PICKLE.dumps(value), entry)
        if id_ != 'deep_1000':
            bytes_field('json', JSON.dumps(value), entry)
        # Other protocols for the small entries (and one batching case): enough to cover every opcode.
        if len(pickle.dumps(value, 4)) <= 4096 or id_ == 'dict_1001':
            entry['protocols'] = {str(p): b64(pickle.dumps(value, p)) for p in (0, 1, 2, 3, 5)}
            for data in entry['protocols'].values():
                assert pickle.loads(base64.b64decode(data)) == value
        dumps.append(entry)

    shared = shared_case()
    shared_entry = {'id': 'shared_list', 'value': tag(shared), 'pickle': b64(PICKLE.dumps(shared)),
                    'json': JSON.dumps(shared).decode('ascii')}

    loads = []
    for id_, value in loads_only():
        entry = {'id': id_, 'expected': tag(value),
                 'protocols': {str(p): b64(pickle.dumps(value, p)) for p in range(6)}}
        # Python's json writes NaN, Infinity and big ints too (read back as such: see loads_only()).
        entry['json'] = JSON.dumps(value).decode('ascii')
        loads.append(entry)
    loads.append({'id': 'duplicate_keys', 'expected': tag(JSON.loads(b'{"a": 1, "10": 2, "a": 3}')),
                  'json': '{"a": 1, "10": 2, "a": 3}'})

    doc = {
        'generated_by': 'test/interop/make-cache-serializer-fixtures.py',
        'python': sys.version.split()[0],
        'django_redis': django_redis.__version__,
        'pickle_default_protocol': pickle.DEFAULT_PROTOCOL,
        'rce_marker': RCE_MARKER,
        'dumps': dumps,
        'shared': shared_entry,
        'loads': loads,
        'datetimes': datetimes(),
        'datetime_frames': datetime_frames(),
        'refused_pickles': refused_pickles(),
        'refused_json': refused_json(),
    }
    write_fixture(OUT, doc)
    print(f'wrote {os.path.relpath(OUT)}: {len(dumps)} dumps, {len(loads)} loads, '
          f'{len(doc["refused_pickles"])} refused pickles, {len(doc["refused_json"])} refused JSON texts',
          file=sys.stderr)


if __name__ == '__main__':
    main()
