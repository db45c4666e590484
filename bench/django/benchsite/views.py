import hashlib
import os

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from . import counting


def _padding(n):
    """The first n chars of sha256hex("0") + sha256hex("1") + ..., as every bench server stores it."""
    parts, length, i = [], 0, 0
    while length < n:
        digest = hashlib.sha256(str(i).encode()).hexdigest()
        parts.append(digest)
        length += len(digest)
        i += 1
    return "".join(parts)[:n]


PAD = _padding(int(os.environ.get("BENCH_PAD") or 0)) or None


@require_GET
def none(request):
    return JsonResponse({"ok": True})


@require_GET
def read(request):
    return JsonResponse({"counter": request.session.get("counter", 0)})


@csrf_exempt
@require_POST
def write(request):
    session = request.session
    counter = session.get("counter", 0) + 1
    session["counter"] = counter
    if PAD is not None and "pad" not in session:
        session["pad"] = PAD
    return JsonResponse({"counter": counter})


@require_GET
def stats(request):
    """The statement counts of this worker process (bench/django/server.js: the IPC `stats` reply)."""
    return JsonResponse({"queries": counting.snapshot(), "pid": os.getpid()})


@require_GET
def db_settings(request):
    """What the database runs with (the `settings` of the `ready` message)."""
    out = {"vendor": connection.vendor, "conn_max_age": connection.settings_dict["CONN_MAX_AGE"]}
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for pragma in ("journal_mode", "synchronous", "busy_timeout"):
                cursor.execute("PRAGMA %s" % pragma)
                out[pragma] = cursor.fetchone()[0]
        else:
            cursor.execute("SHOW server_version")
            out["server_version"] = cursor.fetchone()[0]
    return JsonResponse(out)
