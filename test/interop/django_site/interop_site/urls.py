from django.urls import include, path

from . import views

urlpatterns = [
    path("session", views.session_view),
    path("set", views.set_view),
    path("pop", views.pop_view),
    path("expiry", views.expiry_view),
    path("login", views.login_view),
    path("logout", views.logout_view),
    path("whoami", views.whoami_view),
    path("cycle", views.cycle_view),
    path("flush", views.flush_view),
    path("users", views.users_view),
    path("store/<str:key>", views.store_view),
    path("clear-expired", views.clear_expired_view),
    path("cache-entry/<str:key>", views.cache_entry_view),
    path("messages/", include("interop_site.messages_views")),
    path("csrf/", include("interop_site.csrf_views")),
    path("lr/", include("interop_site.login_required_views")),
]
