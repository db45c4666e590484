"""
Views of the interop project: each one does what a Django app does with request.session and
answers JSON describing the session as Django sees it. The Nest test app (test/interop/nest/
server.ts) has the same routes, so a test can run any step on either side.
"""
import base64
import json
import pickle
from datetime import datetime
from importlib import import_module

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.http import JsonResponse


def _body(request):
    return json.loads(request.body.decode("utf-8") or "{}")


def _describe(session):
    # items() first: loading is what resets an unknown/expired key to None.
    data = dict(session.items())
    out = {
        "key": session.session_key,
        "data": data,
        "types": {k: type(v).__name__ for k, v in data.items()},
        "browser_close": session.get_expire_at_browser_close(),
    }
    try:
        out["expiry_age"] = session.get_expiry_age()
        out["expiry_date"] = session.get_expiry_date().isoformat()
    except Exception as error:  # Django 3.2 cannot compute it for an ISO-string _session_expiry
        out["expiry_error"] = repr(error)
    return out


def _reply(request, **extra):
    return JsonResponse({**_describe(request.session), **extra})


def session_view(request):
    return _reply(request)


def set_view(request):
    for key, value in _body(request).items():
        request.session[key] = value
    return _reply(request)


def pop_view(request):
    request.session.pop(_body(request)["key"], None)
    return _reply(request)


def expiry_view(request):
    body = _body(request)
    if body.get("reset"):
        request.session.set_expiry(None)
    elif "date" in body:
        # Stock Django 3.2 keeps the datetime object, which the JSONSerializer cannot save (500).
        request.session.set_expiry(datetime.fromisoformat(body["date"].replace("Z", "+00:00")))
    else:
        request.session.set_expiry(int(body["seconds"]))
    return _reply(request)


def users_view(request):
    body = _body(request)
    user = User.objects.filter(username=body["username"]).first()
    if user is None:
        user = User.objects.create_user(body["username"], password=body.get("password", "pw"))
    return JsonResponse({"id": user.pk, "username": user.username})


def login_view(request):
    user = User.objects.get(username=_body(request)["username"])
    auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return _reply(request)


def logout_view(request):
    auth.logout(request)
    return _reply(request)


def whoami_view(request):
    # request.user checks _auth_user_hash against the user's password hash (and flushes on mismatch).
    user = request.user
    return JsonResponse({"user": user.username if user.is_authenticated else None})


def cycle_view(request):
    request.session.cycle_key()
    return _reply(request)


def flush_view(request):
    request.session.flush()
    return _reply(request)


def store_view(request, key):
    """Django's SessionStore(session_key=key) outside the request cycle, plus the raw row."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    out = _describe(store)
    out["exists"] = store.exists(key)
    row = Session.objects.filter(session_key=key).first()
    out["row"] = None if row is None else {
        "expire_date": row.expire_date.isoformat(),
        "session_data": row.session_data,
        "decoded": row.get_decoded(),
    }
    return JsonResponse(out)


def cache_entry_view(request, key):
    """
    The Redis entry of session `key` (cache and cached_db engines), read around the cache API:
    the key the cache makes for it, its PTTL, the raw bytes, and those bytes decoded here with
    pickle.loads / json.loads directly (django-redis's serializers and Django's own RedisCache's,
    for a dict, are exactly those calls).
    """
    from django.core.cache import caches
    from django_redis import get_redis_connection

    engine = import_module(settings.SESSION_ENGINE).SessionStore
    cache = caches[settings.SESSION_CACHE_ALIAS]
    cache_key = cache.make_key(engine.cache_key_prefix + key)
    if hasattr(cache, "client"):  # django-redis
        connection = get_redis_connection(settings.SESSION_CACHE_ALIAS)
    else:  # Django 4.0+'s own RedisCache (pickle only: the else below)
        connection = cache._cache.get_client(cache_key)
    raw = connection.get(cache_key)
    out = {"cache_key": cache_key, "exists": raw is not None, "pttl": connection.pttl(cache_key)}
    if raw is not None:
        serializer = settings.CACHES[settings.SESSION_CACHE_ALIAS].get("OPTIONS", {}).get("SERIALIZER", "")
        data = json.loads(raw.decode("utf-8")) if serializer.endswith("JSONSerializer") else pickle.loads(raw)
        out.update({
            "raw": base64.b64encode(raw).decode("ascii"),
            "data": data,
            "type": type(data).__name__,
            "types": {k: type(v).__name__ for k, v in data.items()},
        })
    return JsonResponse(out)


def clear_expired_view(request):
    before = Session.objects.count()
    call_command("clearsessions")
    return JsonResponse({"deleted": before - Session.objects.count()})
