"""Suite-wide fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection


@pytest.fixture
def output_dir(request: pytest.FixtureRequest) -> Path:
    """Where a test saves screenshots and reports: test-output/<test name>/."""
    path = Path("test-output") / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def admin_browser(client, db):
    """A client signed in (password and second factor) as an administrator."""
    from tms.accounts.roles import Role
    from tms.testing.staff import make_staff, sign_in

    return sign_in(client, make_staff(Role.ADMINISTRATOR, username="admin"))
