"""
Views of the messages interop suite (test/interop/messages.spec.ts): django.contrib.messages with
its SessionStorage (MESSAGE_STORAGE in settings.py), under /messages/. Each answers JSON; a message
is described by what a template sees of it (text, level, tags, level_tag, extra_tags, and whether
the text is SafeData, i.e. not escaped).
"""
import json

from django.contrib import messages
from django.http import JsonResponse
from django.urls import path
from django.utils.safestring import SafeData, mark_safe


def _describe(message):
    return {
        "message": str(message.message),
        "level": message.level,
        "tags": message.tags,
        "level_tag": message.level_tag,
        "extra_tags": message.extra_tags,
        "safe": isinstance(message.message, SafeData),
    }


def add_view(request):
    """{"add": [{"level", "message", "extra_tags"?, "safe"?}]}: messages.add_message() for each (extra_tags left to its default unless given)."""
    body = json.loads(request.body.decode("utf-8") or "{}")
    for item in body["add"]:
        text = mark_safe(item["message"]) if item.get("safe") else item["message"]
        kwargs = {"extra_tags": item["extra_tags"]} if "extra_tags" in item else {}
        messages.add_message(request, item["level"], text, **kwargs)
    return JsonResponse({"level": messages.get_level(request)})


def read_view(request):
    """Iterates get_messages(request): the messages are used, so not stored again."""
    return JsonResponse([_describe(m) for m in messages.get_messages(request)], safe=False)


def count_view(request):
    """len(storage): counts without using them."""
    return JsonResponse({"length": len(messages.get_messages(request))})


def raw_view(request):
    """What the session holds under _messages (SessionStorage.session_key), as stored."""
    return JsonResponse({"raw": request.session.get("_messages")})


urlpatterns = [
    path("add", add_view),
    path("read", read_view),
    path("count", count_view),
    path("raw", raw_view),
]
