"""Counter pages: lodge and print the slip; find an application and hand it over.

Views are thin: role and scope are checked again by the selectors and services."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from tms.accounts.access import acting, staff_required
from tms.accounts.roles import Capability
from tms.accounts.scope import Staff
from tms.applications import references
from tms.applications.lifecycle import InvalidTransition, Status
from tms.applications.models import Application
from tms.applications.services import ApplicationConflict
from tms.core.phones import mask_phone
from tms.counter import selectors, services
from tms.counter.forms import (
    HandoverForm,
    LodgeForm,
    SearchForm,
    lodge_token_issue,
    lodge_token_read,
    set_errors,
)
from tms.counter.selectors import SearchKind
from tms.tracking.selectors import mask_name

PAPERS = ("a6", "80mm")


# --- Lodging and the slip -------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(Capability.LODGE)
def lodge(request: HttpRequest) -> HttpResponse:
    staff = acting(request)
    if request.method != "POST":
        form = LodgeForm(initial={"token": lodge_token_issue(staff.pk)})
        return render(request, "counter/lodge.html", {"form": form})
    form = LodgeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        nonce = lodge_token_read(data["token"], staff.pk)
        if nonce is None:
            # Re-issue, so that submitting again (after a check) works.
            data = request.POST.copy()
            data["token"] = lodge_token_issue(staff.pk)
            form = LodgeForm(data)
            form.is_valid()
            form.add_error(None, _("This form had expired. Check the details and lodge again."))
            return render(request, "counter/lodge.html", {"form": form}, status=400)
        try:
            application, new = services.counter_lodge(
                staff=staff,
                token=nonce,
                service=data["service"],
                applicant_name=data["applicant_name"],
                applicant_phone=data["applicant_phone"],
                applicant_id_number=data["applicant_id_number"],
                language=data["language"],
                representative_name=data["representative_name"],
                representative_phone=data["representative_phone"],
            )
        except ValidationError as error:
            set_errors(form, error)
        else:
            if new:
                messages.success(
                    request,
                    _("Lodged. Reference %(reference)s; the citizen gets it by SMS.")
                    % {"reference": references.display(application.reference)},
                )
            else:
                messages.info(request, _("This form was already lodged; here is its slip."))
            return HttpResponseRedirect(reverse("counter-slip", args=[application.reference]))
    return render(request, "counter/lodge.html", {"form": form}, status=400)


def _svg(document: bytes, label: str) -> SafeString:
    """An SVG document made fit to inline: no XML prolog, labelled for screen readers."""
    text = document.decode()
    text = text[text.index("<svg") :]
    text = text.replace("<svg", f'<svg role="img" aria-label="{label}"', 1)
    return mark_safe(text)  # noqa: S308 (our own drawing; the label is digits and our words)


def barcode_svg(reference: str) -> SafeString:
    """Code 128 of the reference digits, at a size counter scanners read from paper."""
    # Imported here: python-barcode logs a line about Pillow when imported, and every
    # management command would print it.
    import barcode
    from barcode.writer import SVGWriter

    drawing = barcode.Code128(reference, writer=SVGWriter()).render(
        writer_options={
            "module_width": 0.3,
            "module_height": 12.0,
            "quiet_zone": 3.0,
            "write_text": False,
        }
    )
    return _svg(drawing, _("Barcode of the reference %(reference)s") % {"reference": reference})


def tracking_url(reference: str) -> str:
    return f"https://{settings.TMS_TRACK_URL}/track/?{urlencode({'ref': reference})}"


def qr_svg(url: str) -> SafeString:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=6, border=2)
    buffer = BytesIO()
    image.save(buffer)
    return _svg(buffer.getvalue(), _("QR code to track this application"))


@never_cache
@require_safe
@staff_required(Capability.LODGE)
def slip(request: HttpRequest, reference: str) -> HttpResponse:
    """The citizen's lodging slip, in their language, for A6 paper or 80 mm thermal rolls."""
    staff = acting(request)
    application = selectors.application_for(staff, reference)
    services.slip_print_record(staff=staff, application=application)
    paper = request.GET.get("paper", "a6")
    if paper not in PAPERS:
        paper = "a6"
    language = application.language
    url = tracking_url(application.reference)
    context: dict[str, Any] = {
        "application": application,
        "paper": paper,
        "papers": PAPERS,
        "reference_display": references.display(application.reference),
        "barcode": barcode_svg(application.reference),
        "qr": qr_svg(url),
        "track_url": url,
        "track_site": settings.TMS_TRACK_URL,
        "ussd_code": settings.TMS_USSD_CODE,
        "service_name": application.service.name(language),
        "bring": application.service.what_to_bring(language),
        "masked_name": mask_name(application.applicant_name),
        "slip_language": language,
    }
    return render(request, "counter/slip.html", context)


# --- Find and hand over ---------------------------------------------------------------------


@never_cache
@require_safe
@staff_required(Capability.FIND)
def find(request: HttpRequest) -> HttpResponse:
    staff = acting(request)
    form = SearchForm(request.GET if "q" in request.GET else None)
    rows: list[Application] | None = None
    status = 200
    if form.is_bound and form.is_valid():
        kind = SearchKind(form.cleaned_data["kind"])
        try:
            rows = services.counter_search(staff=staff, kind=kind, term=form.cleaned_data["q"])
        except ValidationError as error:
            set_errors(form, error)
            status = 400
        else:
            if kind == SearchKind.REFERENCE and len(rows) == 1:
                # A scanned slip: straight to the application.
                return HttpResponseRedirect(
                    reverse("counter-application", args=[rows[0].reference])
                )
    elif form.is_bound:
        status = 400
    results = (
        [
            {
                "reference": row.reference,
                "reference_display": references.display(row.reference),
                "masked_name": mask_name(row.applicant_name),
                "service": row.service.name(get_language()),
                "status": row.get_status_display(),
                "centre": row.centre.name,
            }
            for row in rows
        ]
        if rows is not None
        else None
    )
    return render(request, "counter/find.html", {"form": form, "results": results}, status=status)


def _detail(
    request: HttpRequest,
    staff: Staff,
    application: Application,
    form: HandoverForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can_hand_over = (
        staff.can(Capability.HAND_OVER)
        and staff.centre_id == application.centre_id
        and application.status == Status.READY
    )
    if can_hand_over and form is None:
        form = HandoverForm(initial={"version": application.version})
    handover = (
        getattr(application, "handover", None) if application.status == Status.COLLECTED else None
    )
    context = {
        "application": application,
        "reference_display": references.display(application.reference),
        "masked_phone": mask_phone(application.applicant_phone),
        "masked_representative_phone": mask_phone(application.representative_phone)
        if application.representative_phone
        else "",
        "has_id_number": bool(application.applicant_id_number),
        "code_required": application.service.handover_code_required,
        "can_hand_over": can_hand_over,
        "other_centre": staff.centre_id != application.centre_id,
        "can_print": staff.can(Capability.LODGE),
        "form": form if can_hand_over else None,
        "handover": handover,
    }
    return render(request, "counter/application.html", context, status=status)


@never_cache
@require_safe
@staff_required(Capability.FIND)
def application_detail(request: HttpRequest, reference: str) -> HttpResponse:
    staff = acting(request)
    application = selectors.application_for(staff, reference)
    services.application_view_record(staff=staff, application=application)
    return _detail(request, staff, application)


@require_POST
@staff_required(Capability.HAND_OVER)
def send_code(request: HttpRequest, reference: str) -> HttpResponse:
    staff = acting(request)
    application = selectors.application_for(staff, reference)
    try:
        services.handover_code_send(staff=staff, application=application)
    except services.CodeWait as wait:
        messages.warning(request, str(wait))
    except InvalidTransition as refused:
        messages.error(request, refused.message)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("A code was sent to %(phone)s. It lasts 10 minutes.")
            % {"phone": mask_phone(application.applicant_phone)},
        )
    return HttpResponseRedirect(reverse("counter-application", args=[application.reference]))


@require_POST
@staff_required(Capability.HAND_OVER)
def hand_over(request: HttpRequest, reference: str) -> HttpResponse:
    staff = acting(request)
    application = selectors.application_for(staff, reference)
    form = HandoverForm(request.POST)
    if not form.is_valid():
        return _detail(request, staff, application, form, status=400)
    data = form.cleaned_data
    try:
        services.handover_record(
            staff=staff,
            application=application,
            collector=services.collector_from(data),
            code=data["code"],
            seen_version=data["version"],
        )
    except ValidationError as error:
        set_errors(form, error)
        return _detail(request, staff, application, form, status=400)
    except (ApplicationConflict, InvalidTransition) as refused:
        messages.error(
            request, refused.message if isinstance(refused, InvalidTransition) else str(refused)
        )
        application = selectors.application_for(staff, reference)
        return _detail(request, staff, application, status=409)
    messages.success(
        request,
        _("Handed over. The citizen gets an SMS receipt."),
    )
    return HttpResponseRedirect(reverse("counter-application", args=[application.reference]))
