"""The backlog, the return list and the citizen-query queue (SPEC §9). Thin: forms read
the request, selectors and services (which enforce scope) do the work."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from tms.accounts.access import acting, staff_required
from tms.accounts.roles import Capability, Role
from tms.accounts.scope import Staff
from tms.applications import references
from tms.audit.models import AuditAction
from tms.audit.services import audit_record
from tms.backlog import selectors, services
from tms.backlog.exports import csv_response
from tms.core.phones import mask_phone
from tms.directory.models import Agency, Centre, Service
from tms.tracking.models import CitizenQuery, QueryState
from tms.tracking.selectors import mask_name

PAGE = 50
RETURN_PAGE = 100
PRINT_LIMIT = 2000  # rows on one printed list; more is a sign to narrow it first
EXPORT_LIMIT = 50_000


def _page(request: HttpRequest) -> int:
    try:
        return max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        return 1


def _window(rows: Any, number: int, size: int) -> tuple[list[Any], int | None, int | None]:
    """One page and the previous/next page numbers, reading one row more than the page
    instead of counting the whole list."""
    window = list(rows[(number - 1) * size : number * size + 1])
    return (
        window[:size],
        (number - 1 if number > 1 else None),
        (number + 1 if len(window) > size else None),
    )


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


# --- Forms -------------------------------------------------------------------------------------


class CentreFilter(forms.Form):
    """Administrators see every centre, or pick one; everyone else sees their own."""

    centre = forms.ModelChoiceField(
        label=gettext_lazy("Centre"),
        queryset=Centre.objects.all(),
        required=False,
        empty_label=gettext_lazy("all centres"),
    )


class DrillForm(CentreFilter):
    service = forms.ModelChoiceField(
        label=gettext_lazy("Service"),
        queryset=Service.objects.all(),
        required=False,
        empty_label=gettext_lazy("all services"),
    )
    bucket = forms.ChoiceField(
        label=gettext_lazy("Waiting"),
        choices=[("", gettext_lazy("any time"))]
        + [(bucket.key, bucket.label) for bucket in selectors.BUCKETS],
        required=False,
    )


class ReturnsFilter(CentreFilter):
    agency = forms.ModelChoiceField(
        label=gettext_lazy("Agency"),
        queryset=Agency.objects.all(),
        required=False,
        empty_label=gettext_lazy("all agencies"),
    )


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=gettext_lazy("Answer (sent to the citizen by SMS)"),
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": services.ANSWER_MAX_LENGTH}),
        max_length=services.ANSWER_MAX_LENGTH,
    )


class QueueFilter(forms.Form):
    state = forms.ChoiceField(
        label=gettext_lazy("Show"), choices=QueryState.choices, required=False
    )


def _centre_id(staff: Staff, form: forms.Form) -> int | None:
    centre = form.cleaned_data.get("centre") if staff.role == Role.ADMINISTRATOR else None
    return centre.pk if centre is not None else None


def _bad_filter(form: forms.Form) -> HttpResponse:
    problems = "; ".join(
        f"{name}: {' '.join(str(error) for error in errors)}"
        for name, errors in form.errors.items()
    )
    return HttpResponse(
        _("The list filter is not valid: %(problems)s") % {"problems": problems},
        status=400,
        content_type="text/plain; charset=utf-8",
    )


# --- Backlog ----------------------------------------------------------------------------------


@require_safe
@staff_required(Capability.BACKLOG)
def backlog(request: HttpRequest) -> HttpResponse:
    staff = acting(request)
    form = CentreFilter(request.GET or None)
    if form.is_bound and not form.is_valid():
        return _bad_filter(form)
    centre_id = _centre_id(staff, form) if form.is_bound else None
    table = selectors.backlog_table(staff, centre_id=centre_id)
    link: dict[str, str] = {"centre": str(centre_id)} if centre_id else {}
    rows = [
        {
            "row": row,
            "cells": [
                (count, _list_url(link, service=row.service_id, bucket=bucket.key))
                for count, bucket in zip(row.counts, selectors.BUCKETS, strict=True)
            ],
            "url": _list_url(link, service=row.service_id),
        }
        for row in table.rows
    ]
    totals = [
        (count, _list_url(link, bucket=bucket.key))
        for count, bucket in zip(table.totals.counts, selectors.BUCKETS, strict=True)
    ]
    return render(
        request,
        "backlog/backlog.html",
        {
            "form": form if staff.role == Role.ADMINISTRATOR else None,
            "table": table,
            "rows": rows,
            "totals": totals,
            "all_url": _list_url(link),
            "today": selectors.today_local(),
        },
    )


def _list_url(base: dict[str, str], **params: Any) -> str:
    query = {**base, **{k: str(v) for k, v in params.items() if v is not None}}
    return f"{reverse('backlog-list')}?{urlencode(query)}" if query else reverse("backlog-list")


def _drill(request: HttpRequest) -> tuple[DrillForm, dict[str, Any]]:
    form = DrillForm(request.GET)
    if not form.is_valid():
        return form, {}
    staff = acting(request)
    service = form.cleaned_data.get("service")
    bucket_key = form.cleaned_data.get("bucket")
    bucket = selectors.BUCKET_BY_KEY[bucket_key] if bucket_key else None
    centre_id = _centre_id(staff, form)
    today = selectors.today_local()
    found = selectors.backlog_list(
        staff,
        service_id=service.pk if service is not None else None,
        bucket=bucket,
        centre_id=centre_id,
        today=today,
    )
    return form, {
        "found": found,
        "service": service,
        "bucket": bucket,
        "centre": form.cleaned_data.get("centre") if centre_id else None,
        "today": today,
    }


def _drill_title(picked: dict[str, Any]) -> str:
    parts = [
        picked["service"].name() if picked["service"] else _("all services"),
        str(picked["bucket"].label) if picked["bucket"] else _("any time"),
    ]
    if picked["centre"]:
        parts.append(picked["centre"].name)
    return ", ".join(parts)


@require_safe
@staff_required(Capability.BACKLOG)
def backlog_list(request: HttpRequest) -> HttpResponse:
    form, picked = _drill(request)
    if not picked:
        return _bad_filter(form)
    rows, previous, following = _window(picked["found"], _page(request), PAGE)
    query = _query_without(request, "page")
    return render(
        request,
        "backlog/list.html",
        {
            "entries": selectors.backlog_entries(rows, today=picked["today"]),
            "title": _drill_title(picked),
            "previous": previous,
            "next": following,
            "query": query,
            "print_url": f"{reverse('backlog-list-print')}?{query}",
            "csv_url": f"{reverse('backlog-list-csv')}?{query}",
        },
    )


@require_safe
@staff_required(Capability.BACKLOG)
def backlog_list_print(request: HttpRequest) -> HttpResponse:
    form, picked = _drill(request)
    if not picked:
        return _bad_filter(form)
    rows = list(picked["found"][: PRINT_LIMIT + 1])
    truncated = len(rows) > PRINT_LIMIT
    rows = rows[:PRINT_LIMIT]
    title = _drill_title(picked)
    audit_record(
        acting(request), AuditAction.PRINT, detail=f"backlog list: {title}", rows=len(rows)
    )
    return render(
        request,
        "backlog/list_print.html",
        {
            "entries": selectors.backlog_entries(rows, today=picked["today"]),
            "title": title,
            "truncated": truncated,
            "limit": PRINT_LIMIT,
            "today": picked["today"],
            "back_url": f"{reverse('backlog-list')}?{request.GET.urlencode()}",
        },
    )


@require_safe
@staff_required(Capability.BACKLOG)
def backlog_list_csv(request: HttpRequest) -> HttpResponse:
    form, picked = _drill(request)
    if not picked:
        return _bad_filter(form)
    entries = selectors.backlog_entries(list(picked["found"][:EXPORT_LIMIT]), today=picked["today"])
    audit_record(
        acting(request),
        AuditAction.EXPORT,
        detail=f"backlog list CSV: {_drill_title(picked)}",
        rows=len(entries),
    )
    header = [
        _("Reference"),
        _("Centre"),
        _("Service"),
        _("Name"),
        _("Phone"),
        _("Ready on"),
        _("Days waiting"),
        _("SMS sent"),
        _("Next reminder"),
    ]
    return csv_response(
        f"backlog-{picked['today'].isoformat()}.csv",
        header,
        (
            [
                entry.reference,
                entry.application.centre.code,
                entry.application.service.code,
                entry.name,
                entry.phone,
                entry.ready_day.isoformat(),
                entry.waited,
                "; ".join(_sent_text(sent) for sent in entry.history),
                f"{entry.next.day.isoformat()} {entry.next.event_label}" if entry.next else "",
            ]
            for entry in entries
        ),
    )


def _sent_text(sent: selectors.SentMessage) -> str:
    return f"{selectors.local_day(sent.at).isoformat()} {sent.event_label} ({sent.state_label})"


# --- Returns ---------------------------------------------------------------------------------


def _returns(request: HttpRequest) -> tuple[ReturnsFilter, dict[str, Any]]:
    form = ReturnsFilter(request.GET)
    if not form.is_valid():
        return form, {}
    staff = acting(request)
    centre_id = _centre_id(staff, form)
    agency = form.cleaned_data.get("agency")
    today = selectors.today_local()
    found = selectors.return_list(
        staff,
        centre_id=centre_id,
        agency_id=agency.pk if agency is not None else None,
        today=today,
    )
    return form, {"found": found, "centre_id": centre_id, "agency": agency, "today": today}


def _return_rows(applications: list[Any], today: date) -> list[dict[str, Any]]:
    return [
        {
            "application": application,
            "reference": references.display(application.reference),
            "name": mask_name(application.applicant_name),
            "ready_day": selectors.local_day(application.ready_at),
            "return_day": selectors.return_day(application),
            "waited": selectors.days_waiting(application.ready_at, today),
        }
        for application in applications
    ]


@require_safe
@staff_required(Capability.BACKLOG)
def returns(request: HttpRequest) -> HttpResponse:
    staff = acting(request)
    form, picked = _returns(request)
    if not picked:
        return _bad_filter(form)
    rows, previous, following = _window(picked["found"], _page(request), RETURN_PAGE)
    query = _query_without(request, "page", "all")
    return render(
        request,
        "backlog/returns.html",
        {
            "form": form,
            "is_admin": staff.role == Role.ADMINISTRATOR,
            "can_return": staff.can(Capability.RETURN),
            "summary": selectors.return_summary(
                staff, centre_id=picked["centre_id"], today=picked["today"]
            ),
            "rows": _return_rows(rows, picked["today"]),
            "select_all": request.GET.get("all") == "1",
            "keep_page": _query_without(request, "all"),
            "previous": previous,
            "next": following,
            "query": query,
            "here": request.get_full_path(),
            "print_url": f"{reverse('backlog-returns-print')}?{query}",
            "csv_url": f"{reverse('backlog-returns-csv')}?{query}",
            "today": picked["today"],
        },
    )


@require_POST
@staff_required(Capability.RETURN)
def returns_confirm(request: HttpRequest) -> HttpResponse:
    staff = acting(request)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("backlog-returns")
    try:
        ids = [int(value) for value in request.POST.getlist("application")]
    except ValueError:
        return HttpResponse(
            _("The selection is not valid."), status=400, content_type="text/plain; charset=utf-8"
        )
    try:
        outcome = services.returns_confirm(
            staff=staff, application_ids=ids, note=request.POST.get("note", "")[:500]
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return HttpResponseRedirect(back)
    return render(request, "backlog/returns_done.html", {"outcome": outcome, "back": back})


@require_safe
@staff_required(Capability.BACKLOG)
def returns_print(request: HttpRequest) -> HttpResponse:
    form, picked = _returns(request)
    if not picked:
        return _bad_filter(form)
    rows = list(picked["found"][: PRINT_LIMIT + 1])
    truncated = len(rows) > PRINT_LIMIT
    rows = rows[:PRINT_LIMIT]
    agency = picked["agency"]
    audit_record(
        acting(request),
        AuditAction.PRINT,
        detail=f"return list{': ' + agency.code if agency else ''}",
        rows=len(rows),
    )
    return render(
        request,
        "backlog/returns_print.html",
        {
            "rows": _return_rows(rows, picked["today"]),
            "truncated": truncated,
            "limit": PRINT_LIMIT,
            "today": picked["today"],
            "agency": agency,
            "back_url": f"{reverse('backlog-returns')}?{request.GET.urlencode()}",
        },
    )


@require_safe
@staff_required(Capability.BACKLOG)
def returns_csv(request: HttpRequest) -> HttpResponse:
    form, picked = _returns(request)
    if not picked:
        return _bad_filter(form)
    rows = _return_rows(list(picked["found"][:EXPORT_LIMIT]), picked["today"])
    agency = picked["agency"]
    audit_record(
        acting(request),
        AuditAction.EXPORT,
        detail=f"return list CSV{': ' + agency.code if agency else ''}",
        rows=len(rows),
    )
    header = [
        _("Agency"),
        _("Reference"),
        _("Agency reference"),
        _("Centre"),
        _("Service"),
        _("Name"),
        _("Ready on"),
        _("Retention ended"),
        _("Days waiting"),
    ]
    return csv_response(
        f"returns-{picked['today'].isoformat()}.csv",
        header,
        (
            [
                row["application"].agency.code,
                row["reference"],
                row["application"].agency_ref or "",
                row["application"].centre.code,
                row["application"].service.code,
                row["name"],
                row["ready_day"].isoformat(),
                row["return_day"].isoformat(),
                row["waited"],
            ]
            for row in rows
        ),
    )


# --- Citizen queries ------------------------------------------------------------------------------


@require_safe
@staff_required(Capability.QUERIES)
def queries(request: HttpRequest) -> HttpResponse:
    staff = acting(request)
    form = QueueFilter(request.GET or None)
    state = QueryState.OPEN
    if form.is_bound and form.is_valid() and form.cleaned_data.get("state"):
        state = QueryState(form.cleaned_data["state"])
    rows, previous, following = _window(
        selectors.query_queue(staff, state=state), _page(request), PAGE
    )
    today = selectors.today_local()
    return render(
        request,
        "backlog/queries.html",
        {
            "form": form,
            "state": state,
            "rows": [_query_row(query, today) for query in rows],
            "previous": previous,
            "next": following,
            "query": _query_without(request, "page"),
        },
    )


def _query_row(query: CitizenQuery, today: date) -> dict[str, Any]:
    application = query.application
    return {
        "query": query,
        "application": application,
        "reference": references.display(application.reference),
        "overdue": selectors.days_overdue(application, today),
    }


@require_http_methods(["GET", "POST"])
@staff_required(Capability.QUERIES)
def query_answer(request: HttpRequest, pk: int) -> HttpResponse:
    staff = acting(request)
    try:
        query = selectors.query_get(staff, pk)  # NotAllowed (403) outside the staff's scope
    except CitizenQuery.DoesNotExist:
        raise Http404(_("There is no such query.")) from None
    form = AnswerForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if query.state != QueryState.OPEN:
            messages.error(request, services.QueryAlreadyAnswered().message)
            return HttpResponseRedirect(reverse("query-answer", args=[query.pk]))
        if form.is_valid():
            try:
                services.query_answer(staff=staff, query=query, answer=form.cleaned_data["answer"])
            except services.QueryAlreadyAnswered as refused:
                messages.error(request, refused.message)
                return HttpResponseRedirect(reverse("query-answer", args=[query.pk]))
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request,
                    _("Answer sent to the citizen by SMS (%(reference)s).")
                    % {"reference": references.display(query.application.reference)},
                )
                return HttpResponseRedirect(reverse("queries"))
        status = 400
    application = query.application
    return render(
        request,
        "backlog/query.html",
        {
            "form": form,
            "query": query,
            "row": _query_row(query, selectors.today_local()),
            "name": mask_name(application.applicant_name),
            "phone": mask_phone(application.applicant_phone),
            "limit": services.ANSWER_MAX_LENGTH,
        },
        status=status,
    )
