"""Receiving documents in bulk from an agency's manifest (SPEC §9).

Two steps, two requests. ``manifest_upload`` reads the file and checks every row
(the preview) without changing any application. ``manifest_commit`` then acknowledges
receipt of the rows found valid, through ``applications_change_bulk`` (so the same
history events and ready SMS as one at a time): a small manifest at once in one
transaction, a large one by a background job in chunks, each chunk its own transaction
that also moves the manifest's cursor. A job stopped halfway (error, killed worker)
resumes from the cursor, re-checking each row, so no row is applied twice and none by
half.

Scope: the officer's own centre. Rows naming another centre's application are
reported, never applied, and a manifest is only seen and applied from its centre.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import IO

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tms.accounts.roles import Capability
from tms.accounts.scope import NotAllowed, Staff
from tms.applications import references
from tms.applications.bulk import Change, applications_change_bulk
from tms.applications.lifecycle import TRANSITIONS, Action, InvalidTransition, Status
from tms.applications.models import Application, Channel
from tms.applications.services import ApplicationConflict
from tms.audit.models import AuditAction
from tms.audit.services import audit_record
from tms.manifests import reading
from tms.manifests.models import Manifest, ManifestRow, ManifestState, Outcome, Result
from tms.manifests.reading import Refused, Value

logger = logging.getLogger(__name__)

CHECK_ROWS = 1000  # rows looked up and stored together in the preview
CHUNK_ROWS = 1000  # valid rows applied in one transaction
IN_REQUEST_ROWS = 2000  # at most this many valid rows are applied in the request itself
# A job that has shown no progress for this long is taken for dead and may be resumed.
STALE_AFTER = timedelta(minutes=5)
ERRORS_SHOWN = 20
# More rows than any centre receives at once; the duplicate check keeps one entry a row,
# so this also bounds the memory a 50 MB file of short lines could take.
MAX_ROWS = 250_000

RECEIVABLE = TRANSITIONS[Action.ACKNOWLEDGE_RECEIPT].sources
FORMULA_STARTS = ("=", "+", "-", "@")
# What spreadsheets make of long digit strings: 4.82177E+12, 4821773091552.0, 4,82177E+12.
SCIENTIFIC = re.compile(r"^[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+$")
FLOAT_TEXT = re.compile(r"^[0-9]+[.,]0+$")


class ManifestNotReady(Exception):
    """The manifest is not in a state that allows this step; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Upload and preview ----------------------------------------------------------------------


def manifest_upload(*, staff: Staff, file: IO[bytes], file_name: str, size: int) -> Manifest:
    """Read and check every row of an uploaded manifest; change no application.

    Refused files (too large, empty, wrong encoding, no recognised column...) are kept
    as a ``refused`` manifest with the reason and no rows. Rows are stored a thousand at
    a time, each batch its own short transaction, so a long check does not hold the
    database's write lock; the manifest is ``checking`` until every row is in.
    """
    centre_id = staff.centre_for(Capability.ACKNOWLEDGE)
    manifest = Manifest.objects.create(
        uploaded_by=staff.user,
        centre_id=centre_id,
        file_name=file_name[:255],
        file_size=size,
        state=ManifestState.CHECKING,
        created_at=timezone.now(),
    )
    try:
        opened = reading.open_manifest(file, size=size)
        manifest.file_format = opened.file_format
        manifest.columns = opened.columns.describe()[:500]
        counts = _check_rows(manifest, centre_id, opened.rows)
        if not counts:
            raise Refused(_("The file has a header row but no data rows."))
    except Refused as refusal:
        ManifestRow.objects.filter(manifest=manifest).delete()
        manifest.state = ManifestState.REFUSED
        manifest.refusal = refusal.message
        manifest.counts = {}
        manifest.rows_total = 0
        manifest.finished_at = timezone.now()
        manifest.save()
        audit_record(
            staff,
            AuditAction.MANIFEST,
            detail=_("Refused manifest “%(name)s”: %(reason)s")
            % {"name": manifest.file_name[:80], "reason": refusal.message},
            rows=0,
        )
        return manifest
    except BaseException:
        ManifestRow.objects.filter(manifest=manifest).delete()
        manifest.delete()
        raise
    manifest.counts = dict(counts)
    manifest.rows_total = sum(counts.values())
    manifest.to_apply = counts.get(Outcome.OK, 0)
    manifest.state = ManifestState.PREVIEWED
    manifest.save()
    audit_record(
        staff,
        AuditAction.MANIFEST,
        detail=_("Uploaded manifest “%(name)s”: %(rows)s rows, %(valid)s valid")
        % {
            "name": manifest.file_name[:80],
            "rows": manifest.rows_total,
            "valid": manifest.to_apply,
        },
        rows=manifest.rows_total,
    )
    return manifest


@dataclass
class _Checked:
    raw: reading.RawRow
    outcome: Outcome = Outcome.OK
    message: str = ""
    reference: str = ""  # the parsed reference, when it is one
    agency_ref: str = ""
    application: tuple[int, str, int, str | None] | None = None  # id, status, centre, agency ref


class _Seen:
    """What earlier rows named, to report later ones as duplicates (bounded: one entry a row)."""

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}
        self.applications: dict[int, int] = {}


def _check_rows(manifest: Manifest, centre_id: int, rows: Iterator[reading.RawRow]) -> Counter[str]:
    counts: Counter[str] = Counter()
    seen = _Seen()
    while batch := list(islice(rows, CHECK_ROWS)):
        if counts.total() + len(batch) > MAX_ROWS:
            raise Refused(
                _("The file has more than %(limit)s rows. Split it in parts.")
                % {"limit": f"{MAX_ROWS:,}"}
            )
        checked = [_check_text(row) for row in batch]
        _duplicates_by_text(checked, seen)
        _look_up(checked)
        for row in checked:
            _judge(row, centre_id, seen)
        with transaction.atomic():
            ManifestRow.objects.bulk_create(
                [
                    ManifestRow(
                        manifest=manifest,
                        number=row.raw.number,
                        reference_text=row.raw.reference.text[: reading.CELL_LIMIT],
                        agency_ref_text=row.raw.agency_ref.text[: reading.CELL_LIMIT],
                        application_id=row.application[0] if row.application else None,
                        outcome=row.outcome,
                        message=row.message[:300],
                    )
                    for row in checked
                ],
                batch_size=CHECK_ROWS,
            )
        counts.update(row.outcome.value for row in checked)
    return counts


def _spreadsheet_problem(value: Value) -> tuple[Outcome, str] | None:
    """A formula, or a number a spreadsheet made of the reference: never guessed back."""
    text = value.text.strip(" ")
    if text.startswith(FORMULA_STARTS) or value.text.startswith(("\t", "\r")):
        return Outcome.MALFORMED, _(
            "Looks like a spreadsheet formula (starts with =, +, - or @); it was not evaluated."
        )
    if value.kind == "number" or SCIENTIFIC.match(text) or FLOAT_TEXT.match(text):
        return Outcome.MANGLED, _(
            "Mangled by a spreadsheet (%(value)s): format the column as text and export again."
        ) % {"value": text[:20]}
    if value.kind == "other":
        return Outcome.MALFORMED, _("Not a reference: the cell holds a date or a yes/no value.")
    return None


TYPING_MESSAGES = {
    "characters": gettext_lazy("Typing error: a reference has digits only."),
    "length": gettext_lazy("Typing error: a reference has 13 digits."),
    "check digit": gettext_lazy(
        "Typing error: the check digit does not match (a digit is wrong or swapped)."
    ),
}


def _check_text(raw: reading.RawRow) -> _Checked:
    row = _Checked(raw)
    if not raw.reference.empty:
        problem = _spreadsheet_problem(raw.reference)
        if problem:
            row.outcome, row.message = problem
            return row
        try:
            row.reference = references.parse(raw.reference.text)
        except references.ReferenceTypingError as error:
            row.outcome = Outcome.TYPING
            row.message = str(TYPING_MESSAGES.get(error.reason, TYPING_MESSAGES["characters"]))
            return row
    if not raw.agency_ref.empty:
        problem = _spreadsheet_problem(raw.agency_ref)
        if problem:
            if not row.reference:
                row.outcome, row.message = problem
                return row
        elif len(raw.agency_ref.text.strip()) > 64:
            if not row.reference:
                row.outcome = Outcome.MALFORMED
                row.message = _("Not an agency reference: longer than 64 characters.")
                return row
        else:
            row.agency_ref = raw.agency_ref.text.strip()
    if not row.reference and not row.agency_ref:
        row.outcome = Outcome.MALFORMED
        row.message = _("Empty: the row has no reference.")
    return row


def _duplicates_by_text(rows: list[_Checked], seen: _Seen) -> None:
    for row in rows:
        if row.outcome != Outcome.OK:
            continue
        key = f"r:{row.reference}" if row.reference else f"a:{row.agency_ref}"
        first = seen.keys.get(key)
        if first is not None:
            row.outcome = Outcome.DUPLICATE
            row.message = _("Duplicate of row %(row)s.") % {"row": first}
        else:
            seen.keys[key] = row.raw.number


def _look_up(rows: list[_Checked]) -> None:
    """Find each row's application: one query by reference, one by agency reference."""
    wanted = [row for row in rows if row.outcome == Outcome.OK]
    fields = ("id", "reference", "status", "centre_id", "agency_ref")
    by_reference = {
        found[1]: found
        for found in Application.objects.filter(
            reference__in={row.reference for row in wanted if row.reference}
        ).values_list(*fields)
    }
    agency_refs = {row.agency_ref for row in wanted if not row.reference}
    by_agency_ref: dict[str, list[tuple[int, str, str, int, str | None]]] = {}
    if agency_refs:
        for found in Application.objects.filter(agency_ref__in=agency_refs).values_list(*fields):
            by_agency_ref.setdefault(str(found[4]), []).append(found)
    for row in wanted:
        if row.reference:
            found = by_reference.get(row.reference)
            if found is None:
                row.outcome = Outcome.UNKNOWN
                row.message = _("No application has this reference.")
                continue
            if row.agency_ref and found[4] and found[4] != row.agency_ref:
                row.outcome = Outcome.MALFORMED
                row.message = _(
                    "The reference and the agency reference name different applications."
                )
                continue
        else:
            matches = by_agency_ref.get(row.agency_ref, [])
            if not matches:
                row.outcome = Outcome.UNKNOWN
                row.message = _("No application has this agency reference.")
                continue
            if len(matches) > 1:
                row.outcome = Outcome.MALFORMED
                row.message = _(
                    "Several agencies use this agency reference: give our reference instead."
                )
                continue
            found = matches[0]
        row.application = (found[0], found[2], found[3], found[4])


def _judge(row: _Checked, centre_id: int, seen: _Seen) -> None:
    if row.outcome != Outcome.OK or row.application is None:
        return
    application_id, status, application_centre, _agency_ref = row.application
    first = seen.applications.get(application_id)
    if first is not None:
        row.outcome = Outcome.DUPLICATE
        row.message = _("Duplicate of row %(row)s (the same application).") % {"row": first}
        return
    seen.applications[application_id] = row.raw.number
    outcome, message = _receivable(status, application_centre, centre_id)
    row.outcome, row.message = outcome, message


def _receivable(status: str, application_centre: int, centre_id: int) -> tuple[Outcome, str]:
    if application_centre != centre_id:
        return Outcome.OTHER_CENTRE, _(
            "Lodged at another centre: it cannot be received here. Send the document on."
        )
    if status == Status.READY:
        return Outcome.ALREADY_READY, _("Already ready for collection.")
    if status not in RECEIVABLE:
        return Outcome.WRONG_STATE, _("Cannot be received: the application is %(status)s.") % {
            "status": Status(status).label
        }
    return Outcome.OK, ""


# --- Commit ---------------------------------------------------------------------------------


def manifest_commit(*, staff: Staff, manifest: Manifest) -> Manifest:
    """Apply the valid rows: at once when few, otherwise by a background job."""
    _in_scope(staff, manifest)
    with transaction.atomic():
        locked = Manifest.objects.select_for_update().get(pk=manifest.pk)
        if locked.state != ManifestState.PREVIEWED:
            raise ManifestNotReady(_("This manifest was already applied or is being applied."))
        if not locked.to_apply:
            raise ManifestNotReady(_("This manifest has no valid row to apply."))
        now = timezone.now()
        locked.state = ManifestState.APPLYING
        locked.committed_by = staff.user
        locked.commit_started_at = locked.progress_at = now
        locked.save()
        audit_record(
            staff,
            AuditAction.MANIFEST,
            detail=_("Applying manifest “%(name)s”: %(rows)s valid rows")
            % {"name": locked.file_name[:80], "rows": locked.to_apply},
            rows=locked.to_apply,
        )
        if locked.to_apply <= IN_REQUEST_ROWS:
            # All or nothing: the chunks share this transaction.
            while _apply_chunk(locked.pk):
                pass
        else:
            _enqueue(locked.pk)
    locked.refresh_from_db()
    return locked


def manifest_resume(*, staff: Staff, manifest: Manifest) -> Manifest:
    """Start an interrupted job again from its cursor (by this officer)."""
    _in_scope(staff, manifest)
    with transaction.atomic():
        locked = Manifest.objects.select_for_update().get(pk=manifest.pk)
        if not can_resume(locked):
            raise ManifestNotReady(
                _("This manifest is not interrupted; there is nothing to resume.")
            )
        locked.state = ManifestState.APPLYING
        locked.committed_by = staff.user
        locked.progress_at = timezone.now()
        locked.error = ""
        locked.save()
        audit_record(
            staff,
            AuditAction.MANIFEST,
            detail=_("Resumed manifest “%(name)s” after %(done)s of %(rows)s valid rows")
            % {"name": locked.file_name[:80], "done": locked.done, "rows": locked.to_apply},
            rows=locked.to_apply - locked.done,
        )
        _enqueue(locked.pk)
    locked.refresh_from_db()
    return locked


def can_resume(manifest: Manifest) -> bool:
    if manifest.state == ManifestState.FAILED:
        return True
    return (
        manifest.state == ManifestState.APPLYING
        and manifest.progress_at is not None
        and manifest.progress_at < timezone.now() - STALE_AFTER
    )


def _in_scope(staff: Staff, manifest: Manifest) -> None:
    if manifest.centre_id != staff.centre_for(Capability.ACKNOWLEDGE):
        raise NotAllowed(_("This manifest belongs to another centre."))


def _enqueue(manifest_id: int) -> None:
    from tms.manifests import tasks

    transaction.on_commit(lambda: tasks.apply_manifest.enqueue(manifest_id))


def manifest_run(*, manifest_id: int) -> int:
    """The job: apply chunk after chunk until none is left; the rows handled.

    On an error the manifest is marked failed (resumable) and the error is raised again,
    so the task backend records it too."""
    handled = 0
    try:
        while True:
            with transaction.atomic():
                more = _apply_chunk(manifest_id)
            if not more:
                return handled
            handled += 1
    except Exception as error:
        logger.exception("manifest %s: applying stopped", manifest_id)
        _fail(manifest_id, error)
        raise


def _fail(manifest_id: int, error: Exception) -> None:
    with transaction.atomic():
        manifest = Manifest.objects.select_for_update().get(pk=manifest_id)
        if manifest.state != ManifestState.APPLYING:
            return
        manifest.state = ManifestState.FAILED
        # Our own refusals say what is wrong; other errors by their kind only (their
        # text may quote data).
        reason = str(error) if isinstance(error, NotAllowed) else type(error).__name__
        manifest.error = (
            _("Stopped after %(done)s of %(rows)s valid rows (%(error)s); resume to go on.")
            % {"done": manifest.done, "rows": manifest.to_apply, "error": reason}
        )[:300]
        manifest.progress_at = timezone.now()
        manifest.save()


def _apply_chunk(manifest_id: int) -> bool:
    """Apply the next chunk of valid rows; False when there was none. Runs inside the
    caller's transaction: the changes, the rows' results and the cursor commit together."""
    manifest = Manifest.objects.select_for_update().get(pk=manifest_id)
    if manifest.state != ManifestState.APPLYING:
        return False
    rows = list(
        ManifestRow.objects.filter(
            manifest_id=manifest_id, outcome=Outcome.OK, number__gt=manifest.cursor
        )
        .order_by("number")
        .only("id", "number", "application_id")[:CHUNK_ROWS]
    )
    now = timezone.now()
    if not rows:
        _finish(manifest, now)
        return False
    staff = _committer(manifest)
    # Plain rows: the receipt and its listeners need only ids (service and centre rows
    # are read once per chunk by the listeners that need them).
    applications = Application.objects.in_bulk(
        [row.application_id for row in rows if row.application_id is not None]
    )
    results: dict[int, tuple[Result, str]] = {}
    changes: list[Change] = []
    changing: list[ManifestRow] = []
    for row in rows:
        application = applications.get(row.application_id or 0)
        verdict = _still_receivable(application, manifest.centre_id, staff)
        if verdict is not None:
            results[row.pk] = verdict
            continue
        assert application is not None
        changes.append(Change(application=application, action=Action.ACKNOWLEDGE_RECEIPT))
        changing.append(row)
    outcomes = applications_change_bulk(changes, actor=staff.actor(Channel.STAFF_WEB))
    applied_ids = []
    for row, error in zip(changing, outcomes, strict=True):
        if error is None:
            applied_ids.append(row.pk)
        elif isinstance(error, ApplicationConflict):
            results[row.pk] = (Result.CONFLICT, str(error))
        elif isinstance(error, InvalidTransition):
            results[row.pk] = (Result.WRONG_STATE, error.message)
        else:
            results[row.pk] = (Result.WRONG_STATE, "; ".join(error.messages))
    ManifestRow.objects.filter(pk__in=applied_ids).update(result=Result.APPLIED)
    for pk, (result, message) in results.items():
        ManifestRow.objects.filter(pk=pk).update(result=result, message=message[:300])
    manifest.cursor = rows[-1].number
    manifest.done += len(rows)
    manifest.applied += len(applied_ids)
    manifest.changed += len(results)
    manifest.progress_at = now
    if len(rows) < CHUNK_ROWS or manifest.done >= manifest.to_apply:
        _finish(manifest, now)
        return False
    manifest.save()
    return True


def _still_receivable(
    application: Application | None, centre_id: int, staff: Staff
) -> tuple[Result, str] | None:
    """Checked again at commit: someone may have acted since the preview."""
    if application is None:
        return Result.WRONG_STATE, _("The application no longer exists.")
    if application.centre_id != centre_id or not staff.covers(application):
        return Result.OTHER_CENTRE, _("Moved to another centre since the preview.")
    if application.status == Status.READY:
        return Result.ALREADY_READY, _("Already ready: someone received it since the preview.")
    if application.status not in RECEIVABLE:
        return Result.WRONG_STATE, _(
            "Changed since the preview: the application is %(status)s."
        ) % {"status": Status(application.status).label}
    return None


def _committer(manifest: Manifest) -> Staff:
    """The officer who applies it, checked again: still staff of this centre."""
    from django.contrib.auth import get_user_model

    if manifest.committed_by_id is None:
        raise NotAllowed(_("Nobody has applied this manifest."))
    user = get_user_model().objects.select_related("staff_profile").get(pk=manifest.committed_by_id)
    staff = Staff.of(user)
    if not staff.can(Capability.ACKNOWLEDGE) or staff.centre_id != manifest.centre_id:
        raise NotAllowed(_("The officer applying this manifest no longer works at its centre."))
    return staff


def _finish(manifest: Manifest, now: datetime) -> None:
    manifest.state = ManifestState.APPLIED
    manifest.finished_at = manifest.progress_at = now
    manifest.save()
    audit_record(
        _committer(manifest),
        AuditAction.MANIFEST,
        detail=_(
            "Applied manifest “%(name)s”: %(applied)s marked ready, %(changed)s changed "
            "since the preview"
        )
        % {
            "name": manifest.file_name[:80],
            "applied": manifest.applied,
            "changed": manifest.changed,
        },
        rows=manifest.applied,
    )


# --- Error rows as CSV --------------------------------------------------------------------


def neutralise(cell: str) -> str:
    """A spreadsheet must not take a cell for a formula (CSV injection)."""
    return "'" + cell if cell.startswith(("=", "+", "-", "@", "\t", "\r")) else cell


def manifest_errors_export(*, staff: Staff, manifest: Manifest) -> Iterator[str]:
    """The error CSV's lines (row, the values as in the file, outcome, message), every
    cell neutralised; the export is recorded in the audit trail before the first line."""
    from tms.manifests.selectors import manifest_error_rows

    _in_scope(staff, manifest)
    audit_record(
        staff,
        AuditAction.EXPORT,
        detail=_("Error rows of manifest “%(name)s”") % {"name": manifest.file_name[:80]},
        rows=manifest.errors_total,
    )
    return _csv_lines(manifest_error_rows(staff, manifest).iterator(chunk_size=2000))


def _csv_lines(rows: Iterable[ManifestRow]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([neutralise(cell) for cell in cells])
        return buffer.getvalue()

    yield "\ufeff" + line(
        [_("Row"), _("Reference (as in the file)"), _("Agency reference (as in the file)"),
         _("Outcome"), _("Message")]
    )  # fmt: skip
    outcomes = dict(Outcome.choices)
    results = dict(Result.choices)
    for row in rows:
        label = results[row.result] if row.result else outcomes[row.outcome]
        yield line(
            [str(row.number), row.reference_text, row.agency_ref_text, str(label), row.message]
        )
