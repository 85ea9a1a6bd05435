from django.urls import path

from tms.reports import views

urlpatterns = [
    path("staff/reports/", views.dashboard, name="reports"),
    path("staff/reports/export/<slug:table>.<slug:fmt>", views.export, name="reports-export"),
    path("performance/", views.performance, name="performance"),
]
