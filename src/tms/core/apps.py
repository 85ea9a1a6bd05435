from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tms.core"
    label = "core"
    verbose_name = "Core"
