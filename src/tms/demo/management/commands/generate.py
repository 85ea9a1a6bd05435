"""``tms generate``: synthetic applications with full histories, in bulk, for load tests."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone
from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs in the dev extras

from tms.demo import services


class Command(BaseCommand):
    help = (
        "Fill the database with N synthetic applications and their histories (about six "
        "months, every state). Tops reference data up to the design point of 60 centres, "
        "40 agencies and 200 services unless --no-design-point."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--applications", type=int, required=True, metavar="N")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument(
            "--batch",
            type=int,
            default=services.DEFAULT_BATCH,
            help="Applications per transaction (default %(default)s).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Processes that compute batches while this one writes (default: none on "
            "2 CPUs or fewer and for small runs, else CPUs - 2, at most 3).",
        )
        parser.add_argument(
            "--no-design-point",
            action="store_true",
            help="Use the active centres and services already in the database as they are.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(
        self,
        *,
        applications: int,
        seed: int,
        batch: int,
        workers: int | None,
        no_design_point: bool,
        no_progress: bool,
        **options: Any,
    ) -> None:
        # Synthetic people must never mix with real citizens' applications.
        if settings.IS_PRODUCTION:
            raise CommandError("generate runs with TMS_MODE=demo or test, never in production.")
        if applications < 1 or batch < 1:
            raise CommandError("--applications and --batch must be at least 1.")
        if workers is not None and workers < 0:
            raise CommandError("--workers cannot be negative.")
        today = timezone.localdate()
        counts = services.synthetic_reference_prepare(design_point=not no_design_point, today=today)
        service_rows, centre_rows = services.design_point_reference()
        if not service_rows or not centre_rows:
            raise CommandError("No active services or centres: run without --no-design-point.")
        self.stdout.write(
            f"Reference data: {counts.centres} centres, {counts.agencies} agencies, "
            f"{counts.services} services, {counts.holidays} public holidays "
            f"({len(centre_rows)} centres and {len(service_rows)} services active). "
            f"Database: {connection.vendor}."
        )
        self.stdout.flush()
        bar = tqdm(total=applications, unit="app", unit_scale=True, disable=no_progress)
        with bar:
            report = services.applications_generate(
                count=applications,
                seed=seed,
                services=service_rows,
                centres=centre_rows,
                batch_size=batch,
                workers=workers,
                today=today,
                progress=bar.update,
            )
        self.stdout.write(
            f"Generated {report.applications:,} applications and {report.events:,} events "
            f"in {report.seconds:.2f} s: {report.applications_per_second:,.0f} applications/s, "
            f"{report.events_per_second:,.0f} events/s."
        )
