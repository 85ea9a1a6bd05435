from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "tms.privacy"
    label = "privacy"
    verbose_name = _("Personal data retention")

    def ready(self) -> None:
        from datetime import timedelta

        from tms.core import schedule
        from tms.privacy import tasks

        # Daily periods start at midnight UTC (03:00 in Nairobi): a quiet hour.
        schedule.register(
            schedule.Job(
                "anonymise-closed-applications",
                timedelta(days=1),
                tasks.anonymise_closed_applications,
            )
        )
