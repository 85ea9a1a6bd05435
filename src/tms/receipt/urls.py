from django.urls import path

from tms.receipt import views

urlpatterns = [
    path("staff/scan/", views.scan, name="receipt-scan"),
    path("staff/scan/json/", views.scan_json, name="receipt-scan-json"),
    path("staff/scan/undo/", views.undo, name="receipt-scan-undo"),
    path("staff/scan/new/", views.reset, name="receipt-scan-reset"),
]
