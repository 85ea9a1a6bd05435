"""Africa's Talking callbacks (SPEC §8) and the staff SMS outbox page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages as django_messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from tms.accounts.access import acting, staff_required
from tms.accounts.roles import Capability, Role
from tms.accounts.scope import NotAllowed
from tms.applications.references import ReferenceTypingError
from tms.core.outage import already_logged, database_unavailable
from tms.notifications.models import Message, MessageState
from tms.notifications.selectors import message_list
from tms.notifications.services import active_pause, delivery_report_record, message_resend

logger = logging.getLogger(__name__)


def callback_token_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """With TMS_AT_CALLBACK_TOKEN set, ``?token=`` must match, compared in constant time."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        expected = settings.TMS_AT_CALLBACK_TOKEN
        if expected and not constant_time_compare(request.GET.get("token", ""), expected):
            return HttpResponseForbidden("forbidden", content_type="text/plain")
        return view(request, *args, **kwargs)

    return wrapped


@csrf_exempt
@require_POST
@callback_token_required
def delivery_report(request: HttpRequest) -> HttpResponse:
    """A delivery report: recorded however it arrives (twice, early, unknown id); never a 500."""
    gateway_id = request.POST.get("id", "").strip()
    status = request.POST.get("status", "").strip()
    if not gateway_id or not status:
        return HttpResponse("missing id or status", status=400, content_type="text/plain")
    try:
        delivery_report_record(
            gateway_message_id=gateway_id,
            status=status,
            phone=request.POST.get("phoneNumber", "").strip(),
            failure_reason=request.POST.get("failureReason", "").strip(),
            network_code=request.POST.get("networkCode", "").strip(),
        )
    except Exception as error:
        # The gateway retries on errors; a report we cannot record must not loop forever.
        if database_unavailable(error):
            logger.warning("could not record a delivery report: the database is unavailable")
        else:
            logger.exception("could not record a delivery report")
        return already_logged(HttpResponse("not recorded", status=503, content_type="text/plain"))
    return HttpResponse("ok", content_type="text/plain")


@staff_required(Capability.SMS_OUTBOX)
@require_safe
def outbox(request: HttpRequest) -> HttpResponse:
    """What citizens receive, newest first: the demo's window on the SMS gateway.
    ``?reference=`` shows one application's messages."""
    state = request.GET.get("state", "")
    reference = request.GET.get("reference", "").strip()
    reference_error = ""
    try:
        messages = message_list(staff=acting(request), state=state, reference=reference)
    except ReferenceTypingError as error:
        messages, reference_error = Message.objects.none(), error.message
    page = Paginator(messages, 50, allow_empty_first_page=True).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/outbox.html",
        {
            "page": page,
            "state": state,
            "reference": reference,
            "reference_error": reference_error,
            "pause": active_pause(),
            "states": MessageState.choices,
            "resendable": {MessageState.FAILED, MessageState.UNKNOWN},
        },
    )


@staff_required(Capability.SMS_OUTBOX)
@require_POST
def resend(request: HttpRequest, message_id: int) -> HttpResponse:
    """One click to send a failed or unknown message again."""
    message = get_object_or_404(Message, pk=message_id)
    staff = acting(request)
    # Staff.covers is False for replies (no application): administrators only.
    if staff.role != Role.ADMINISTRATOR and (
        message.application is None or not staff.covers(message.application)
    ):
        raise NotAllowed(_("This message belongs to another centre."))
    try:
        message_resend(message=message)
    except ValueError:
        django_messages.error(request, _("Only failed or unknown messages can be resent."))
    else:
        django_messages.success(request, _("The message is queued again."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("sms-outbox")
    return redirect(target)
