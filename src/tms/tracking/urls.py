from django.urls import path

from tms.tracking import views

urlpatterns = [
    path("track/", views.track, name="track"),
    path("track/lost/", views.lost_reference, name="track-lost"),
    path("track/<str:reference>/query", views.raise_query, name="track-query"),
    path("lang/<str:code>/", views.switch_language, name="switch-language"),
]
