"""Background workers that survive what production does to them.

- A database restart: the worker waits and carries on instead of exiting.
- A worker killed outright (SIGKILL, a lost machine): the task it had claimed would stay
  "running" for ever. Each worker beats every TMS_WORKER_HEARTBEAT_SECONDS, saying which
  task it is running; a task claimed by a worker that has stopped beating, or that beats
  while running something else (it restarted under the same id, or lost the database
  while recording the result), is released to run again. Our tasks are idempotent, so a
  second run is safe where a lost one is not.
- SIGTERM: django-tasks-db's worker takes no new task and exits when the current one ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from tms.core.models import WorkerHeartbeat
from tms.core.outage import forget_connection

logger = logging.getLogger("tms.worker")

# How long after its claim a task may run before a beat that does not name it counts:
# the claim commits a moment before the worker notes the task as its current one.
CLAIM_GRACE = timedelta(seconds=2)
RETRY_CAP_SECONDS = 10.0


def heartbeat_interval() -> float:
    return float(settings.TMS_WORKER_HEARTBEAT_SECONDS)


def lost_after() -> timedelta:
    return timedelta(seconds=settings.TMS_WORKER_LOST_SECONDS)


# --- Services ---------------------------------------------------------------------------


def heartbeat_record(
    *, worker_id: str, task_id: uuid.UUID | None, started_at: datetime, now: datetime | None = None
) -> None:
    now = now or timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "host": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": started_at,
            "seen_at": now,
            "task_id": task_id,
        },
    )


def heartbeat_remove(*, worker_id: str) -> None:
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


def abandoned_tasks_release(*, now: datetime | None = None) -> list[str]:
    """Put back to ready every running task whose worker is not running it; returns
    their ids. The update is conditional, so two workers releasing at once are safe."""
    now = now or timezone.now()
    beats = {
        beat.worker_id: beat
        for beat in WorkerHeartbeat.objects.filter(seen_at__gte=now - lost_after())
    }
    released: list[str] = []
    running = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, started_at__lt=now - CLAIM_GRACE
    ).values_list("id", "worker_ids", "started_at", "task_path")
    for task_id, worker_ids, started_at, task_path in running:
        worker = worker_ids[-1] if worker_ids else ""
        beat = beats.get(worker)
        if beat is None:
            why = "its worker stopped"
        elif beat.task_id != task_id and beat.seen_at > (started_at or now) + CLAIM_GRACE:
            why = "its worker is no longer running it"
        else:
            continue
        with transaction.atomic():
            done = DBTaskResult.objects.filter(
                id=task_id, status=TaskResultStatus.RUNNING, started_at=started_at
            ).update(status=TaskResultStatus.READY, started_at=None)
        if done:
            released.append(str(task_id))
            logger.warning("task %s (%s) released: %s", task_id, task_path, why)
    return released


# --- The worker process -------------------------------------------------------------------


class TaskWorker(Worker):
    """django-tasks-db's worker, noting the task it runs and riding out database outages."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.current_task: uuid.UUID | None = None
        self.started_at = timezone.now()

    def run_task(self, db_task_result: DBTaskResult) -> None:
        self.current_task = db_task_result.pk
        try:
            super().run_task(db_task_result)
        finally:
            self.current_task = None

    def run(self) -> None:
        delay = 1.0
        while self.running:
            try:
                super().run()
                return
            except DatabaseError as error:
                # A claimed task whose result could not be recorded stays "running" under
                # this worker; the heartbeat shows we are not running it, so it is released.
                logger.warning(
                    "database unavailable (%s); retrying in %.0f s", type(error).__name__, delay
                )
                forget_connection()
                time.sleep(delay)
                delay = min(delay * 2, RETRY_CAP_SECONDS)


def run_heartbeat(worker: TaskWorker, stop: threading.Event) -> None:
    """Beat until stopped. Releasing is left until this worker has reached the database
    for a full lost-after span, so that after an outage every live worker has beaten
    again before anyone judges the others dead."""
    healthy_since: float | None = None
    beats = 0
    while not stop.is_set():
        close_old_connections()
        try:
            heartbeat_record(
                worker_id=worker.worker_id,
                task_id=worker.current_task,
                started_at=worker.started_at,
            )
            now = time.monotonic()
            healthy_since = healthy_since or now
            beats += 1
            # Every few beats: the scan of running tasks is cheap, but not free.
            if now - healthy_since >= lost_after().total_seconds() and beats % 3 == 0:
                abandoned_tasks_release()
        except DatabaseError as error:
            healthy_since = None
            logger.warning("heartbeat failed (%s)", type(error).__name__)
            forget_connection()
        stop.wait(heartbeat_interval())
    # Without the database it will simply look lost; it runs nothing, so nothing is released.
    with contextlib.suppress(DatabaseError):
        heartbeat_remove(worker_id=worker.worker_id)
    connection.close()
