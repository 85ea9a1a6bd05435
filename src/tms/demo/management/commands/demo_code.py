"""``tms demo_code USERNAME``: the current second-factor code of a demo login (demo only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tms.demo.services import demo_code, demo_logins


class Command(BaseCommand):
    help = "Print the current authenticator code of a demo login (TMS_MODE=demo only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", choices=[login.username for login in demo_logins()])

    def handle(self, *, username: str, **options: Any) -> None:
        if settings.TMS_MODE != "demo":
            raise CommandError("demo_code works with TMS_MODE=demo only (the demo's fixed keys).")
        self.stdout.write(demo_code(username))
