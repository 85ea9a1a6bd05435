"""``tms seed_demo``: reference data, holidays, demo logins and demo applications."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs in the dev extras

from tms.demo import services


class Command(BaseCommand):
    help = (
        "Load the demo: Huduma centres, agencies, services, Kenyan public holidays, "
        "the demo administrator and (once) about six months of applications. "
        "Safe to run again."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--applications",
            type=int,
            default=services.DEMO_APPLICATIONS,
            help="Demo applications to create on the first run (default %(default)s).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *, applications: int, no_progress: bool, **options: Any) -> None:
        # The demo administrator has a published password: never in production.
        if settings.IS_PRODUCTION:
            raise CommandError("seed_demo runs with TMS_MODE=demo or test, never in production.")
        if applications < 1:
            raise CommandError("--applications must be at least 1.")
        self.stdout.write("Loading reference data, public holidays and demo logins...")
        bar = tqdm(total=applications, unit="app", desc="Demo applications", disable=no_progress)
        with bar:
            report = services.demo_seed(applications=applications, progress=bar.update)
        ref = report.reference
        self.stdout.write(
            f"Reference data: {ref.centres} centres, {ref.agencies} agencies, "
            f"{ref.services} services, {ref.holidays} public holidays."
        )
        if report.generation is None:
            self.stdout.write("Demo applications already present: none added.")
        else:
            gen = report.generation
            self.stdout.write(
                f"Created {gen.applications:,} demo applications with {gen.events:,} "
                f"history events in {gen.seconds:.1f} s."
            )
        self.stdout.write(self.style.SUCCESS("Demo logins:"))
        for login in report.logins:
            self.stdout.write(
                f"  {login.username} / {login.password}  ({login.role}); "
                f"authenticator key {login.totp_secret}"
            )
