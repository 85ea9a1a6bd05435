"""Manifest pages: upload, preview, apply, follow progress, download the error rows.

Thin: reading, checking and applying live in ``services``; scope in ``selectors``."""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST, require_safe

from tms.accounts.access import acting, staff_required
from tms.accounts.roles import Capability
from tms.manifests import reading, selectors, services
from tms.manifests.models import Manifest, ManifestState, Outcome, Result


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Manifest file (CSV or Excel .xlsx, at most 50 MB)"),
        # An empty file is refused by the service, with the same message as in the tests.
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )


class SizeLimit(FileUploadHandler):
    """Stops taking in a file past ``limit`` bytes, so that a huge upload fills neither
    the memory nor the disk; the view then refuses it with a clear message."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False
        self.name = ""

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        self.name = file_name
        self.received = 0
        super().new_file(field_name, file_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@staff_required(Capability.ACKNOWLEDGE)
@csrf_exempt  # the size limit must be in place before the body is read; CSRF is checked next
def manifests(request: HttpRequest) -> HttpResponse:
    limit = SizeLimit(request, reading.MAX_BYTES)
    if request.method == "POST":
        request.upload_handlers.insert(0, limit)
    return _manifests(request, limit)


@csrf_protect
def _manifests(request: HttpRequest, limit: SizeLimit) -> HttpResponse:
    staff = acting(request)
    if request.method == "POST":
        files = request.FILES  # read the body now, through the size limit
        if limit.exceeded:
            size = max(limit.received, int(request.META.get("CONTENT_LENGTH") or 0))
            manifest = services.manifest_upload(
                staff=staff, file=io.BytesIO(), file_name=limit.name, size=size
            )
            return HttpResponseRedirect(reverse("manifest-detail", args=[manifest.pk]))
        form = UploadForm(request.POST, files)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            manifest = services.manifest_upload(
                staff=staff, file=upload.file, file_name=upload.name or "", size=upload.size or 0
            )
            return HttpResponseRedirect(reverse("manifest-detail", args=[manifest.pk]))
        status = 400
    elif request.method in ("GET", "HEAD"):
        form = UploadForm()
        status = 200
    else:
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    return render(
        request,
        "manifests/manifests.html",
        {"form": form, "recent": selectors.manifests_recent(staff)},
        status=status,
    )


@require_safe
@staff_required(Capability.ACKNOWLEDGE)
def detail(request: HttpRequest, manifest_id: int) -> HttpResponse:
    manifest = selectors.manifest_get(acting(request), manifest_id)
    counts = [(label, manifest.count(Outcome(value))) for value, label in Outcome.choices]
    problems = list(
        selectors.manifest_error_rows(acting(request), manifest)[: services.ERRORS_SHOWN]
    )
    labels = {**dict(Outcome.choices), **dict(Result.choices)}
    # A check runs within its upload request; one this old was cut short.
    interrupted = (
        manifest.state == ManifestState.CHECKING
        and manifest.created_at < timezone.now() - services.STALE_AFTER
    )
    return render(
        request,
        "manifests/detail.html",
        {
            "manifest": manifest,
            "counts": counts,
            "problems": [
                (row, labels[row.result] if row.result else labels[row.outcome]) for row in problems
            ],
            "shown": services.ERRORS_SHOWN,
            "can_commit": manifest.state == ManifestState.PREVIEWED and manifest.to_apply > 0,
            "can_resume": services.can_resume(manifest),
            "in_request": manifest.to_apply <= services.IN_REQUEST_ROWS,
            "applying": manifest.state == ManifestState.APPLYING
            or (manifest.state == ManifestState.CHECKING and not interrupted),
            "interrupted": interrupted,
            "percent": int(100 * manifest.done / manifest.to_apply) if manifest.to_apply else 0,
            "States": ManifestState,
        },
    )


@require_POST
@staff_required(Capability.ACKNOWLEDGE)
def commit(request: HttpRequest, manifest_id: int) -> HttpResponse:
    staff = acting(request)
    manifest = selectors.manifest_get(staff, manifest_id)
    try:
        manifest = services.manifest_commit(staff=staff, manifest=manifest)
    except services.ManifestNotReady as error:
        messages.error(request, error.message)
    else:
        if manifest.state == ManifestState.APPLIED:
            messages.success(
                request,
                _("%(applied)s documents marked ready for collection; their SMS are queued.")
                % {"applied": manifest.applied},
            )
        else:
            messages.info(request, _("Applying in the background; this page follows its progress."))
    return HttpResponseRedirect(reverse("manifest-detail", args=[manifest_id]))


@require_POST
@staff_required(Capability.ACKNOWLEDGE)
def resume(request: HttpRequest, manifest_id: int) -> HttpResponse:
    staff = acting(request)
    manifest = selectors.manifest_get(staff, manifest_id)
    try:
        services.manifest_resume(staff=staff, manifest=manifest)
    except services.ManifestNotReady as error:
        messages.error(request, error.message)
    else:
        messages.info(request, _("Resumed where it stopped."))
    return HttpResponseRedirect(reverse("manifest-detail", args=[manifest_id]))


@require_safe
@staff_required(Capability.ACKNOWLEDGE)
def progress(request: HttpRequest, manifest_id: int) -> JsonResponse:
    manifest: Manifest = selectors.manifest_get(acting(request), manifest_id)
    return JsonResponse(
        {
            "state": manifest.state,
            "to_apply": manifest.to_apply,
            "done": manifest.done,
            "applied": manifest.applied,
            "changed": manifest.changed,
        }
    )


@require_safe
@staff_required(Capability.ACKNOWLEDGE)  # type: ignore[arg-type]  # a streamed response
def errors_csv(request: HttpRequest, manifest_id: int) -> StreamingHttpResponse:
    staff = acting(request)
    manifest = selectors.manifest_get(staff, manifest_id)
    lines = services.manifest_errors_export(staff=staff, manifest=manifest)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="manifest-{manifest.pk}-errors.csv"'
    return response
