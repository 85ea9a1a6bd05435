"""Background work for personal-data retention: thin, named, idempotent."""

from __future__ import annotations

from django_tasks import task


@task(queue_name="bulk")
def anonymise_closed_applications() -> int:
    """Anonymise what is past the retention period; returns the applications anonymised."""
    from tms.privacy.services import personal_data_anonymise

    return personal_data_anonymise().applications
