"""tms rebuild_rollups: empty the report rollups and replay the whole history."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from tms.reports.rollups import rollups_rebuild


class Command(BaseCommand):
    help = "Rebuild the report rollups from the whole history (safe to run at any time)."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"events {done:,} / {total:,}")

        summary = rollups_rebuild(progress=progress)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Rollups rebuilt: {summary.events:,} events, {summary.sms_days} days of SMS "
                f"figures, in {elapsed:.1f} s."
            )
        )
