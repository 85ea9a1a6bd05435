"""tms anonymise_closed_applications: the retention job, run by hand (SPEC §11)."""

from __future__ import annotations

import math
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from tms.privacy.selectors import applications_due, retention_cutoff
from tms.privacy.services import AnonymiseSummary, personal_data_anonymise


class Command(BaseCommand):
    help = (
        "Anonymise the personal data of applications closed longer ago than "
        "TMS_PERSONAL_DATA_RETENTION_DAYS (the daily job does the same)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count the applications that would be anonymised; change nothing.",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=1000,
            help="Applications per transaction (default 1000).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch = options["batch"]
        if batch < 1:
            raise CommandError(_("--batch must be at least 1."))
        now = timezone.now()
        days = settings.TMS_PERSONAL_DATA_RETENTION_DAYS
        cutoff = timezone.localtime(retention_cutoff(now=now))
        self.stdout.write(
            _("Retention: %(days)d days; applications closed before %(cutoff)s.")
            % {"days": days, "cutoff": cutoff.strftime("%Y-%m-%d %H:%M %Z")}
        )
        if options["dry_run"]:
            due = applications_due(now=now).count()
            self.stdout.write(
                _("Dry run: %(due)s applications would be anonymised in %(batches)s batches.")
                % {"due": f"{due:,}", "batches": f"{math.ceil(due / batch):,}"}
            )
            return

        def progress(summary: AnonymiseSummary) -> None:
            self.stdout.write(
                _("batch %(batch)s: %(applications)s applications anonymised so far")
                % {
                    "batch": f"{summary.batches:,}",
                    "applications": f"{summary.applications:,}",
                }
            )

        summary = personal_data_anonymise(now=now, batch=batch, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Anonymised %(applications)s applications in %(batches)s batches; "
                    "blanked %(messages)s older SMS replies and %(reports)s unmatched "
                    "delivery reports."
                )
                % {
                    "applications": f"{summary.applications:,}",
                    "batches": f"{summary.batches:,}",
                    "messages": f"{summary.unlinked_messages:,}",
                    "reports": f"{summary.delivery_reports:,}",
                }
            )
        )
