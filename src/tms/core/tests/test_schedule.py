from datetime import UTC, datetime, timedelta

import pytest
from django_tasks import task

from tms.core import schedule
from tms.core.models import ScheduledRun

calls: list[str] = []


@task()
def record_call() -> None:
    calls.append("ran")


@pytest.fixture
def hourly_job(monkeypatch):
    monkeypatch.setattr(schedule, "JOBS", {})
    calls.clear()
    job = schedule.Job("test-hourly", timedelta(hours=1), record_call)
    schedule.register(job)
    return job


@pytest.mark.django_db
def test_a_job_runs_once_per_period_however_often_workers_check(hourly_job):
    now = datetime(2026, 11, 27, 10, 15, tzinfo=UTC)

    first = schedule.run_due_jobs(now=now)
    again = schedule.run_due_jobs(now=now + timedelta(minutes=30))

    assert first == ["test-hourly"]
    assert again == []
    assert calls == ["ran"]
    assert ScheduledRun.objects.get().period_start == datetime(2026, 11, 27, 10, tzinfo=UTC)


@pytest.mark.django_db
def test_the_next_period_runs_again(hourly_job):
    now = datetime(2026, 11, 27, 10, 59, tzinfo=UTC)

    schedule.run_due_jobs(now=now)
    schedule.run_due_jobs(now=now + timedelta(minutes=2))

    assert calls == ["ran", "ran"]
    assert ScheduledRun.objects.count() == 2


def test_weekly_periods_start_on_monday():
    job = schedule.Job("weekly", timedelta(days=7), record_call)
    start = job.period_start(datetime(2026, 11, 27, 12, tzinfo=UTC))  # a Friday
    assert start == datetime(2026, 11, 23, tzinfo=UTC)
    assert start.weekday() == 0
