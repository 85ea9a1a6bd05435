from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "tms.integrations"
    label = "integrations"
    verbose_name = _("Agency integration")

    def ready(self) -> None:
        from datetime import timedelta

        from tms.core import schedule
        from tms.integrations import listeners, tasks  # noqa: F401  (listeners connect receivers)

        schedule.register(
            schedule.Job("deliver-webhooks", timedelta(minutes=1), tasks.deliver_webhooks)
        )
        schedule.register(
            schedule.Job("prune-idempotency-keys", timedelta(hours=1), tasks.prune_idempotency_keys)
        )
