"""``tms serve``: the web application under gunicorn, a production WSGI server."""

from __future__ import annotations

import os
import sys
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger

from tms.core.logs import JsonFormatter, PersonalDataFilter, RequestIdFilter

# No query string and no referrer: the hand-over search carries phone and ID numbers
# there. The request id matches the line to the application's own log lines.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'


def prepare_metrics_dir() -> None:
    """Worker processes write their metrics to files in TMS_METRICS_DIR, added up at each
    scrape (prometheus_client's multiprocess mode). Emptied at start: a previous run's
    counts would otherwise be added to this run's.

    Must run before prometheus_client is imported (it picks its storage on import)."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its directory was set")
    directory = settings.TMS_METRICS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def worker_exited(server: Any, worker: Any) -> None:
    """gunicorn's child_exit hook: the dead worker's live gauges stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class ServerLogger(GunicornLogger):
    """gunicorn's own lines (start, worker exits, access log) in the same shape as the
    application's (TMS_LOG_FORMAT), through the same personal-data filter."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(RequestIdFilter())
                handler.addFilter(PersonalDataFilter())
                if settings.TMS_LOG_FORMAT == "json":
                    handler.setFormatter(JsonFormatter())


class WebServer(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from tms.wsgi import application

        return application


class Command(BaseCommand):
    help = "Run the web application under a production WSGI server."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("TMS_BIND", "127.0.0.1:8000"))
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("TMS_WEB_WORKERS", str(min(4, (os.cpu_count() or 1) + 1)))),
            help="Worker processes (default: cores + 1, at most 4; TMS_WEB_WORKERS).",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=int(os.environ.get("TMS_WEB_THREADS", "4")),
            help="Threads per worker process (TMS_WEB_THREADS).",
        )
        parser.add_argument(
            "--no-collectstatic",
            action="store_true",
            help="Skip collecting static files (they are collected at each start by default).",
        )

    def execute(self, *args: Any, **options: Any) -> Any:
        # Before the system checks, which import the URLs and so the metrics.
        prepare_metrics_dir()
        return super().execute(*args, **options)

    def handle(self, *, bind: str, workers: int, threads: int, **options: Any) -> None:
        if settings.IS_PRODUCTION and not options["no_collectstatic"]:
            # The app serves its own static files (no CDN); the manifest must exist.
            call_command("collectstatic", interactive=False, verbosity=0)
        WebServer(
            {
                "bind": bind,
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread" if threads > 1 else "sync",
                "accesslog": "-" if options["verbosity"] > 1 else None,
                "access_log_format": ACCESS_LOG_FORMAT,
                "child_exit": worker_exited,
                "logger_class": ServerLogger,
                "errorlog": "-",
                "graceful_timeout": 20,
                "timeout": 60,
                "proc_name": "tms-web",
                # gunicorn's control socket, in the data directory: the default under the
                # home directory is shared by every server on the machine, and systemd's
                # ProtectHome makes it unwritable.
                "control_socket": str(settings.DATA_DIR / "gunicorn.ctl"),
            }
        ).run()
