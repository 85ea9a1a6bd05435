from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReceiptConfig(AppConfig):
    name = "tms.receipt"
    label = "receipt"
    verbose_name = _("Receipt of documents by scanning")
