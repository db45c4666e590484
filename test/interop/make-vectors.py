#!/usr/bin/python3
"""
Regenerates test/fixtures/django/vectors.json, the Django test vectors the unit suites read
(test/unit/codec.spec.ts, signing.spec.ts, django-dates.spec.ts), from the real Django.

    /usr/bin/python3 test/interop/make-vectors.py            # rewrite the fixture
    /usr/bin/python3 test/interop/make-vectors.py --check    # exit 1 if the fixture differs
    /usr/bin/python3 test/interop/make-vectors.py --compare OTHER/vectors.json
                                                             # entry-by-entry diff with another file

Needs Django 3.2 (Debian's python3-django, i.e. /usr/bin/python3 on the interop machine; see
test/interop/setup.sh). Nothing here touches a database: only `django.core.signing`,
`SessionBase.encode` / `decode` / `_legacy_encode` and `salted_hmac`, with settings configured below.

Where the data comes from:
  * Every entry whose "django_version" is 3.2.25 is produced by this script, on each run: session_data
    by Django's own encoder (clock frozen at the recorded second), "django_3_2" / "logged" /
    "decoded_by_django" by running Django 3.2's SessionStore.decode() on it (the script fails if
    Django disagrees with the outcome declared below), and the derived fields (serialized_json,
    compressed, timestamp, signature, legacy_hash) by unpacking it with Django's own helpers.
  * "django_4_plus" and "logged" cannot be observed with 3.2. They record what Django 5.2.17 did when
    these vectors were first made with it: its decode() result, and
    whether it logged "Session data corrupted" on django.security.SuspiciousSession. They are declared
    per case below. (3.2 logs in most of the same cases; where it does not, the script says so.)
  * The entries whose "django_version" is 5.2.17 (COPIED_FROM_DJANGO_5 below) were made by Django
    5.2.17 and are copied verbatim: 3.2 cannot make some of them (SECRET_KEY_FALLBACKS is 4.1+, the
    isoformat "_session_expiry" is what 5.x's set_expiry(datetime) stores). For each one the script
    re-derives everything 3.2 can -- the session_data bytes from (secret, dict, timestamp), the
    unpacked fields, and what 3.2's decode() returns -- and fails if it differs from the copy.
  * "depth_vectors" are sessions exactly MAX_SESSION_DEPTH (src/codec/session-codec.ts) levels deep,
    written and read back by Django 3.2 here, so the unit tests can check that the depth limit the
    Nest codec enforces is one Django reads and writes.

"_live_" vectors were first signed with the real clock (at 1795382664); they are regenerated with
the clock frozen at that second so the file is reproducible. They keep byte_exact=false, as then.
"""
import argparse
import base64
import json
import logging
import os
import sys
import zlib
from unittest import mock

import django
from django.conf import settings

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, '..', 'fixtures', 'django', 'vectors.json'))

SECRET = 'django-insecure-vector-secret-0123456789abcdefghijklmnop'
SALT = 'django.contrib.sessions.SessionStore'
LEGACY_SALT = 'django.contrib.sessionsSessionStore'
FROZEN = 1700000000  # b62 '1r31eq': the byte_exact vectors
LIVE = 1795382664  # b62 '1xVF2u': the second the "real clock" vectors were first made at
# Must equal MAX_SESSION_DEPTH in src/codec/session-codec.ts (the session dict counts as level 1).
MAX_SESSION_DEPTH = 500

settings.configure(
    SECRET_KEY=SECRET,
    INSTALLED_APPS=['django.contrib.sessions'],
    DATABASES={'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}},
    USE_TZ=True,
)
django.setup()

from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core import signing  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import baseconv  # noqa: E402
from django.utils.crypto import salted_hmac  # noqa: E402


class CustomStore(SessionStore):
    """Another class qualname, hence another salt: django.contrib.sessions.CustomStore."""


def frozen(ts):
    # TimestampSigner.timestamp() is int(time.time()).
    return mock.patch('django.core.signing.time.time', return_value=ts)


class LogCapture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def django_decode(session_data, secret):
    """What Django 3.2's SessionStore.decode() does with it: ('dict', result) / ('raises', repr)."""
    capture = LogCapture()
    logger = logging.getLogger('django.security.SuspiciousSession')
    logger.addHandler(capture)
    try:
        with override_settings(SECRET_KEY=secret):
            try:
                return 'returned', SessionStore().decode(session_data), capture.messages
            except Exception as e:  # noqa: BLE001 - Django 3.2 lets binascii.Error escape
                return 'raises', repr(e), capture.messages
    finally:
        logger.removeHandler(capture)


def encode(d, ts, secret=SECRET, store=SessionStore):
    with override_settings(SECRET_KEY=secret), frozen(ts):
        return store().encode(d)


def timestamp_sign(value, ts, secret=SECRET, salt=SALT, algorithm=None):
    with override_settings(SECRET_KEY=secret), frozen(ts):
        return signing.TimestampSigner(salt=salt, algorithm=algorithm).sign(value)


def unpack_signed(session_data):
    """The fields the tests compare, read back from Django's own format with Django's helpers."""
    value, sig = session_data.rsplit(':', 1)
    payload, ts = value.rsplit(':', 1)
    compressed = payload[:1] == '.'
    data = signing.b64_decode(payload[1:].encode() if compressed else payload.encode())
    if compressed:
        data = zlib.decompress(data)
    return {
        'session_data': session_data,
        'serialized_json': data.decode('latin-1'),
        'compressed': compressed,
        'timestamp': baseconv.base62.decode(ts),
        'timestamp_b62': ts,
        'signature': sig,
    }


def check_outcome(case_id, session_data, secret, expected, d, logged):
    """Runs Django 3.2's decode() and fails unless it does what the case declares."""
    kind, result, messages = django_decode(session_data, secret)
    if expected == 'raises':
        ok = kind == 'raises'
    elif expected == 'dict':
        ok = kind == 'returned' and result == d and json.dumps(result) == json.dumps(d)
    elif expected == 'empty':
        ok = kind == 'returned' and result == {}
    elif expected == 'other':
        ok = kind == 'returned' and result != d
    else:
        raise ValueError(expected)
    if not ok:
        sys.exit(f'{case_id}: Django {django.get_version()} decode() gave {kind} {result!r}, '
                 f'the case declares {expected}')
    if bool(messages) != bool(logged):
        # "logged" records Django 4+ (the 5.2.17 run): 3.2 stays silent where its _legacy_decode
        # swallows the error (e.g. "" -> ValueError), so the two may differ; say so, don't fail.
        print(f'note: {case_id}: Django {django.get_version()} logged {messages or "nothing"}; '
              f'"logged" records Django 4+: {bool(logged)}', file=sys.stderr)
    return result


def signed_entry(case_id, description, d, session_data, *, ts_kind, d3, d4, salt=SALT,
                 secret=SECRET, decode_secret=None, logged=False, js_caveat=None, shown_dict=None):
    entry = {
        'id': case_id,
        'description': description,
        'django_version': django.get_version(),
        'secret': secret,
    }
    if decode_secret is not None:
        entry['decode_secret'] = decode_secret
    entry['salt'] = salt
    if ts_kind == 'frozen':
        entry['byte_exact'] = True
    elif ts_kind == 'live':
        entry['byte_exact'] = False
    if js_caveat is not None:
        entry['js_caveat'] = js_caveat
    if logged:
        entry['logged'] = True
    decoded = check_outcome(case_id, session_data, decode_secret or secret, d3,
                            shown_dict if shown_dict is not None else d, logged)
    entry['django_3_2'] = d3
    entry['django_4_plus'] = d4
    if d3 == 'other':
        entry['decoded_by_django'] = decoded
    entry['format'] = 'signed'
    entry['dict'] = shown_dict if shown_dict is not None else d
    entry.update(unpack_signed(session_data))
    return entry


def garbage_entry(case_id, description, session_data):
    entry = {
        'id': case_id,
        'description': description,
        'django_version': django.get_version(),
        'format': 'garbage',
        'secret': SECRET,
        'logged': True,
        'django_3_2': 'empty',
        'django_4_plus': 'empty',
        'dict': {},
        'session_data': session_data,
    }
    check_outcome(case_id, session_data, SECRET, 'empty', {}, True)
    return entry


def legacy_entry(case_id, description, d, *, secret=SECRET, tamper_to=None, expect_data=None):
    with override_settings(SECRET_KEY=secret):
        session_data = SessionStore()._legacy_encode(d)
        hash_ = SessionStore()._hash(SessionStore().serializer().dumps(d))
    shown = d
    if tamper_to is not None:
        # The same hash in front of other JSON: what an attacker without the secret can write.
        serialized = SessionStore().serializer().dumps(tamper_to)
        session_data = base64.b64encode(hash_.encode() + b':' + serialized).decode('ascii')
        shown = tamper_to
    if expect_data is not None and session_data != expect_data:
        sys.exit(f'{case_id}: Django wrote {session_data}, expected {expect_data}')
    entry = {
        'id': case_id,
        'description': description,
        'django_version': django.get_version(),
        'format': 'legacy',
        'secret': secret,
        'salt': LEGACY_SALT,
    }
    if tamper_to is not None:
        entry['logged'] = True
    d3 = 'empty' if tamper_to is not None else 'dict'
    check_outcome(case_id, session_data, secret, d3, shown, tamper_to is not None)
    entry.update({
        'django_3_2': d3,
        'django_4_plus': 'empty',
        'dict': shown,
        'session_data': session_data,
        'legacy_hash': hash_,
        'serialized_json': base64.b64decode(session_data).split(b':', 1)[1].decode('latin-1'),
    })
    return entry


# ---- the session dicts --------------------------------------------------------------------------

SIMPLE = {'a test key': 'a test value'}
TYPES = {'s': 'x', 'i': 42, 'neg': -7, 'f': 3.5, 't': True, 'fa': False, 'n': None}
UNICODE = {'name': 'Zo\u00eb \u00dcn\u00efc\u00f8d\u00e9', 'emoji': '\U0001F600', 'cjk': '\u6f22\u5b57',
           'rtl': '\u05e9\u05dc\u05d5\u05dd'}
ESCAPES = {'q': 'he said "hi"', 'bs': 'C:\\path', 'nl': 'a\nb\tc\r', 'ctl': '\x01\x1f', 'del': '\x7f',
           'sl': 'a/b'}
NESTED = {'user': {'id': 7, 'roles': ['admin', 'staff'], 'prefs': {'theme': 'dark', 'n': [1, [2, [3]]]}}}
BIG = {'blob': 'lorem ipsum dolor sit amet ' * 40, 'n': list(range(50))}
D3_ONLY = 'raises'  # marks the two vectors 3.2 crashes on (see their descriptions)


def session_vectors():
    v = []

    def add_signed(case_id, description, d, ts_kind='frozen', **kw):
        ts = FROZEN if ts_kind == 'frozen' else LIVE
        v.append(signed_entry(case_id, description, d, encode(d, ts), ts_kind=ts_kind,
                              d3='dict', d4='dict', **kw))

    add_signed('empty', 'empty dict', {})
    add_signed('simple', 'one string value', SIMPLE)
    add_signed('simple_live_3', 'one string value (real clock)', SIMPLE, 'live')
    add_signed('types', 'str/int/float/bool/null', TYPES)
    add_signed('unicode', 'non-ASCII and astral chars (JSON must be \\u-escaped)', UNICODE)
    add_signed('unicode_live_3', 'non-ASCII and astral chars (JSON must be \\u-escaped) (real clock)',
               UNICODE, 'live')
    add_signed('escapes', 'quotes, backslash, control chars, DEL, slash', ESCAPES)
    add_signed('nested', 'nested objects and lists', NESTED)
    add_signed('nested_live_3', 'nested objects and lists (real clock)', NESTED, 'live')
    add_signed('list_top', 'list values',
               {'cart': [{'sku': 'A1', 'qty': 2}, {'sku': 'B2', 'qty': 1}], 'empty_list': [], 'empty_obj': {}})
    add_signed('auth', 'what contrib.auth stores after login', {
        '_auth_user_id': '1',
        '_auth_user_backend': 'django.contrib.auth.backends.ModelBackend',
        '_auth_user_hash': '3f1c2f7e0b5a4c7d9e8f00112233445566778899aabbccddeeff001122334455',
    })

    # Through the SessionStore API where 3.2 has it, so the dicts are what Django itself stores.
    s = SessionStore()
    s.set_test_cookie()
    add_signed('testcookie', 'set_test_cookie()', dict(s._session))
    s = SessionStore()
    s.set_expiry(300)
    s['k'] = 'v'
    add_signed('expiry_int', 'set_expiry(300)', dict(s._session))
    s = SessionStore()
    s.set_expiry(0)
    add_signed('expiry_zero', 'set_expiry(0) - expire at browser close', dict(s._session))
    # 3.2's set_expiry(datetime) cannot be JSON-serialized; this is the string 5.x stores.
    add_signed('expiry_iso', 'set_expiry(datetime) as Django>=5 stores it (isoformat string)',
               {'_session_expiry': '2030-01-02T03:04:05.123456+00:00', 'k': 'v'})
    add_signed('compress_big', "large value: zlib applied, '.' prefix", BIG)
    add_signed('compress_big_live_3', "large value: zlib applied, '.' prefix (real clock)", BIG, 'live')
    add_signed('compress_small_repetitive', 'short but repetitive: compression wins', {'x': 'a' * 60})
    add_signed('no_compress_short', 'short: compression not applied', {'x': 'ab'})
    add_signed('large_int', 'integer beyond 2**53 (JS Number loses precision)',
               {'big': 2 ** 60, 'ok': 2 ** 53 - 1},
               js_caveat='JSON.parse turns 2**60 into 1152921504606846976 rounded (1152921504606847000); '
                         'a JS codec cannot round-trip it unless it parses integers as BigInt')
    add_signed('float_forms', 'floats whose text differs between Python and JS',
               {'one': 1.0, 'tiny': 1e-07, 'huge': 1e+16, 'pi': 3.141592653589793},
               js_caveat='Python writes 1.0 / 1e-07 / 1e+16; JSON.stringify writes 1 / 1e-7 / 10000000000000000, '
                         'so a JS re-encode differs in bytes (values compare equal in JS; Django then reads 1 as int)')

    good = encode(SIMPLE, LIVE)
    last = good[-1]
    v.append(signed_entry('neg_tampered_signature',
                          "last signature char changed -> {} + 'Session data corrupted' log", SIMPLE,
                          good[:-1] + ('A' if last != 'A' else 'B'), ts_kind=None, d3='empty', d4='empty',
                          logged=True))
    evil = signing.b64_encode(b'{"a test key":"evil"}').decode()
    v.append(signed_entry('neg_tampered_payload', 'payload changed, old signature kept', SIMPLE,
                          evil + good[good.index(':'):], ts_kind=None, d3='empty', d4='empty', logged=True))
    v.append(signed_entry('neg_wrong_secret', 'valid data but decoded with a different SECRET_KEY', SIMPLE,
                          good, ts_kind=None, d3='empty', d4='empty', decode_secret='not-the-secret', logged=True))
    v.append(signed_entry('neg_wrong_salt',
                          "signed with salt 'django.contrib.sessions.CustomStore' (another class qualname)",
                          SIMPLE, encode(SIMPLE, LIVE, store=CustomStore), ts_kind=None, d3='empty',
                          d4='empty', salt=CustomStore().key_salt, logged=True))

    v.append(garbage_entry('neg_bad_encoded_value', "Django test: 'bad:encoded:value'", 'bad:encoded:value'))
    v.append(garbage_entry('neg_flaskdj', "Django test: base64('flaskdj:alkdjf')",
                           base64.b64encode(b'flaskdj:alkdjf').decode('ascii')))
    v.append(garbage_entry('neg_empty_string', 'empty session_data', ''))

    crash = ("Django>=4: {} without log. Django 3.2 falls back to _legacy_decode: {} + 'Session data "
             "corrupted' log, or decode() RAISES binascii.Error unless the string's count of "
             "base64-alphabet chars is a multiple of 4 (b64decode is outside its try); clock frozen so "
             "the outcome recorded here is reproducible")
    v.append(signed_entry('neg_valid_signature_invalid_json',
                          'correctly signed, payload = base64 of non-JSON bytes. ' + crash, {},
                          timestamp_sign(signing.b64_encode(b'invalid data').decode(), FROZEN),
                          ts_kind=None, d3=D3_ONLY, d4='empty'))
    # Django's own test_decode_serializer_exception: TimestampSigner(salt=key_salt).sign(b'invalid data').
    v.append(signed_entry('neg_django_testsuite_serializer_exception',
                          'Django\'s test_decode_serializer_exception input (signed text "b\'invalid data\'"). '
                          + crash, {}, timestamp_sign(b'invalid data', FROZEN), ts_kind=None, d3=D3_ONLY,
                          d4='empty'))

    raw = json.dumps({'name': 'Zo\u00eb'}, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    v.append(signed_entry('warn_raw_utf8_json',
                          'JSON NOT ascii-escaped (what JSON.stringify gives): Django reads it as latin-1 -> mojibake',
                          {'name': 'Zo\u00eb'}, timestamp_sign(signing.b64_encode(raw).decode(), LIVE),
                          ts_kind=None, d3='other', d4='other'))
    with frozen(LIVE):
        sha1 = signing.TimestampSigner(salt=SALT, algorithm='sha1').sign_object(
            SIMPLE, serializer=signing.JSONSerializer, compress=True)
    v.append(signed_entry('compat_sha1_signed',
                          'Django 3.1 transitional: new format but HMAC-SHA1 signature (27 chars)', SIMPLE, sha1,
                          ts_kind=None, d3='dict', d4='empty'))

    v.append(legacy_entry('legacy_empty', 'pre-Django-3.1 format: empty dict', {}))
    v.append(legacy_entry('legacy_simple', 'pre-Django-3.1 format: one string value', SIMPLE))
    v.append(legacy_entry('legacy_types', 'pre-Django-3.1 format: str/int/float/bool/null', TYPES))
    v.append(legacy_entry('legacy_unicode',
                          'pre-Django-3.1 format: non-ASCII and astral chars (JSON must be \\u-escaped)', UNICODE))
    v.append(legacy_entry('legacy_escapes',
                          'pre-Django-3.1 format: quotes, backslash, control chars, DEL, slash', ESCAPES))
    # The string in Django 3.1/3.2's tests/sessions_tests (test_decode_legacy), reproduced here.
    v.append(legacy_entry('legacy_django_testsuite', 'string from Django 3.1/3.2 tests (test_decode_legacy)', SIMPLE,
                          secret='django_tests_secret_key',
                          expect_data='OWUzNTNmNWQxNTBjOWExZmM4MmQ3NzNhMDRmMjU4NmYwNDUyNGI2NDp7ImEgdGVzdCBrZXki'
                                      'OiJhIHRlc3QgdmFsdWUifQ=='))
    v.append(legacy_entry('legacy_tampered', 'legacy format with payload changed -> {} + log', {'a': 1},
                          tamper_to={'a': 2}))

    for entry in COPIED_FROM_DJANGO_5:
        v.append(check_copied(entry))
    return v


# ---- copied verbatim from Django 5.2.17 ---------------------------------------------------------
# Made by Django 5.2.17 itself, when these vectors were first made, and copied here as they
# were; check_copied() re-derives with 3.2 everything 3.2 can and fails on any difference.
COPIED_FROM_DJANGO_5 = json.loads(r'''[
 {"id": "simple_live_5", "description": "one string value (real clock)", "django_version": "5.2.17", "secret": "django-insecure-vector-secret-0123456789abcdefghijklmnop", "salt": "django.contrib.sessions.SessionStore", "byte_exact": false, "django_3_2": "dict", "django_4_plus": "dict", "format": "signed", "dict": {"a test key": "a test value"}, "session_data": "eyJhIHRlc3Qga2V5IjoiYSB0ZXN0IHZhbHVlIn0:1xVF2u:3wHraxeM0bPkxWSo_FrKHhGZ-3__7Wq4zyrnUgzSr9k", "serialized_json": "{\"a test key\":\"a test value\"}", "compressed": false, "timestamp": 1795382664, "timestamp_b62": "1xVF2u", "signature": "3wHraxeM0bPkxWSo_FrKHhGZ-3__7Wq4zyrnUgzSr9k"},
 {"id": "unicode_live_5", "description": "non-ASCII and astral chars (JSON must be \\u-escaped) (real clock)", "django_version": "5.2.17", "secret": "django-insecure-vector-secret-0123456789abcdefghijklmnop", "salt": "django.contrib.sessions.SessionStore", "byte_exact": false, "django_3_2": "dict", "django_4_plus": "dict", "format": "signed", "dict": {"name": "Zo\u00eb \u00dcn\u00efc\u00f8d\u00e9", "emoji": "\ud83d\ude00", "cjk": "\u6f22\u5b57", "rtl": "\u05e9\u05dc\u05d5\u05dd"}, "session_data": ".eJwdikEKgDAMBL8iOXsISrX6FOlFkxSs2oLYk_h321xm2GFfiOslMMOSXEaUraliiro8VXnLuiZoQa4U9nJ3mW1fMgtiyRQOjYPvOpfNZsYS7-fUiEamSialUTJ8P1WAJa0:1xVF2u:Noeke4Qux9Go6u7JvVOKOmhe0ifhAU13uUSOpI0NU8k", "serialized_json": "{\"name\":\"Zo\\u00eb \\u00dcn\\u00efc\\u00f8d\\u00e9\",\"emoji\":\"\\ud83d\\ude00\",\"cjk\":\"\\u6f22\\u5b57\",\"rtl\":\"\\u05e9\\u05dc\\u05d5\\u05dd\"}", "compressed": true, "timestamp": 1795382664, "timestamp_b62": "1xVF2u", "signature": "Noeke4Qux9Go6u7JvVOKOmhe0ifhAU13uUSOpI0NU8k"},
 {"id": "nested_live_5", "description": "nested objects and lists (real clock)", "django_version": "5.2.17", "secret": "django-insecure-vector-secret-0123456789abcdefghijklmnop", "salt": "django.contrib.sessions.SessionStore", "byte_exact": false, "django_3_2": "dict", "django_4_plus": "dict", "format": "signed", "dict": {"user": {"id": 7, "roles": ["admin", "staff"], "prefs": {"theme": "dark", "n": [1, [2, [3]]]}}}, "session_data": "eyJ1c2VyIjp7ImlkIjo3LCJyb2xlcyI6WyJhZG1pbiIsInN0YWZmIl0sInByZWZzIjp7InRoZW1lIjoiZGFyayIsIm4iOlsxLFsyLFszXV1dfX19:1xVF2u:4yB4YloQ9_J_gxbg6N1zKETyUfd-bH4JYkQtn03OaQw", "serialized_json": "{\"user\":{\"id\":7,\"roles\":[\"admin\",\"staff\"],\"prefs\":{\"theme\":\"dark\",\"n\":[1,[2,[3]]]}}}", "compressed": false, "timestamp": 1795382664, "timestamp_b62": "1xVF2u", "signature": "4yB4YloQ9_J_gxbg6N1zKETyUfd-bH4JYkQtn03OaQw"},
 {"id": "compress_big_live_5", "description": "large value: zlib applied, '.' prefix (real clock)", "django_version": "5.2.17", "secret": "django-insecure-vector-secret-0123456789abcdefghijklmnop", "salt": "django.contrib.sessions.SessionStore", "byte_exact": false, "django_3_2": "dict", "django_4_plus": "dict", "format": "signed", "dict": {"blob": "lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet ", "n": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49]}, "session_data": ".eJztzbsNwkAQhOFWThf_we3jXm4FEWBBgIQxAhMheucKoASHO59m9hPn2zrHKd7W52UJ18frvYTzOq7wum7htFy2sNNOO-30lyLxHqdDQlAMJ1OoNDoyQkEUMcSRjBSkIg3paEJHR1FDHc1oQSva0I4lTLAxaZhjGStYxRrW8YQLrvj46HjGC17xhvfj9wfutLBq:1xVF2u:ISfU2hh2Hs0a0A2kP_uEIzJQ6qE7NxFbnuJQ1-VUsW8", "serialized_json": "{\"blob\":\"lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet \",\"n\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49]}", "compressed": true, "timestamp": 1795382664, "timestamp_b62": "1xVF2u", "signature": "ISfU2hh2Hs0a0A2kP_uEIzJQ6qE7NxFbnuJQ1-VUsW8"},
 {"id": "fallback_key", "description": "signed with an old key listed in SECRET_KEY_FALLBACKS", "django_version": "5.2.17", "secret": "old-secret-rotated-out", "decode_secret": "new-secret", "decode_fallbacks": ["old-secret-rotated-out"], "salt": "django.contrib.sessions.SessionStore", "django_3_2": "empty", "django_4_plus": "dict", "format": "signed", "dict": {"user": 1}, "session_data": "eyJ1c2VyIjoxfQ:1xVF2u:gwM05fLNwPfWDeMDPA7u6rsZupwWRcmQUoZvQ3FrtxA", "serialized_json": "{\"user\":1}", "compressed": false, "timestamp": 1795382664, "timestamp_b62": "1xVF2u", "signature": "gwM05fLNwPfWDeMDPA7u6rsZupwWRcmQUoZvQ3FrtxA"},
 {"id": "expiry_set_by_datetime_django5", "description": "what Django 5 stores for set_expiry(aware datetime)", "django_version": "5.2.17", "secret": "django-insecure-vector-secret-0123456789abcdefghijklmnop", "salt": "django.contrib.sessions.SessionStore", "byte_exact": true, "django_3_2": "dict", "django_4_plus": "dict", "format": "signed", "dict": {"k": "v", "_session_expiry": "2030-01-02T03:04:05.123456+00:00"}, "session_data": "eyJrIjoidiIsIl9zZXNzaW9uX2V4cGlyeSI6IjIwMzAtMDEtMDJUMDM6MDQ6MDUuMTIzNDU2KzAwOjAwIn0:1r31eq:xlBPLIRweCHOIVgLBBaTA1vXOogj0remJUOOCJmrkkM", "serialized_json": "{\"k\":\"v\",\"_session_expiry\":\"2030-01-02T03:04:05.123456+00:00\"}", "compressed": false, "timestamp": 1700000000, "timestamp_b62": "1r31eq", "signature": "xlBPLIRweCHOIVgLBBaTA1vXOogj0remJUOOCJmrkkM"}
]''')


def check_copied(entry):
    """Fails unless Django 3.2 writes the same bytes for the entry and decodes it as recorded."""
    case_id = entry['id']
    mine = encode(entry['dict'], entry['timestamp'], secret=entry['secret'])
    if mine != entry['session_data']:
        sys.exit(f'{case_id}: Django {django.get_version()} writes {mine}, the 5.2 copy holds {entry["session_data"]}')
    for key, value in unpack_signed(mine).items():
        if entry[key] != value:
            sys.exit(f'{case_id}: {key} is {entry[key]!r} in the copy, {value!r} when unpacked by 3.2')
    # SECRET_KEY_FALLBACKS does not exist in 3.2: fallback_key must fail there (and is logged).
    check_outcome(case_id, entry['session_data'], entry.get('decode_secret', entry['secret']),
                  entry['django_3_2'], entry['dict'], entry['django_3_2'] == 'empty')
    return entry


# ---- signer vectors and depth vectors -----------------------------------------------------------

def signer_vectors():
    with override_settings(SECRET_KEY=SECRET):
        return [
            {
                'what': "Signer(key='predictable-secret').sign('foo')  [salt 'django.core.signing.Signer', sha256]",
                'key': 'predictable-secret',
                'salt': signing.Signer(key='predictable-secret').salt,
                'value': 'foo',
                'result': signing.Signer(key='predictable-secret').sign('foo'),
            },
            {
                'what': "Signer(key=b'\\xe7').sign('foo')  [non-ASCII key bytes]",
                'key_hex': 'e7',
                'salt': signing.Signer(key=b'\xe7').salt,
                'value': 'foo',
                'result': signing.Signer(key=b'\xe7').sign('foo'),
            },
            {
                'what': "Signer(key=SECRET, salt='django.contrib.sessions.SessionStore').signature('eyJhIjoxfQ:1r31eq')",
                'key': SECRET,
                'salt': SALT,
                'value': 'eyJhIjoxfQ:1r31eq',
                'result': signing.Signer(key=SECRET, salt=SALT).signature('eyJhIjoxfQ:1r31eq'),
            },
            {
                'what': "salted_hmac('django.contrib.sessions.SessionStoresigner', 'eyJhIjoxfQ:1r31eq', SECRET, sha256).hexdigest()",
                'key': SECRET,
                'key_salt': SALT + 'signer',
                'value': 'eyJhIjoxfQ:1r31eq',
                'result': salted_hmac(SALT + 'signer', 'eyJhIjoxfQ:1r31eq', SECRET, algorithm='sha256').hexdigest(),
            },
            {
                'what': "legacy _hash: salted_hmac('django.contrib.sessionsSessionStore', '{\"a\":1}', SECRET) sha1 hexdigest",
                'key': SECRET,
                'key_salt': LEGACY_SALT,
                'value': '{"a":1}',
                'result': salted_hmac(LEGACY_SALT, '{"a":1}', SECRET, algorithm='sha1').hexdigest(),
            },
        ]


def nested(depth, shape):
    """A session dict `depth` containers deep, the session dict itself being level 1."""
    value = 1
    for _ in range(depth - 1):
        value = [value] if shape == 'list' else {'k': value}
    return {'k': value}


def depth_vectors():
    out = []
    for shape in ('list', 'dict'):
        d = nested(MAX_SESSION_DEPTH, shape)
        session_data = encode(d, FROZEN)
        kind, result, messages = django_decode(session_data, SECRET)
        if kind != 'returned' or result != d or messages:
            sys.exit(f'depth_{shape}: Django cannot read back its own {MAX_SESSION_DEPTH}-deep session')
        entry = {
            'id': f'depth_{MAX_SESSION_DEPTH}_{shape}',
            'description': f'a session {MAX_SESSION_DEPTH} containers deep (the session dict + '
                           f'{MAX_SESSION_DEPTH - 1} nested {shape}s around the value 1), written and read '
                           'back by Django',
            'django_version': django.get_version(),
            'secret': SECRET,
            'salt': SALT,
            'depth': MAX_SESSION_DEPTH,
            'shape': shape,
            'django_3_2': 'dict',
        }
        entry.update(unpack_signed(session_data))
        out.append(entry)
    return out


def python_json_depth():
    """How deep json.loads/json.dumps go from the top of this script's stack (stderr only)."""
    def ok(n):
        try:
            json.dumps(json.loads('[' * n + ']' * n), separators=(',', ':'))
            return True
        except RecursionError:
            return False
    lo, hi = 1, 100000
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid - 1)
    return lo


def build():
    return {
        'about': (
            'Django session_data test vectors, regenerated by test/interop/make-vectors.py from the real '
            'Django (3.2.25 on Debian\'s /usr/bin/python3; the 5.2.17 entries are copied verbatim, see '
            'copied_verbatim). \'dict\' is the session dict; \'session_data\' is what SessionStore.encode() '
            'produced with SECRET_KEY set to the entry\'s \'secret\' (decode with decode_secret/decode_fallbacks when '
            'present). '
            'django_3_2 / django_4_plus say what SessionStore.decode() returns there: \'dict\' = the dict, '
            '\'empty\' = {}, \'other\' = decoded_by_django, \'raises\' = an exception escapes. byte_exact=true '
            'vectors were signed with the clock frozen at their timestamp, so a correct encoder given (secret, '
            'dict, timestamp) must produce session_data byte-for-byte (zlib output permitting: Node\'s zlib '
            'may compress differently from CPython\'s).'
        ),
        'salt_note': "salt = 'django.contrib.sessions.' + SessionStore.__qualname__ = 'django.contrib.sessions.SessionStore'",
        'copied_verbatim': {
            'entries': [e['id'] for e in COPIED_FROM_DJANGO_5],
            'source': 'Django 5.2.17 output (djsession.py vectors), copied as is: Django 3.2 has no '
                      'SECRET_KEY_FALLBACKS and stores no isoformat _session_expiry. make-vectors.py checks '
                      'with 3.2 that the session_data bytes, the unpacked fields and the django_3_2 outcome of '
                      'each copy are what 3.2 produces; django_4_plus of every entry is from that 5.2.17 run.',
        },
        'signer_vectors': signer_vectors(),
        'vectors': session_vectors(),
        'depth_vectors': depth_vectors(),
    }


def render(doc):
    return json.dumps(doc, indent=1) + '\n'


def compare(doc, path):
    """Entry-by-entry comparison with another vectors.json (e.g. the one the vectors came from)."""
    with open(path, encoding='utf-8') as f:
        other = json.load(f)
    problems = []
    for section, key in (('signer_vectors', 'what'), ('vectors', 'id')):
        mine = {e[key]: e for e in doc[section]}
        theirs = {e[key]: e for e in other.get(section, [])}
        for k in theirs.keys() - mine.keys():
            problems.append(f'{section}: {k} missing here')
        for k in mine.keys() - theirs.keys():
            problems.append(f'{section}: {k} only here')
        for k in mine.keys() & theirs.keys():
            if json.dumps(mine[k], indent=1) != json.dumps(theirs[k], indent=1):
                diff = sorted(f for f in mine[k].keys() | theirs[k].keys() if mine[k].get(f) != theirs[k].get(f))
                problems.append(f'{section}: {k} differs in {diff or "key order"}')
        same = sum(1 for k in mine.keys() & theirs.keys()
                   if json.dumps(mine[k], indent=1) == json.dumps(theirs[k], indent=1))
        print(f'{section}: {same} of {len(theirs)} entries identical', file=sys.stderr)
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=DEFAULT_OUT)
    parser.add_argument('--check', action='store_true', help='compare with --out instead of writing it')
    parser.add_argument('--compare', metavar='VECTORS_JSON', help='compare entries with another vectors file')
    args = parser.parse_args()
    if django.VERSION[:2] != (3, 2):
        sys.exit(f'needs Django 3.2 (the vectors record what 3.2 does), found {django.get_version()}')
    doc = build()
    text = render(doc)
    print(f'Django {django.get_version()}, Python {sys.version.split()[0]}, zlib {zlib.ZLIB_RUNTIME_VERSION}: '
          f'json reads/writes {python_json_depth()} nested levels from the top of the stack '
          f'(recursion limit {sys.getrecursionlimit()}); MAX_SESSION_DEPTH is {MAX_SESSION_DEPTH}', file=sys.stderr)
    if args.compare:
        problems = compare(doc, args.compare)
        for p in problems:
            print('  ' + p, file=sys.stderr)
        if problems:
            sys.exit(1)
    if args.check:
        with open(args.out, encoding='utf-8') as f:
            if f.read() != text:
                sys.exit(f'{args.out} is not what make-vectors.py generates: run it to update')
        print(f'{args.out} is up to date', file=sys.stderr)
        return
    if not args.compare:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(text)
        print(f'wrote {args.out}: {len(doc["vectors"])} vectors, {len(doc["signer_vectors"])} signer vectors, '
              f'{len(doc["depth_vectors"])} depth vectors', file=sys.stderr)


if __name__ == '__main__':
    main()
