"""``tms demo`` (what ``make demo`` runs): set up, seed, then run web and worker together."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from tms.demo.services import demo_logins


class Command(BaseCommand):
    help = "Run the whole system with demo data: migrate, seed, web server and worker."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000")

    def handle(self, *, bind: str, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("tms demo runs with TMS_MODE=demo only (make demo sets it).")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database ready. Loading demo data (first run takes a moment)...")
        call_command("seed_demo", stdout=self.stdout)
        tms = [sys.executable, "-m", "tms.cli"]
        processes = [
            subprocess.Popen([*tms, "serve", "--bind", bind, "--workers", "2"]),  # noqa: S603
            subprocess.Popen([*tms, "worker", "--interval", "1"]),  # noqa: S603
        ]
        logins = "\n".join(
            f"    {login.username} / {login.password}  ({login.role})\n"
            f"      authenticator key: {login.totp_secret}"
            for login in demo_logins()
        )
        self.stdout.write(
            self.style.SUCCESS(f"\nTrack My Service is running at http://{bind}/\n")
            + f"  Citizens: http://{bind}/track/\n"
            + f"  Staff sign-in: http://{bind}/staff/  (administration: http://{bind}/admin/)\n"
            + f"  SMS outbox (what citizens receive): http://{bind}/staff/sms/\n"
            + "  Demo logins: the password, then the 6-digit code of the key in an\n"
            + "  authenticator app, or the current code from\n"
            + f"  TMS_MODE=demo .venv/bin/tms demo_code USERNAME\n{logins}\n"
            + "  Press Ctrl-C to stop.\n"
        )
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(p.poll() is None for p in processes):
                time.sleep(0.5)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=25)
                except subprocess.TimeoutExpired:
                    process.kill()
            self.stdout.write("Stopped web server and worker.")
        failed = [p.args for p in processes if p.returncode not in (0, -signal.SIGTERM, None)]
        if failed and not stopping:
            raise CommandError(f"A process stopped unexpectedly: {failed}")
