"""``tms serve``: the web application under gunicorn, a production WSGI server."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from gunicorn.app.base import BaseApplication


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
                "errorlog": "-",
                "graceful_timeout": 20,
                "timeout": 60,
                "proc_name": "tms-web",
            }
        ).run()
