from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "tms.audit"
    label = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from tms.audit import listeners  # noqa: F401 (connects the receivers)
