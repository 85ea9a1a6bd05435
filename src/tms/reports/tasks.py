from __future__ import annotations

from django_tasks import task


@task(queue_name="bulk")
def update_rollups() -> int:
    """Brings the report rollups up to date; returns the number of events folded in."""
    from tms.reports.rollups import rollups_update

    return rollups_update().events
