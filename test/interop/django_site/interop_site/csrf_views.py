"""
CSRF views of the interop project (test/interop/csrf.spec.ts): Django's own CSRF protection on
views of their own, by @csrf_protect — the project has no CsrfViewMiddleware, so every other view
is unaffected. Included under csrf/ by urls.py. A refusal answers {"reason": ...} with 403
(CSRF_FAILURE_VIEW in settings.py), so a test can compare Django's reason with Nest's.
"""
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.template import Engine, RequestContext
from django.urls import path
from django.views.decorators.csrf import csrf_protect

from . import views

# The {% csrf_token %} tag, rendered by Django's template engine with the csrf context processor
# (the project has no TEMPLATES setting: an engine of its own).
_ENGINE = Engine(context_processors=["django.template.context_processors.csrf"])
_FORM = _ENGINE.from_string(
    '<!doctype html><form method="post" action="/csrf/submit">{% csrf_token %}'
    '<input name="name" value="from Django"><button type="submit">Send</button></form>'
)


@csrf_protect
def form_view(request):
    return HttpResponse(_FORM.render(RequestContext(request, {})))


@csrf_protect
def token_view(request):
    return JsonResponse({"token": get_token(request)})


@csrf_protect
def submit_view(request):
    return JsonResponse({"ok": True, "name": request.POST.get("name")})


@csrf_protect
def session_view(request):
    return JsonResponse({"csrf": request.session.get("_csrftoken"), "user": request.session.get("_auth_user_id")})


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: Django's reason, as JSON."""
    return JsonResponse({"reason": reason}, status=403)


urlpatterns = [
    path("form", form_view),
    path("token", token_view),
    path("submit", submit_view),
    # Django's own login view (auth.login(), which calls rotate_token()), with the middleware's
    # process_response around it, which sends the rotated cookie.
    path("login", csrf_protect(views.login_view)),
    path("session", session_view),
]
