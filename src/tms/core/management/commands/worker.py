"""``tms worker``: runs background tasks from every queue, and the scheduled jobs.

Any number of workers may run, on any machines: each task is claimed by one
worker, and each scheduled job runs once per period (see tms.core.schedule).
"""

from __future__ import annotations

import logging
import threading
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from tms.core import schedule

logger = logging.getLogger("tms.worker")


def run_scheduler(stop: threading.Event) -> None:
    while not stop.is_set():
        close_old_connections()
        try:
            schedule.run_due_jobs()
        except Exception:
            # A database restart must not kill the scheduler; it tries again shortly.
            logger.exception("scheduled jobs check failed")
        stop.wait(settings.TMS_SCHEDULE_CHECK_SECONDS)
    connection.close()


class Command(DatabaseWorkerCommand):
    help = "Run background tasks and scheduled jobs."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(queue_name="*", reload=False)
        parser.add_argument(
            "--no-schedule", action="store_true", help="Run tasks only, not scheduled jobs."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        if not options.pop("no_schedule") and not options.get("batch"):
            threading.Thread(target=run_scheduler, args=(stop,), daemon=True).start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
