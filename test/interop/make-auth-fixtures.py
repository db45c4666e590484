#!/usr/bin/env python3
"""Writes test/fixtures/django-auth/hashes.json: known answers for src/auth/, produced by Django's
own django.contrib.auth (password hashers and AbstractBaseUser.get_session_auth_hash).

    /usr/bin/python3 test/interop/make-auth-fixtures.py

Needs Django 3.2, argon2-cffi and bcrypt importable (Debian: python3-django, python3-argon2,
python3-bcrypt). Salts are fixed, so the output is deterministic; commit it. Tests read only the
committed file, never this script.

Sections:
  passwords     [password, encoded, [wrong passwords], [also accepted]?]: `encoded` is what Django's
                hasher writes for `password` (`hasher.encode(password, salt)`, what make_password()
                does with a random salt), checked here with check_password(): true for `password`,
                false for each wrong one, true for each "also accepted" one (plain bcrypt reads only
                a password's first 72 bytes).
  malformed     [password, encoded, django]: stored values no hasher accepts, with what Django's
                check_password() does with them ('false', or the exception it raises).
  session_auth_hash  [password (the encoded hash stored in auth_user.password), secret_key, sha256,
                legacy_sha1]: user.get_session_auth_hash() and Django 3.2's
                user._legacy_get_session_auth_hash() under that SECRET_KEY.
"""
import hashlib
import json
import os
import sys

import django
from django.conf import settings

settings.configure(
    SECRET_KEY='fixture-secret-not-used',
    INSTALLED_APPS=['django.contrib.auth', 'django.contrib.contenttypes'],
    DATABASES={'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}},
    PASSWORD_HASHERS=[
        'django.contrib.auth.hashers.PBKDF2PasswordHasher',
        'django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher',
        'django.contrib.auth.hashers.Argon2PasswordHasher',
        'django.contrib.auth.hashers.BCryptSHA256PasswordHasher',
        'django.contrib.auth.hashers.BCryptPasswordHasher',
    ],
    USE_TZ=True,
)
django.setup()

import argon2  # noqa: E402
import bcrypt  # noqa: E402
from django.contrib.auth.hashers import check_password, get_hasher, make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils.crypto import RANDOM_STRING_CHARS  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'django-auth', 'hashes.json')

PASSWORDS = [
    'correct horse battery staple',
    '',
    'pässwörd ✓ 日本語 🔑',
    'x' * 100,  # past bcrypt's 72 bytes
    ' with $ dollars and spaces ',
]


def salt_for(n, length=22):
    """A fixed salt from Django's alphabet (Django 3.2: 22 chars, ceil(128 / log2(62)))."""
    digest = hashlib.sha256(b'fixture salt %d' % n).digest()
    return ''.join(RANDOM_STRING_CHARS[b % len(RANDOM_STRING_CHARS)] for b in digest[:length])


def wrong_for(password):
    wrong = [password + 'x', password[:-1] if password else ' ', password.upper() if password.upper() != password else password + '!']
    if password == 'x' * 100:
        wrong.append('x' * 99)  # same first 72 bytes as 'x' * 100
    return wrong


def bcrypt_salt(n, rounds, prefix=b'2b'):
    raw = hashlib.sha256(b'fixture bcrypt salt %d' % n).digest()[:16]
    # bcrypt's own base64 alphabet: gensalt() with a fixed random source.
    alphabet = b'./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
    bits = int.from_bytes(raw, 'big') << 4  # 128 bits -> 22 chars of 6 bits (132 bits)
    chars = bytes(alphabet[(bits >> (6 * (21 - i))) & 63] for i in range(22))
    # The last char carries only 2 meaningful bits: let bcrypt normalise it.
    salt = b'$' + prefix + b'$%02d$' % rounds + chars
    return bcrypt.hashpw(b'', salt)[:29]


entries = []
n = 0


def add(password, encoded, truncates=False):
    assert check_password(password, encoded), (password, encoded)
    wrong = wrong_for(password)
    also_right = []
    if truncates and len(password.encode()) > 72:
        # Plain bcrypt reads only the first 72 bytes: Django accepts any password sharing them.
        also_right = [w for w in wrong if w.encode()[:72] == password.encode()[:72]]
        wrong = [w for w in wrong if w not in also_right]
    for w in wrong:
        assert not check_password(w, encoded), (w, encoded)
    for w in also_right:
        assert check_password(w, encoded), (w, encoded)
    entries.append([password, encoded, wrong, also_right] if also_right else [password, encoded, wrong])


pbkdf2 = get_hasher('pbkdf2_sha256')
pbkdf2_sha1 = get_hasher('pbkdf2_sha1')
argon2_hasher = get_hasher('argon2')
bcrypt_sha256 = get_hasher('bcrypt_sha256')
bcrypt_plain = get_hasher('bcrypt')

for password in PASSWORDS:
    n += 1
    # Django 3.2's defaults: 260000 iterations, a 22-char salt.
    add(password, pbkdf2.encode(password, salt_for(n)))
for password in PASSWORDS[:3]:
    n += 1
    add(password, pbkdf2_sha1.encode(password, salt_for(n)))
# Other iteration counts and salt lengths (older Django versions wrote 12-char salts, 1.x fewer iterations).
n += 1
add('correct horse battery staple', pbkdf2.encode('correct horse battery staple', salt_for(n, 12), 36000))
n += 1
add('correct horse battery staple', pbkdf2.encode('correct horse battery staple', salt_for(n, 12), 1))
n += 1
add('pässwörd ✓ 日本語 🔑', pbkdf2_sha1.encode('pässwörd ✓ 日本語 🔑', salt_for(n, 12), 12000))
for password in PASSWORDS:
    n += 1
    # Django 3.2's Argon2PasswordHasher: argon2id, t=2, m=102400, p=8.
    add(password, argon2_hasher.encode(password, salt_for(n)))
# argon2i, as Django 1.10-2.x wrote it (Type.I), still verified by Django 3.2.
for password in PASSWORDS[:2]:
    n += 1
    data = argon2.low_level.hash_secret(
        password.encode(), salt_for(n).encode(), time_cost=2, memory_cost=512, parallelism=2, hash_len=16,
        type=argon2.low_level.Type.I,
    )
    add(password, 'argon2' + data.decode('ascii'))
# Argon2 version 1.0 (0x10): no "v=" field, as argon2-cffi < 16 wrote it.
n += 1
data = argon2.low_level.hash_secret(
    b'correct horse battery staple', salt_for(n).encode(), time_cost=2, memory_cost=512, parallelism=2,
    hash_len=16, type=argon2.low_level.Type.I, version=0x10,
)
add('correct horse battery staple', 'argon2' + data.decode('ascii'))
# ... and without the "v=" field, which means version 1.0 too (the reference library's default).
add('correct horse battery staple', 'argon2' + data.decode('ascii').replace('$v=16$', '$'))
for i, password in enumerate(PASSWORDS):
    n += 1
    # Django 3.2's default rounds is 12; lower ones keep the tests quick and are verified the same way.
    add(password, bcrypt_sha256.encode(password, bcrypt_salt(n, 12 if i < 2 else 5)))
for prefix in (b'2a', b'2y'):
    n += 1
    add('correct horse battery staple', bcrypt_sha256.encode('correct horse battery staple', bcrypt_salt(n, 5, prefix)))
for password in PASSWORDS:
    n += 1
    add(password, bcrypt_plain.encode(password, bcrypt_salt(n, 5)), truncates=True)

good_pbkdf2 = entries[0][1]
good_argon2 = next(e[1] for e in entries if e[1].startswith('argon2$argon2id$'))
good_bcrypt = next(e[1] for e in entries if e[1].startswith('bcrypt_sha256$'))
MALFORMED = [
    ['x', ''],
    ['x', '!'],
    ['x', '!' + 'a' * 40],  # make_password(None): an unusable password
    ['correct horse battery staple', '!' + good_pbkdf2],  # set_unusable_password() on top of a real hash
    ['x', 'pbkdf2_sha256'],
    ['x', 'pbkdf2_sha256$'],
    ['x', 'pbkdf2_sha256$$$'],
    ['x', 'pbkdf2_sha256$abc$salt$hash'],
    ['x', 'pbkdf2_sha256$-1$salt$hash'],
    ['x', 'pbkdf2_sha256$1$$hash'],
    ['correct horse battery staple', good_pbkdf2.replace('$260000$', '$0260000$')],
    ['correct horse battery staple', good_pbkdf2.replace('$260000$', '$+260000$')],
    ['correct horse battery staple', good_pbkdf2.replace('$260000$', '$260_000$')],
    ['correct horse battery staple', good_pbkdf2.rstrip('=')],
    ['correct horse battery staple', good_pbkdf2 + '$'],
    ['correct horse battery staple', good_pbkdf2[:-2]],
    ['correct horse battery staple', 'PBKDF2_SHA256' + good_pbkdf2[len('pbkdf2_sha256'):]],
    ['correct horse battery staple', good_pbkdf2 + ' '],
    ['x', 'pbkdf2_sha256$99999999999999999999$salt$hash'],
    ['x', 'md5$salt$hash'],
    ['x', 'unknown$1$2$3'],
    ['x', 'argon2'],
    ['x', 'argon2$'],
    ['x', 'argon2$argon2id$v=19$m=102400,t=2,p=8$$'],
    ['x', 'argon2$argon2id$garbage'],
    ['correct horse battery staple', good_argon2[:-3]],
    ['correct horse battery staple', good_argon2.replace('$argon2id$', '$argon2x$')],
    ['x', 'bcrypt_sha256$'],
    ['x', 'bcrypt_sha256$$2b$12$'],
    ['x', 'bcrypt_sha256$$2b$xx$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQ'],
    ['correct horse battery staple', good_bcrypt[:-1]],
    ['correct horse battery staple', good_bcrypt.replace('$2b$', '$2c$')],
    ['x', 'bcrypt$$2b$12$short'],
]
malformed = []
for password, encoded in MALFORMED:
    try:
        outcome = 'true' if check_password(password, encoded) else 'false'
    except Exception as e:  # noqa: BLE001 -- what Django does is the point
        outcome = type(e).__name__
    assert outcome != 'true', encoded
    malformed.append([password, encoded, outcome])

session_hashes = []
for secret in ['django-insecure-fixture-key', 'ünïcode sécret ✓', 'k' * 100]:
    for password in [good_pbkdf2, good_argon2, '!' + 'a' * 40, '']:
        with override_settings(SECRET_KEY=secret):
            user = User(password=password)
            session_hashes.append([password, secret, user.get_session_auth_hash(), user._legacy_get_session_auth_hash()])

data = {
    'generator': 'test/interop/make-auth-fixtures.py',
    'django': django.get_version(),
    'argon2_cffi': argon2.__version__,
    'bcrypt': bcrypt.__version__,
    'django_defaults': {
        'pbkdf2_iterations': pbkdf2.iterations,
        'salt_length': len(make_password('x').split('$')[2]),
        'argon2': [argon2_hasher.time_cost, argon2_hasher.memory_cost, argon2_hasher.parallelism],
        'bcrypt_rounds': bcrypt_sha256.rounds,
    },
    'passwords': entries,
    'malformed': malformed,
    'session_auth_hash': session_hashes,
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w', encoding='utf-8') as f:
    json.dump(data, f, ensure_ascii=False, indent=1)
    f.write('\n')
print('wrote %s: %d hashes, %d malformed, %d session hashes' % (os.path.relpath(OUT), len(entries), len(malformed), len(session_hashes)), file=sys.stderr)
