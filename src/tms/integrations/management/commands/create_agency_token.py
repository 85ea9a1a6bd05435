"""``tms create_agency_token AGENCY_CODE --name NAME``: prints the token once, alone."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError
from django.utils import timezone

from tms.directory.models import Agency
from tms.integrations.tokens import token_create


class Command(BaseCommand):
    help = "Create an API token for an agency and print it once on stdout."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("agency_code")
        parser.add_argument(
            "--name", required=True, help="What the token is for, e.g. 'NRB production'."
        )
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(
        self, *, agency_code: str, name: str, expires_in_days: int | None, **options: Any
    ) -> None:
        agency = Agency.objects.filter(code=agency_code.upper()).first()
        if agency is None:
            raise CommandError(f"No agency has the code {agency_code!r}.")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            _, plain = token_create(agency=agency, name=name, expires_at=expires_at)
        except IntegrityError:
            raise CommandError(
                f"Agency {agency.code} already has a token named {name!r}."
            ) from None
        self.stdout.write(plain)
