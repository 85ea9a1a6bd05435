"""Fixtures for the applications tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tms.applications.models import Channel
from tms.applications.services import Actor
from tms.applications.signals import status_changed
from tms.directory.models import Centre, Service
from tms.testing.builders import make_centre, make_service


@pytest.fixture
def service(db: None) -> Service:
    return make_service(turnaround_days=5)


@pytest.fixture
def centre(db: None) -> Centre:
    return make_centre()


@pytest.fixture
def officer(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="officer.njeri", password="x" * 12)


@pytest.fixture
def officer_actor(officer: Any) -> Actor:
    return Actor.staff(officer, channel=Channel.STAFF_WEB)


@pytest.fixture
def connect_receiver() -> Iterator[Any]:
    """Connect a status_changed receiver for one test only."""
    connected: list[Any] = []

    def connect(receiver: Any) -> Any:
        status_changed.connect(receiver, weak=False)
        connected.append(receiver)
        return receiver

    yield connect
    for receiver in connected:
        status_changed.disconnect(receiver)
