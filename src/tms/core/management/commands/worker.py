"""``tms worker``: runs background tasks from every queue, and the scheduled jobs.

Any number of workers may run, on any machines: each task is claimed by one
worker, and each scheduled job runs once per period (see tms.core.schedule). A
worker rides out database restarts, and the task of a worker that died is run
again by another (see tms.core.workers).
"""

from __future__ import annotations

import gc
import logging
import threading
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError, close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from tms.core import schedule
from tms.core.outage import database_unavailable, forget_connection
from tms.core.workers import TaskWorker, run_heartbeat

logger = logging.getLogger("tms.worker")


def run_scheduler(stop: threading.Event) -> None:
    while not stop.is_set():
        close_old_connections()
        try:
            schedule.run_due_jobs()
        except DatabaseError as error:
            # A database restart must not kill the scheduler; it tries again shortly.
            level = logging.WARNING if database_unavailable(error) else logging.ERROR
            logger.log(level, "scheduled jobs check failed (%s)", type(error).__name__)
            forget_connection()
        except Exception:
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
        if options.get("reload"):
            raise CommandError("tms worker does not reload; restart it instead.")
        self.configure_logging(options["verbosity"])
        queues = options["queue_name"].split(",")
        excluded = options["exclude_queues"].split(",") if options["exclude_queues"] else []
        if excluded and "*" not in queues:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = TaskWorker(
            queue_names=queues,
            interval=options["interval"],
            batch=options["batch"],
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
            excluded_queue_names=excluded,
        )
        # Django and the apps, loaded by now, live as long as the process: leave them out
        # of the garbage collector's full passes (as tms.wsgi does for the web processes).
        gc.freeze()
        stop = threading.Event()
        threads = [threading.Thread(target=run_heartbeat, args=(worker, stop), daemon=True)]
        if not options["no_schedule"] and not options["batch"]:
            threads.append(threading.Thread(target=run_scheduler, args=(stop,), daemon=True))
        for thread in threads:
            thread.start()
        worker.configure_signals()
        try:
            worker.run()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5)
