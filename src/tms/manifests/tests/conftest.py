"""Fixtures and file builders for the manifest tests: every file is made in the test."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from tms.accounts.roles import Role
from tms.applications.models import Application
from tms.applications.services import Actor, application_dispatch
from tms.directory.models import Centre, Service
from tms.manifests.models import Manifest
from tms.testing.builders import lodge, make_centre, make_service
from tms.testing.staff import make_staff, sign_in

AGENCY = Actor.agency("NRB: test")


def csv_bytes(rows: Sequence[Sequence[str]], *, delimiter: str = ",", bom: bool = False) -> bytes:
    text = "\r\n".join(delimiter.join(row) for row in rows) + "\r\n"
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


def xlsx_bytes(
    rows: Sequence[Sequence[Any]], *, start_column: int = 1, start_row: int = 1
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Manifest"
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                sheet.cell(row=start_row + r, column=start_column + c, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@dataclass
class World:
    centre: Centre
    other_centre: Centre
    service: Service
    officer: Any
    browser: Client

    def application(
        self,
        *,
        dispatched: bool = True,
        centre: Centre | None = None,
        service: Service | None = None,
        **fields: Any,
    ) -> Application:
        application = lodge(
            service=service or self.service,
            centre=centre or self.centre,
            lodged_at=timezone.now() - timedelta(days=3),
            **fields,
        )
        if dispatched:
            application_dispatch(application, actor=AGENCY)
        return application

    def upload(self, content: bytes, name: str = "manifest.csv") -> Manifest:
        response = self.browser.post(
            reverse("manifests"), {"file": SimpleUploadedFile(name, content)}
        )
        assert response.status_code == 302, response.content[:500]
        return Manifest.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))

    def commit(self, manifest: Manifest) -> Manifest:
        response = self.browser.post(reverse("manifest-commit", args=[manifest.pk]))
        assert response.status_code == 302
        manifest.refresh_from_db()
        return manifest


@pytest.fixture
def world(db: None, client: Client) -> World:
    centre = make_centre()
    officer = make_staff(Role.COUNTER_OFFICER, centre=centre)
    return World(
        centre=centre,
        other_centre=make_centre(),
        service=make_service(),
        officer=officer,
        browser=sign_in(client, officer),
    )
