"""Workers in production: a killed worker's task runs again elsewhere; SIGTERM lets the
running task finish. Real `tms worker` processes on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks import TaskContext, task
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tms.core import workers
from tms.core.models import WorkerHeartbeat
from tms.testing import database


@task(takes_context=True)
def stuck_on_first_run(context: TaskContext) -> str:
    """Hangs the first time (until its worker is killed); the second run finishes."""
    if len(context.task_result.worker_ids) == 1:
        time.sleep(120)
    return f"run {len(context.task_result.worker_ids)}"


@task()
def takes_two_seconds() -> str:
    time.sleep(2)
    return "finished"


def enqueue(path: str) -> uuid.UUID:
    result = DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path=path,
        queue_name="default",
        backend_name="default",
        run_after=timezone.now() - timedelta(seconds=1),
    )
    return result.pk


def running(
    *, worker: str, started: timedelta, path: str = "tms.core.tests.test_workers.takes_two_seconds"
) -> uuid.UUID:
    result = DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path=path,
        queue_name="default",
        backend_name="default",
        run_after=timezone.now(),
        status=TaskResultStatus.RUNNING,
        started_at=timezone.now() - started,
        worker_ids=[worker],
    )
    return result.pk


def beat(worker: str, *, task_id: uuid.UUID | None, ago: timedelta = timedelta(0)) -> None:
    workers.heartbeat_record(
        worker_id=worker, task_id=task_id, started_at=timezone.now(), now=timezone.now() - ago
    )


def status(task_id: uuid.UUID) -> str:
    return DBTaskResult.objects.get(pk=task_id).status


@pytest.mark.django_db
def test_only_tasks_their_worker_is_not_running_are_released(settings):
    settings.TMS_WORKER_LOST_SECONDS = 30
    dead = running(worker="dead", started=timedelta(minutes=5))
    beat("dead", task_id=dead, ago=timedelta(seconds=31))
    never_beat = running(worker="never-beat", started=timedelta(minutes=1))
    busy = running(worker="busy", started=timedelta(minutes=5))
    beat("busy", task_id=busy)
    restarted = running(worker="restarted", started=timedelta(minutes=5))
    beat("restarted", task_id=None)  # same id, new process: it runs nothing
    just_claimed = running(worker="slow-to-note", started=timedelta(seconds=1))
    beat("slow-to-note", task_id=None)

    released = workers.abandoned_tasks_release()

    assert sorted(released) == sorted(str(t) for t in (dead, never_beat, restarted))
    assert [status(t) for t in (dead, never_beat, restarted)] == ["READY"] * 3
    assert status(busy) == status(just_claimed) == "RUNNING"
    assert workers.abandoned_tasks_release() == []


# --- Real processes ----------------------------------------------------------------------


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    env = {
        **os.environ,
        "TMS_MODE": "demo",
        "TMS_DATA_DIR": str(tmp_path),
        "TMS_DATABASE_URL": database.url(connection),
        "TMS_TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "TMS_WORKER_HEARTBEAT_SECONDS": "0.3",
        "TMS_WORKER_LOST_SECONDS": "2",
        "TMS_LOG_LEVEL": "WARNING",
    }
    started: list[subprocess.Popen[bytes]] = []

    def start(worker_id: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "tms.cli", "worker", "--no-schedule", "--interval",
                   "0.2", "--no-startup-delay", "--worker-id", worker_id]  # fmt: skip
        log = (tmp_path / f"{worker_id}.log").open("ab")
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_the_task_of_a_killed_worker_runs_again_on_another(start_worker):
    task_id = enqueue("tms.core.tests.test_workers.stuck_on_first_run")
    first = start_worker("first")
    assert wait_for(lambda: status(task_id) == "RUNNING", 30)

    first.send_signal(signal.SIGKILL)
    first.wait()
    start_worker("second")

    assert wait_for(lambda: status(task_id) == "SUCCESSFUL", 30)
    result = DBTaskResult.objects.get(pk=task_id)
    assert result.worker_ids == ["first", "second"]
    assert result.return_value == "run 2"


@pytest.mark.django_db(transaction=True)
def test_sigterm_lets_the_running_task_finish_then_the_worker_leaves(start_worker):
    task_id = enqueue("tms.core.tests.test_workers.takes_two_seconds")
    worker = start_worker("stopping")
    assert wait_for(lambda: status(task_id) == "RUNNING", 30)
    assert wait_for(lambda: WorkerHeartbeat.objects.filter(task_id=task_id).exists(), 10)

    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=30) == 0
    assert status(task_id) == "SUCCESSFUL"
    assert DBTaskResult.objects.get(pk=task_id).return_value == "finished"
    assert not WorkerHeartbeat.objects.filter(worker_id="stopping").exists()
