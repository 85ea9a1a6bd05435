from django.urls import path

from tms.notifications import views

urlpatterns = [
    path("callbacks/africastalking/delivery", views.delivery_report, name="at-delivery"),
    path("staff/sms/", views.outbox, name="sms-outbox"),
    path("staff/sms/<int:message_id>/resend", views.resend, name="sms-resend"),
]
