"""The scanning page (SPEC §9): scan slips one after another, each answered at once.

With JavaScript each scan is POSTed to ``scan_json`` and answered without a reload;
without it the same form POSTs to ``scan`` and the page is shown again (POST, redirect,
GET). Either way the count and the last scans live in the session (``tally.py``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tms.accounts.access import acting, staff_required
from tms.accounts.roles import Capability
from tms.receipt.services import (
    MAX_SCAN_LENGTH,
    ScanOutcome,
    Tone,
    UndoRefused,
    scan_acknowledge,
    scan_undo,
)
from tms.receipt.tally import UNDO_REFUSED, UNDONE, ScanSession, UndoTarget, label_of

FIELD = "code"


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _undo_data(target: UndoTarget | None) -> dict[str, Any] | None:
    if target is None:
        return None
    return {
        "application": target.application_id,
        "version": target.version,
        "reference": target.reference,
        "until": target.until.isoformat(),
        "label": _("Undo receipt of %(reference)s") % {"reference": target.reference},
    }


def _state(scans: ScanSession) -> dict[str, Any]:
    """What the page shows besides the answer: the count, the last scans, the undo."""
    return {
        "tally": scans.tally_rows(),
        "total": scans.total,
        "recent": scans.recent_rows(),
        "undo": _undo_data(scans.undo_target()),
    }


def _outcome_data(outcome: ScanOutcome) -> dict[str, Any]:
    return {
        "kind": str(outcome.kind),
        "label": outcome.label,
        "tone": str(outcome.tone),
        "reference": outcome.reference,
        "message": outcome.message,
    }


def _scan(request: HttpRequest) -> tuple[ScanOutcome, ScanSession]:
    staff = acting(request)
    outcome = scan_acknowledge(staff=staff, raw=request.POST.get(FIELD, ""))
    scans = ScanSession(request.session)
    scans.record(outcome)
    return outcome, scans


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required(Capability.ACKNOWLEDGE)
def scan(request: HttpRequest) -> HttpResponse:
    """The page; a POST here is the form without JavaScript."""
    if request.method == "POST":
        _scan(request)
        return HttpResponseRedirect(reverse("receipt-scan"))
    scans = ScanSession(request.session)
    context = {
        "field": FIELD,
        "max_length": MAX_SCAN_LENGTH,
        "result": scans.pop_result(),
        **_state(scans),
    }
    return render(request, "receipt/scan.html", context)


@require_POST
@staff_required(Capability.ACKNOWLEDGE)
def scan_json(request: HttpRequest) -> JsonResponse:
    """One scan, answered in JSON for the page's script (CSRF token required)."""
    if FIELD not in request.POST:
        return JsonResponse({"error": _("Send the scanned text as “%s”.") % FIELD}, status=400)
    outcome, scans = _scan(request)
    scans.pop_result()  # answered here; not shown again on the next page load
    return JsonResponse({"outcome": _outcome_data(outcome), **_state(scans)})


def _int(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


@require_POST
@staff_required(Capability.ACKNOWLEDGE)
def undo(request: HttpRequest) -> HttpResponse:
    """Undo the session's last acknowledgement. The form names it, so that a stale page
    cannot undo a different scan than the one its button shows."""
    staff = acting(request)
    scans = ScanSession(request.session)
    target = scans.undo_target()
    wanted = _int(request.POST.get("application"))
    try:
        if target is None:
            raise UndoRefused(_("There is no recent acknowledgement of yours to undo."))
        if wanted != target.application_id:
            raise UndoRefused(_("Only the last acknowledgement can be undone."))
        done = scan_undo(staff=staff, application_id=target.application_id, version=target.version)
    except UndoRefused as refused:
        if target is not None and wanted == target.application_id:
            scans.forget_undo()  # it will not become possible again
        answer = {
            "kind": UNDO_REFUSED,
            "label": label_of(UNDO_REFUSED),
            "tone": str(Tone.ERROR),
            "reference": target.reference if target else "",
            "message": refused.message,
        }
        status = 409
        scans.note_result(
            kind=answer["kind"],
            reference=answer["reference"],
            message=answer["message"],
            tone=Tone.ERROR,
        )
    else:
        scans.record_undo(reference=done.reference, message=done.message)
        answer = {
            "kind": UNDONE,
            "label": label_of(UNDONE),
            "tone": str(Tone.WARNING),
            "reference": done.reference,
            "message": done.message,
        }
        status = 200
    if _wants_json(request):
        scans.pop_result()
        return JsonResponse({"outcome": answer, **_state(scans)}, status=status)
    return HttpResponseRedirect(reverse("receipt-scan"))


@require_POST
@staff_required(Capability.ACKNOWLEDGE)
def reset(request: HttpRequest) -> HttpResponse:
    """Start a new count (e.g. for the next delivery)."""
    ScanSession(request.session).reset()
    return HttpResponseRedirect(reverse("receipt-scan"))
