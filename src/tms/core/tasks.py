from __future__ import annotations

from django.core.management import call_command
from django_tasks import task


@task(queue_name="default")
def prune_finished_tasks() -> None:
    """Finished background task results pile up in the database queue; keep a week."""
    from django.conf import settings

    if settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend":
        call_command("prune_db_task_results", min_age_days=7, failed_min_age_days=30, verbosity=0)
