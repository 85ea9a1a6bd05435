"""Upload and preview: every row judged, nothing applied, bad files refused whole."""

from __future__ import annotations

import tempfile

import pytest
from django.urls import reverse

from tms.accounts.roles import Role
from tms.applications import references
from tms.applications.lifecycle import Status
from tms.applications.models import Application, ApplicationEvent
from tms.applications.services import (
    application_acknowledge_receipt,
    application_require_action,
)
from tms.audit.models import AuditAction, AuditRecord
from tms.manifests import reading
from tms.manifests.models import Manifest, ManifestRow, ManifestState, Outcome
from tms.manifests.tests.conftest import AGENCY, csv_bytes, xlsx_bytes
from tms.notifications.models import Message
from tms.testing.staff import make_staff, sign_in


def typo(reference: str) -> str:
    """The reference with its last digit changed: the check digit no longer matches."""
    return reference[:-1] + str((int(reference[-1]) + 1) % 10)


def outcomes(manifest: Manifest) -> dict[int, str]:
    return dict(manifest.rows.values_list("number", "outcome"))


@pytest.mark.django_db
def test_mixed_rows_are_each_judged_and_nothing_changes(world):
    ok = world.application()
    by_agency_ref = world.application(agency_ref="NRB-77")
    elsewhere = world.application(centre=world.other_centre)
    ready = world.application()
    application_acknowledge_receipt(ready, actor=AGENCY)
    waiting = world.application(dispatched=False)
    application_require_action(waiting, actor=AGENCY, note="Bring a photo.")
    events = ApplicationEvent.objects.count()
    rows = [
        ["Name", "Reference", "Agency ref"],
        ["A", references.display(ok.reference), ""],  # row 2: spaced as printed
        ["B", "", "NRB-77"],  # 3
        ["C", references.generate(), ""],  # 4: well formed, unknown
        ["D", typo(ok.reference), ""],  # 5
        ["E", ok.reference, ""],  # 6: duplicate of row 2
        ["F", elsewhere.reference, ""],  # 7
        ["G", ready.reference, ""],  # 8
        ["H", waiting.reference, ""],  # 9
        ["I", "4.82177E+12", ""],  # 10
        ["J", '"=HYPERLINK(""http://x"",""click"")"', ""],  # 11
        ["K", "", ""],  # 12: a name, no reference
        ["L", "", "NRB-404"],  # 13: unknown agency reference
        ["M", "4821773091552.0", ""],  # 14
    ]
    manifest = world.upload(csv_bytes(rows))

    assert manifest.state == ManifestState.PREVIEWED
    assert outcomes(manifest) == {
        2: Outcome.OK, 3: Outcome.OK, 4: Outcome.UNKNOWN, 5: Outcome.TYPING,
        6: Outcome.DUPLICATE, 7: Outcome.OTHER_CENTRE, 8: Outcome.ALREADY_READY,
        9: Outcome.WRONG_STATE, 10: Outcome.MANGLED, 11: Outcome.MALFORMED,
        12: Outcome.MALFORMED, 13: Outcome.UNKNOWN, 14: Outcome.MANGLED,
    }  # fmt: skip
    assert manifest.rows_total == 13 and manifest.to_apply == 2
    assert manifest.count(Outcome.UNKNOWN) == 2 and manifest.count(Outcome.MANGLED) == 2
    assert "our reference: column B (“Reference”)" in manifest.columns
    assert "agency reference: column C (“Agency ref”)" in manifest.columns
    assert ManifestRow.objects.get(manifest=manifest, number=3).application_id == by_agency_ref.pk
    mangled = ManifestRow.objects.get(manifest=manifest, number=10)
    assert "format the column as text" in mangled.message
    assert ManifestRow.objects.get(manifest=manifest, number=6).message == "Duplicate of row 2."
    # Nothing applied by a preview.
    assert ApplicationEvent.objects.count() == events
    assert Application.objects.get(pk=ok.pk).status == Status.DISPATCHED
    record = AuditRecord.objects.get(action=AuditAction.MANIFEST)
    assert record.rows == 13 and "manifest.csv" in record.detail

    page = world.browser.get(reverse("manifest-detail", args=[manifest.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Mark 2 documents ready for collection" in text
    assert "<td>10</td><td>4.82177E+12</td>" in text  # row number and value as in the file
    assert "Typing error: the check digit does not match" in text
    assert "Lodged at another centre" in text


@pytest.mark.django_db
def test_only_the_first_twenty_errors_are_shown(world):
    rows = [["Reference"]] + [[typo(references.generate())] for _ in range(25)]
    manifest = world.upload(csv_bytes(rows))
    text = world.browser.get(reverse("manifest-detail", args=[manifest.pk])).content.decode()
    assert manifest.count(Outcome.TYPING) == 25
    assert "<td>21</td>" in text and "<td>22</td>" not in text
    assert "Mark" not in text  # no valid row: no button


@pytest.mark.django_db
def test_the_same_application_by_both_references_is_a_duplicate(world):
    application = world.application(agency_ref="KRA-1")
    manifest = world.upload(
        csv_bytes([["Reference", "Agency reference"], [application.reference, ""], ["", "KRA-1"]])
    )
    assert outcomes(manifest) == {2: Outcome.OK, 3: Outcome.DUPLICATE}


@pytest.mark.django_db
def test_references_that_disagree_are_malformed(world):
    application = world.application(agency_ref="KRA-1")
    manifest = world.upload(
        csv_bytes([["Reference", "Agency reference"], [application.reference, "KRA-2"]])
    )
    assert outcomes(manifest) == {2: Outcome.MALFORMED}


@pytest.mark.django_db
def test_xlsx_numeric_cells_are_mangled_never_guessed(world):
    application = world.application(agency_ref="00123")
    content = xlsx_bytes(
        [
            ["Jina", "Tracking reference", "Document number"],
            ["A", application.reference, None],  # text: fine
            ["B", int(application.reference), None],  # a number cell, even if exact
            ["C", 4.82177e12, None],
            ["D", None, 123],  # the agency's 00123, leading zeros lost
            ["E", '=HYPERLINK("http://x","click")', None],
        ],
        start_column=2,
    )
    manifest = world.upload(content, name="manifest.xlsx")
    assert manifest.file_format == "xlsx"
    assert outcomes(manifest) == {
        2: Outcome.OK,
        3: Outcome.MANGLED,
        4: Outcome.MANGLED,
        5: Outcome.MANGLED,
        6: Outcome.MALFORMED,
    }
    assert "sheet “Manifest”" in manifest.columns and "column C" in manifest.columns


@pytest.mark.django_db
def test_an_agency_reference_used_by_two_agencies_must_be_given_as_ours(world):
    from tms.testing.builders import make_service

    world.application(agency_ref="X-1")
    world.application(agency_ref="X-1", service=make_service())
    world.application(agency_ref="X-2")
    manifest = world.upload(csv_bytes([["Agency ref"], ["X-1"], ["X-2"]]))
    assert outcomes(manifest) == {2: Outcome.MALFORMED, 3: Outcome.OK}
    assert "Several agencies" in manifest.rows.get(number=2).message


def refused(world, content: bytes, name: str = "manifest.csv") -> Manifest:
    manifest = world.upload(content, name=name)
    assert manifest.state == ManifestState.REFUSED
    assert not manifest.rows.exists()
    page = world.browser.get(reverse("manifest-detail", args=[manifest.pk])).content.decode()
    assert "The file was refused; nothing was applied" in page
    return manifest


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "The file is empty."),
        (csv_bytes([["Reference"]]), "header row but no data rows"),
        (csv_bytes([["Name"], ["Wanjiku"]]), "No recognised column"),
        ("Reference\r\n4821773091552\r\n".encode("utf-16"), "UTF-16"),
        (b"%PDF-1.4\n1 0 obj\n", "PDF"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(world, content, expected):
    manifest = refused(world, content)
    assert expected in manifest.refusal
    assert AuditRecord.objects.get(action=AuditAction.MANIFEST).detail.startswith("Refused")


@pytest.mark.django_db
def test_nothing_is_kept_from_a_file_refused_late(world):
    applications = [world.application() for _ in range(3)]
    lines = [["Reference", "Name"]] + [[a.reference, "Wanjiku"] for a in applications]
    lines += [[references.generate(), "x"] for _ in range(2500)] + [["", "Müller"]]
    content = "\r\n".join(",".join(line) for line in lines).encode("latin-1")
    manifest = refused(world, content)
    assert "not in UTF-8" in manifest.refusal
    assert not ManifestRow.objects.exists()
    response = world.browser.post(reverse("manifest-commit", args=[manifest.pk]), follow=True)
    assert "already applied or is being applied" in response.content.decode()
    assert all(Application.objects.get(pk=a.pk).status == Status.DISPATCHED for a in applications)
    assert not Message.objects.filter(event="ready").exists()


@pytest.mark.django_db
def test_a_file_over_50_mb_is_refused_without_being_read(world):
    with tempfile.NamedTemporaryFile(suffix=".csv") as big:
        big.write(b"Reference\r\n4821773091552\r\n")
        big.truncate(reading.MAX_BYTES + 1024)
        big.seek(0)
        response = world.browser.post(reverse("manifests"), {"file": big})
    assert response.status_code == 302
    manifest = Manifest.objects.get()
    assert manifest.state == ManifestState.REFUSED
    assert "the largest accepted is 50 MB" in manifest.refusal
    assert manifest.file_name.endswith(".csv")


@pytest.mark.django_db
def test_no_file_chosen_shows_the_form_again(world):
    response = world.browser.post(reverse("manifests"), {})
    assert response.status_code == 400
    assert not Manifest.objects.exists()


@pytest.mark.django_db
def test_another_centres_officer_can_neither_see_nor_apply(world):
    application = world.application()
    manifest = world.upload(csv_bytes([["Reference"], [application.reference]]))
    stranger = make_staff(Role.COUNTER_OFFICER, centre=world.other_centre)
    world.browser.logout()
    browser = sign_in(world.browser, stranger)
    for name, method in (
        ("manifest-detail", "get"),
        ("manifest-progress", "get"),
        ("manifest-errors", "get"),
        ("manifest-commit", "post"),
        ("manifest-resume", "post"),
    ):
        response = getattr(browser, method)(reverse(name, args=[manifest.pk]))
        assert response.status_code == 403, name
    assert manifest.file_name not in browser.get(reverse("manifests")).content.decode()
    assert Application.objects.get(pk=application.pk).status == Status.DISPATCHED
    manifest.refresh_from_db()
    assert manifest.state == ManifestState.PREVIEWED


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.AGENCY_OFFICER, Role.ANALYST, Role.ADMINISTRATOR])
def test_roles_without_receipt_work_are_refused(client, role):
    browser = sign_in(client, make_staff(role))
    assert browser.get(reverse("manifests")).status_code == 403


@pytest.mark.django_db
def test_the_upload_page_lists_this_centres_manifests(world):
    world.upload(csv_bytes([["Reference"], [references.generate()]]), name="week-19.csv")
    page = world.browser.get(reverse("manifests"))
    assert page.status_code == 200
    assert "week-19.csv" in page.content.decode()


@pytest.mark.django_db
def test_a_bom_semicolon_csv_uploads(world):
    application = world.application()
    content = csv_bytes(
        [["Jina", "Nambari ya kumbukumbu"], ["A", application.reference]], delimiter=";", bom=True
    )
    manifest = world.upload(content)
    assert outcomes(manifest) == {2: Outcome.OK}
    assert "column B (“Nambari ya kumbukumbu”)" in manifest.columns


@pytest.mark.django_db
def test_too_many_rows_are_refused_whole(world, monkeypatch):
    from tms.manifests import services

    monkeypatch.setattr(services, "MAX_ROWS", 2500)
    monkeypatch.setattr(services, "CHECK_ROWS", 1000)
    manifest = refused(world, csv_bytes([["Reference"]] + [[references.generate()]] * 2501))
    assert "more than 2,500 rows" in manifest.refusal
    assert not ManifestRow.objects.exists()


@pytest.mark.django_db
def test_a_check_cut_short_says_so(world):
    from datetime import timedelta

    from django.utils import timezone

    manifest = Manifest.objects.create(
        uploaded_by=world.officer,
        centre=world.centre,
        file_name="cut.csv",
        state=ManifestState.CHECKING,
        created_at=timezone.now() - timedelta(hours=1),
    )
    page = world.browser.get(reverse("manifest-detail", args=[manifest.pk])).content.decode()
    assert "was interrupted and nothing was applied" in page
    assert 'http-equiv="refresh"' not in page
