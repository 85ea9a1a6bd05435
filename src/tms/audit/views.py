"""The audit trail page for managers and administrators: read and filter, never edit."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from tms.accounts.access import acting, staff_required
from tms.accounts.roles import Capability
from tms.applications.lifecycle import Action
from tms.audit import selectors
from tms.audit.models import AuditAction

PAGE = 50
ACTION_CHOICES = [(a.value, a.label) for a in Action] + [(a.value, a.label) for a in AuditAction]


class TrailForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Show"),
        choices=[
            ("changes", _("changes to applications")),
            ("access", _("searches, exports and other actions")),
        ],
        required=False,
    )
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    username = forms.CharField(label=_("Staff username or agency"), required=False, max_length=150)
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=[("", _("any")), *ACTION_CHOICES],
    )
    reference = forms.CharField(label=_("Reference"), required=False, max_length=20)


@require_safe
@staff_required(Capability.AUDIT)
def trail(request: HttpRequest) -> HttpResponse:
    staff = acting(request)
    form = TrailForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    wanted = selectors.TrailFilter(
        since=data.get("since"),
        until=data.get("until"),
        username=(data.get("username") or "").strip(),
        action=data.get("action") or "",
        reference=(data.get("reference") or "").strip(),
    )
    kind = data.get("kind") or "changes"
    rows = (
        selectors.changes(staff, wanted) if kind == "changes" else selectors.records(staff, wanted)
    )
    # No total count: on tens of millions of events it would cost more than the page.
    try:
        number = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        number = 1
    window = list(rows[(number - 1) * PAGE : number * PAGE + 1])
    labels = dict(ACTION_CHOICES)
    for row in window:
        row.action_label = labels.get(row.action, row.action)  # type: ignore[attr-defined]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/trail.html",
        {
            "form": form,
            "rows": window[:PAGE],
            "previous": number - 1 if number > 1 else None,
            "next": number + 1 if len(window) > PAGE else None,
            "kind": kind,
            "query": query.urlencode(),
        },
    )
