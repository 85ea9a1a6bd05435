from datetime import timedelta

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tms.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from tms.core import schedule, tasks

        schedule.register(
            schedule.Job("prune-finished-tasks", timedelta(days=1), tasks.prune_finished_tasks)
        )
