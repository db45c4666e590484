#!/bin/sh
# Installs what bench/django/server.js needs, from Debian, when missing (idempotent; needs root):
# Django 3.2 (python3-django), psycopg2 (python3-psycopg2) and gunicorn 20.1, all for /usr/bin/python3.
set -e
missing=""
/usr/bin/python3 -c 'import django' 2>/dev/null || missing="$missing python3-django"
/usr/bin/python3 -c 'import psycopg2' 2>/dev/null || missing="$missing python3-psycopg2"
/usr/bin/python3 -c 'import gunicorn' 2>/dev/null || missing="$missing gunicorn"
if [ -z "$missing" ]; then
  echo "bench/django/setup.sh: Django, psycopg2 and gunicorn are installed"
  exit 0
fi
echo "bench/django/setup.sh: installing$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
