from django.urls import path

from tms.manifests import views

urlpatterns = [
    path("staff/manifests/", views.manifests, name="manifests"),
    path("staff/manifests/<int:manifest_id>/", views.detail, name="manifest-detail"),
    path("staff/manifests/<int:manifest_id>/commit", views.commit, name="manifest-commit"),
    path("staff/manifests/<int:manifest_id>/resume", views.resume, name="manifest-resume"),
    path(
        "staff/manifests/<int:manifest_id>/progress.json", views.progress, name="manifest-progress"
    ),
    path("staff/manifests/<int:manifest_id>/errors.csv", views.errors_csv, name="manifest-errors"),
]
