from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackingConfig(AppConfig):
    name = "tms.tracking"
    label = "tracking"
    verbose_name = _("Citizen self-service")

    def ready(self) -> None:
        from datetime import timedelta

        from tms.core import schedule
        from tms.tracking import tasks

        schedule.register(
            schedule.Job("refresh-estimates", timedelta(hours=1), tasks.refresh_estimates)
        )
