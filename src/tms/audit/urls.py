from django.urls import path

from tms.audit import views

urlpatterns = [path("staff/audit/", views.trail, name="audit-trail")]
