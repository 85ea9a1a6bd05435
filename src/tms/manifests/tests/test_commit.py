"""Applying a manifest: only valid rows, once each, with the ready SMS; large ones by a
resumable background job."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tms.applications import references
from tms.applications.lifecycle import Action, Status
from tms.applications.models import Application, ApplicationEvent, Channel
from tms.applications.services import application_acknowledge_receipt, application_cancel
from tms.audit.models import AuditAction, AuditRecord
from tms.manifests import services
from tms.manifests.models import Manifest, ManifestState, Result
from tms.manifests.tests.conftest import AGENCY, csv_bytes
from tms.notifications.models import Event, Message
from tms.testing.staff import staff_of


def ready_messages(application: Application) -> int:
    return Message.objects.filter(application=application, event=Event.READY).count()


def receipts(application: Application) -> int:
    return ApplicationEvent.objects.filter(
        application=application, action=Action.ACKNOWLEDGE_RECEIPT
    ).count()


def error_csv(world, manifest: Manifest) -> list[list[str]]:
    response = world.browser.get(reverse("manifest-errors", args=[manifest.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.django_db
def test_only_valid_rows_are_applied_once_with_their_sms(world):
    valid = [world.application() for _ in range(3)]
    elsewhere = world.application(centre=world.other_centre)
    lodged = world.application(dispatched=False)  # receipt is accepted before dispatch too
    rows = [["Reference"]] + [[a.reference] for a in [*valid, lodged]]
    rows += [[elsewhere.reference], [valid[0].reference], ["=1+2"], [typo(valid[1].reference)]]
    manifest = world.upload(csv_bytes(rows))
    assert manifest.to_apply == 4

    manifest = world.commit(manifest)

    assert manifest.state == ManifestState.APPLIED
    assert (manifest.applied, manifest.changed, manifest.done) == (4, 0, 4)
    for application in [*valid, lodged]:
        application.refresh_from_db()
        assert application.status == Status.READY
        assert receipts(application) == 1
        assert ready_messages(application) == 1
    event = ApplicationEvent.objects.filter(action=Action.ACKNOWLEDGE_RECEIPT).first()
    assert event is not None
    assert event.channel == Channel.STAFF_WEB and event.actor_user_id == world.officer.pk
    assert Application.objects.get(pk=elsewhere.pk).status == Status.DISPATCHED
    assert ready_messages(elsewhere) == 0
    details = list(
        AuditRecord.objects.filter(action=AuditAction.MANIFEST).values_list("detail", flat=True)
    )
    assert any(d.startswith("Applying manifest") for d in details)
    assert any(d.startswith("Applied manifest") and "4 marked ready" in d for d in details)
    page = world.browser.get(reverse("manifest-detail", args=[manifest.pk])).content.decode()
    assert "4 of 4 valid rows handled: 4 marked ready" in page

    # Applying again is refused and changes nothing.
    response = world.browser.post(reverse("manifest-commit", args=[manifest.pk]), follow=True)
    assert "already applied" in response.content.decode()
    assert all(receipts(a) == 1 for a in valid)


def typo(reference: str) -> str:
    return reference[:-1] + str((int(reference[-1]) + 1) % 10)


@pytest.mark.django_db
def test_error_rows_download_is_neutralised_and_audited(world):
    application = world.application()
    rows = [
        ["Reference", "Agency reference"],
        [application.reference, ""],
        ['"=HYPERLINK(""http://x"",""click"")"', ""],
        ["", "@SUM(A1)"],
        ["4.82177E+12", ""],
        ["", "-2+3"],
    ]
    manifest = world.commit(world.upload(csv_bytes(rows)))
    lines = error_csv(world, manifest)
    assert lines[0] == [
        "Row", "Reference (as in the file)", "Agency reference (as in the file)", "Outcome",
        "Message",
    ]  # fmt: skip
    assert lines[1][:4] == ["3", '\'=HYPERLINK("http://x","click")', "", "malformed or empty"]
    assert "formula" in lines[1][4]
    assert lines[2][:4] == ["4", "", "'@SUM(A1)", "malformed or empty"]
    assert lines[3][:4] == ["5", "4.82177E+12", "", "mangled by a spreadsheet"]
    assert "format the column as text" in lines[3][4]
    assert lines[4][2] == "'-2+3"
    assert len(lines) == 5  # the applied row is not an error
    record = AuditRecord.objects.get(action=AuditAction.EXPORT)
    assert record.rows == 4 and str(manifest.pk) not in record.detail[:0]


def test_neutralise():
    assert [services.neutralise(c) for c in ["=1", "+1", "-1", "@a", "\tx", "\rx", "a=1", ""]] == [
        "'=1", "'+1", "'-1", "'@a", "'\tx", "'\rx", "a=1", "",
    ]  # fmt: skip


@pytest.mark.django_db
def test_rows_changed_since_the_preview_are_reported_not_dropped(world):
    kept, taken, cancelled = (
        world.application(),
        world.application(),
        world.application(dispatched=False),
    )
    manifest = world.upload(
        csv_bytes([["Reference"], *[[a.reference] for a in (kept, taken, cancelled)]])
    )
    assert manifest.to_apply == 3
    application_acknowledge_receipt(taken, actor=AGENCY)  # someone else was quicker
    application_cancel(cancelled, actor=AGENCY)

    manifest = world.commit(manifest)

    assert (manifest.applied, manifest.changed) == (1, 2)
    results = dict(manifest.rows.values_list("number", "result"))
    assert results == {2: Result.APPLIED, 3: Result.ALREADY_READY, 4: Result.WRONG_STATE}
    assert receipts(taken) == 1 and ready_messages(taken) == 1  # still only the first one
    lines = error_csv(world, manifest)
    assert [line[0] for line in lines[1:]] == ["3", "4"]
    assert "Cancelled" in lines[2][4]
    page = world.browser.get(reverse("manifest-detail", args=[manifest.pk])).content.decode()
    assert "2 changed since the check" in page and "Already ready: someone received it" in page


@pytest.mark.django_db
def test_a_small_manifest_is_all_or_nothing(world, monkeypatch):
    applications = [world.application() for _ in range(5)]
    manifest = world.upload(csv_bytes([["Reference"], *[[a.reference] for a in applications]]))
    monkeypatch.setattr(services, "CHUNK_ROWS", 2)
    calls = 0
    real = services.applications_change_bulk

    def failing(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "applications_change_bulk", failing)
    with pytest.raises(RuntimeError):
        services.manifest_commit(staff=staff_of(world.officer), manifest=manifest)
    manifest.refresh_from_db()
    assert manifest.state == ManifestState.PREVIEWED and manifest.applied == 0
    assert all(Application.objects.get(pk=a.pk).status == Status.DISPATCHED for a in applications)
    assert not Message.objects.filter(event=Event.READY).exists()


@pytest.fixture
def large(world, monkeypatch):
    """Seven valid rows (and two bad ones) that count as a large manifest, three a chunk."""
    monkeypatch.setattr(services, "IN_REQUEST_ROWS", 2)
    monkeypatch.setattr(services, "CHUNK_ROWS", 3)
    applications = [world.application() for _ in range(7)]
    rows = [["Reference"], [references.generate()]] + [[a.reference] for a in applications]
    rows.insert(5, [applications[0].reference])  # a duplicate in the middle
    manifest = world.upload(csv_bytes(rows))
    assert manifest.to_apply == 7
    return manifest, applications


@pytest.mark.django_db(transaction=True)
def test_a_large_manifest_is_applied_by_the_job_in_chunks(world, large, monkeypatch):
    manifest, applications = large
    chunks = []
    real = services.applications_change_bulk

    def counting(changes, **kwargs):
        chunks.append(len(changes))
        return real(changes, **kwargs)

    monkeypatch.setattr(services, "applications_change_bulk", counting)
    response = world.browser.post(reverse("manifest-commit", args=[manifest.pk]), follow=True)
    # The test backend runs the job at once, before the page is shown.
    assert "7 documents marked ready for collection" in response.content.decode()
    manifest.refresh_from_db()
    assert manifest.state == ManifestState.APPLIED
    assert chunks == [3, 3, 1]
    assert (manifest.done, manifest.applied, manifest.changed) == (7, 7, 0)
    assert all(receipts(a) == 1 and ready_messages(a) == 1 for a in applications)
    progress = world.browser.get(reverse("manifest-progress", args=[manifest.pk])).json()
    assert progress == {"state": "applied", "to_apply": 7, "done": 7, "applied": 7, "changed": 0}


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_job_resumes_and_applies_each_row_exactly_once(world, large, monkeypatch):
    manifest, applications = large
    real = services.applications_change_bulk
    calls = 0

    def second_chunk_fails_once(changes, **kwargs):
        nonlocal calls
        calls += 1
        outcome = real(changes, **kwargs)  # applied inside the chunk's transaction...
        if calls == 2:
            raise RuntimeError("worker killed")  # ...which is then rolled back whole
        return outcome

    monkeypatch.setattr(services, "applications_change_bulk", second_chunk_fails_once)
    world.commit(manifest)

    manifest.refresh_from_db()
    assert manifest.state == ManifestState.FAILED
    assert (manifest.cursor, manifest.done, manifest.applied) == (5, 3, 3)
    assert "Stopped after 3 of 7 valid rows (RuntimeError)" in manifest.error
    statuses = [Application.objects.get(pk=a.pk).status for a in applications]
    assert statuses == [Status.READY] * 3 + [Status.DISPATCHED] * 4
    page = world.browser.get(reverse("manifest-detail", args=[manifest.pk])).content.decode()
    assert "Resume where it stopped" in page

    response = world.browser.post(reverse("manifest-resume", args=[manifest.pk]), follow=True)
    assert "Resumed where it stopped" in response.content.decode()

    manifest.refresh_from_db()
    assert manifest.state == ManifestState.APPLIED
    assert (manifest.done, manifest.applied, manifest.changed) == (7, 7, 0)
    for application in applications:
        application.refresh_from_db()
        assert application.status == Status.READY
        assert receipts(application) == 1
        assert ready_messages(application) == 1
    assert set(manifest.rows.filter(outcome="ok").values_list("result", flat=True)) == {"applied"}


@pytest.mark.django_db(transaction=True)
def test_a_dead_worker_can_be_resumed_once_stale(world, large, monkeypatch):
    manifest, applications = large
    monkeypatch.setattr(services, "_enqueue", lambda manifest_id: None)  # the worker never runs
    world.commit(manifest)
    assert manifest.state == ManifestState.APPLYING
    response = world.browser.post(reverse("manifest-resume", args=[manifest.pk]), follow=True)
    assert "nothing to resume" in response.content.decode()
    page = world.browser.get(reverse("manifest-detail", args=[manifest.pk])).content.decode()
    assert 'http-equiv="refresh"' in page and "0 of 7 valid rows handled" in page

    Manifest.objects.filter(pk=manifest.pk).update(
        progress_at=timezone.now() - services.STALE_AFTER - timedelta(seconds=1)
    )
    monkeypatch.undo()  # the real _enqueue (and the real sizes) again
    monkeypatch.setattr(services, "CHUNK_ROWS", 3)
    world.browser.post(reverse("manifest-resume", args=[manifest.pk]))
    manifest.refresh_from_db()
    assert manifest.state == ManifestState.APPLIED and manifest.applied == 7
    assert all(receipts(a) == 1 and ready_messages(a) == 1 for a in applications)


@pytest.mark.django_db(transaction=True)
def test_the_job_stops_if_the_officer_left_the_centre(world, large):
    from tms.accounts.models import StaffProfile

    manifest, applications = large
    StaffProfile.objects.filter(user=world.officer).update(centre=world.other_centre)
    services_manifest = Manifest.objects.get(pk=manifest.pk)
    Manifest.objects.filter(pk=manifest.pk).update(
        state=ManifestState.APPLYING, committed_by=world.officer
    )
    with pytest.raises(services.NotAllowed):
        services.manifest_run(manifest_id=services_manifest.pk)
    manifest.refresh_from_db()
    assert manifest.state == ManifestState.FAILED
    assert "no longer works at its centre" in manifest.error
    assert all(Application.objects.get(pk=a.pk).status == Status.DISPATCHED for a in applications)
