from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "tms.notifications"
    label = "notifications"
    verbose_name = _("SMS notifications")

    def ready(self) -> None:
        from datetime import timedelta

        from django.conf import settings

        from tms.core import schedule
        from tms.notifications import listeners, tasks  # noqa: F401  (listeners connect receivers)

        # Safety nets: sends are started on commit; these catch retries, quiet-hour
        # holds and anything a crash left behind.
        every = timedelta(seconds=settings.TMS_SMS_SWEEP_SECONDS)
        schedule.register(schedule.Job("send-due-sms", every, tasks.send_due_sms))
        schedule.register(schedule.Job("sweep-sms", every, tasks.sweep_sms))
        schedule.register(
            schedule.Job("queue-reminders", timedelta(hours=1), tasks.queue_reminders)
        )
