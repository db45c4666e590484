from django.urls import path

from . import views

urlpatterns = [
    path("none", views.none),
    path("read", views.read),
    path("write", views.write),
    path("__bench/stats", views.stats),
    path("__bench/settings", views.db_settings),
]
