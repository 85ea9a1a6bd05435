from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ManifestsConfig(AppConfig):
    name = "tms.manifests"
    label = "manifests"
    verbose_name = _("Manifests: documents received in bulk")
