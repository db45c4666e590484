"""
Counts the SQL statements Django runs (SELECT / write / other, and errors) with an execute_wrapper on
every connection (gthread: one connection per thread), and sets the sqlite pragmas when a connection
opens. views.stats serves the counts to bench/django/server.js.
"""
import threading

from django.conf import settings
from django.db.backends.signals import connection_created
from django.dispatch import receiver

counts = {"select": 0, "write": 0, "other": 0, "errors": 0}
_lock = threading.Lock()
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _kind(sql):
    head = sql.lstrip()[:7].upper()
    if head.startswith(("SELECT", "WITH")):
        return "select"
    if head.startswith(_WRITES):
        return "write"
    return "other"


def count_statement(execute, sql, params, many, context):
    kind = _kind(sql)
    try:
        return execute(sql, params, many, context)
    except Exception:
        with _lock:
            counts["errors"] += 1
        raise
    finally:
        with _lock:
            counts[kind] += 1


@receiver(connection_created)
def on_connection_created(sender, connection, **kwargs):
    if count_statement not in connection.execute_wrappers:
        connection.execute_wrappers.append(count_statement)
    if connection.vendor == "sqlite":
        # journal_mode stays in the file; synchronous is per connection. Counted as "other".
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = %s" % settings.SYNC)


def snapshot():
    with _lock:
        return dict(counts)
