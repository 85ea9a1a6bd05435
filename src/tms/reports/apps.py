from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "tms.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from datetime import timedelta

        from tms.core import schedule
        from tms.reports import tasks

        schedule.register(
            schedule.Job("update-rollups", timedelta(minutes=5), tasks.update_rollups)
        )
