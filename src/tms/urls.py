from django.contrib import admin
from django.urls import include, path

from tms.api import api
from tms.core import views as core_views
from tms.core.metrics import metrics_view

handler500 = "tms.core.outage.server_error"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("tms.notifications.urls")),
    path("", include("tms.tracking.urls")),
    path("", include("tms.accounts.urls")),
    path("", include("tms.audit.urls")),
    path("", include("tms.counter.urls")),
    path("", include("tms.receipt.urls")),
    path("", include("tms.manifests.urls")),
    path("", include("tms.backlog.urls")),
    path("", include("tms.reports.urls")),
]
