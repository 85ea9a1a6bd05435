"""Shared fixtures for the counter: two centres, services, and a signed-in officer."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tms.accounts.roles import Role
from tms.applications.models import Application
from tms.applications.services import Actor, application_acknowledge_receipt
from tms.directory.models import Centre, Service
from tms.testing.builders import lodge, make_centre, make_service
from tms.testing.staff import make_staff, sign_in


@pytest.fixture
def centre(db: Any) -> Centre:
    return make_centre(name="Huduma Centre GPO")


@pytest.fixture
def other_centre(db: Any) -> Centre:
    return make_centre(name="Huduma Centre Mombasa")


@pytest.fixture
def service(db: Any) -> Service:
    return make_service(name_en="Certificate of Good Conduct", name_sw="Cheti cha Tabia Njema")


@pytest.fixture
def id_service(db: Any) -> Service:
    return make_service(
        name_en="Passport",
        name_sw="Pasipoti",
        requires_id_number=True,
        bring_en="Your slip and your ID card",
        bring_sw="Stakabadhi na kitambulisho",
    )


@pytest.fixture
def code_service(db: Any) -> Service:
    return make_service(
        name_en="Driving Licence",
        name_sw="Leseni ya Udereva",
        requires_id_number=True,
        handover_code_required=True,
    )


@pytest.fixture
def officer(centre: Centre) -> Any:
    return make_staff(Role.COUNTER_OFFICER, centre=centre)


@pytest.fixture
def browser(client: Client, officer: Any) -> Client:
    return sign_in(client, officer)


def ready(**fields: Any) -> Application:
    """A lodged application whose document has reached its centre."""
    application = lodge(**fields)
    return application_acknowledge_receipt(application, actor=Actor.system("test"))
