#!/usr/bin/env python3
"""manage.py of the interop test project: a stock Django 3.2 sharing django_session with Nest."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "interop_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
