"""Periodic jobs run by ``tms worker``, without cron.

Each app registers its jobs in its AppConfig.ready(). Every worker checks the
schedule; the first to insert the (job, period) row enqueues the job's task, in
the same transaction, so a job runs once per period however many workers run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tms.core.models import ScheduledRun

logger = logging.getLogger(__name__)
EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday, so weekly periods start on Mondays


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    task: Any  # a django_tasks Task taking no arguments

    def period_start(self, now: datetime) -> datetime:
        periods = (now - EPOCH) // self.every
        return EPOCH + periods * self.every


JOBS: dict[str, Job] = {}


def register(job: Job) -> None:
    JOBS[job.name] = job


def run_due_jobs(*, now: datetime | None = None) -> list[str]:
    """Enqueue every job whose current period has no run yet; returns their names."""
    now = now or timezone.now()
    started = []
    for job in JOBS.values():
        try:
            with transaction.atomic():
                ScheduledRun.objects.create(job=job.name, period_start=job.period_start(now))
                job.task.enqueue()
        except IntegrityError:
            continue  # another worker took this period
        started.append(job.name)
        logger.info("scheduled job enqueued: %s", job.name)
    return started
