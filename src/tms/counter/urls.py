from django.urls import path

from tms.counter import views

urlpatterns = [
    path("staff/lodge/", views.lodge, name="counter-lodge"),
    path("staff/lodge/<str:reference>/slip/", views.slip, name="counter-slip"),
    path("staff/find/", views.find, name="counter-find"),
    path("staff/find/<str:reference>/", views.application_detail, name="counter-application"),
    path("staff/find/<str:reference>/code/", views.send_code, name="counter-handover-code"),
    path("staff/find/<str:reference>/hand-over/", views.hand_over, name="counter-handover"),
]
