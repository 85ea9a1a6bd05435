from django.urls import path

from tms.tracking import callbacks, views

urlpatterns = [
    path("track/", views.track, name="track"),
    path("track/lost/", views.lost_reference, name="track-lost"),
    path("track/<str:reference>/query", views.raise_query, name="track-query"),
    path("lang/<str:code>/", views.switch_language, name="switch-language"),
    path("callbacks/africastalking/ussd", callbacks.ussd, name="at-ussd"),
    path("callbacks/africastalking/sms", callbacks.incoming_sms, name="at-sms"),
]
