"""
Django's login_required and user_passes_test on the interop site, for test/interop/login-required.spec.ts:
the same paths as the Nest app there, so the two redirects (Location) can be compared, and a view that
changes a user's password as an admin would (set_password + save, no update_session_auth_hash), which
ends the user's sessions.
"""
import json

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


def _whoami(request, *args, **kwargs):
    return JsonResponse({"user": request.user.username})


@csrf_exempt
def set_password_view(request):
    body = json.loads(request.body.decode("utf-8") or "{}")
    user = User.objects.get(username=body["username"])
    user.set_password(body["password"])
    user.save()
    return JsonResponse({"ok": True})


urlpatterns = [
    path("page", login_required(_whoami)),
    path("p/<str:slug>", login_required(_whoami)),
    path("custom", login_required(_whoami, login_url="/login/?from=app&x=a+b", redirect_field_name="goto")),
    path("no-next", login_required(_whoami, redirect_field_name=None)),
    path("elsewhere", login_required(_whoami, login_url="https://accounts.example.com/login/")),
    path("set-password", set_password_view),
]
