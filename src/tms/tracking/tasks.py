from __future__ import annotations

from django_tasks import task


@task(queue_name="bulk")
def refresh_estimates() -> int:
    from tms.tracking.services import estimates_refresh

    return estimates_refresh()
