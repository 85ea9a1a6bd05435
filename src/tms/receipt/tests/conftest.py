"""Fixtures for the scanning tests: two centres, one agency's service, officers of each."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tms.accounts.roles import Role
from tms.applications.lifecycle import Status
from tms.applications.models import Application
from tms.applications.tests.expected_lifecycle import bring_to
from tms.directory.models import Centre, Service
from tms.testing.builders import lodge, make_centre, make_service
from tms.testing.staff import make_staff, sign_in


@pytest.fixture
def centre(db: None) -> Centre:
    return make_centre(name="Huduma Centre Kisumu")


@pytest.fixture
def other_centre(db: None) -> Centre:
    return make_centre(name="Huduma Centre Mombasa")


@pytest.fixture
def service(db: None) -> Service:
    return make_service(name_en="Passport", name_sw="Pasipoti")


@pytest.fixture
def officer(centre: Centre) -> Any:
    return make_staff(Role.COUNTER_OFFICER, centre=centre)


@pytest.fixture
def colleague(centre: Centre) -> Any:
    return make_staff(Role.COUNTER_OFFICER, centre=centre)


@pytest.fixture
def browser(client: Client, officer: Any) -> Client:
    """A client signed in as the counter officer of ``centre``."""
    return sign_in(client, officer)


@pytest.fixture
def make_application(service: Service, centre: Centre) -> Any:
    def make(status: Status = Status.DISPATCHED, **fields: Any) -> Application:
        fields.setdefault("centre", centre)
        fields.setdefault("service", service)
        return bring_to(lodge(**fields), status)

    return make
