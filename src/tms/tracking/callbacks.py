"""Africa's Talking calls these (SPEC §8): USSD sessions and incoming SMS.

Both answer 200 to everything the gateway may send, since it shows an error to the
citizen (USSD) or retries (SMS) otherwise; a request without the callback token gets 403
and changes nothing. Logs carry no phone numbers, references or texts.
"""

from __future__ import annotations

import hashlib
import logging
import traceback

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tms.core.outage import already_logged, database_unavailable
from tms.core.phones import InvalidPhoneNumber, normalise_phone
from tms.notifications.views import callback_token_required
from tms.tracking.inbound_sms import inbound_sms_handle
from tms.tracking.limits import retry_after
from tms.tracking.ussd import (
    cannot_serve_message,
    end_screen,
    failure_message,
    remembered_language,
    ussd_respond,
    wait_message,
)

logger = logging.getLogger(__name__)

# Incoming SMS ids already answered: the gateway may deliver one twice.
INBOUND_SEEN_TTL = 24 * 3600


def _log_failure(what: str, error: Exception) -> None:
    if database_unavailable(error):
        # An outage: one line each, not a traceback mailed per callback.
        logger.warning("%s: the database is unavailable", what)
        return
    # Where it failed, without the exception's message: a database error can quote the
    # row (a phone number) in it.
    frames = "".join(traceback.format_tb(error.__traceback__))
    logger.error("%s: %s\n%s", what, type(error).__name__, frames)


def _plain_text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
@callback_token_required
def ussd(request: HttpRequest) -> HttpResponse:
    """One step of a USSD session: answers ``CON ...`` (wait for input) or ``END ...``."""
    session_id = request.POST.get("sessionId", "").strip()
    text = request.POST.get("text", "")
    try:
        phone = normalise_phone(request.POST.get("phoneNumber", ""))
    except InvalidPhoneNumber:
        return _plain_text(end_screen(cannot_serve_message()))
    language = remembered_language(phone) or "en"
    wait = retry_after(
        request, scope="ussd.phone", value=phone, rate=settings.TMS_RATE_CALLBACK_PER_PHONE
    )
    if wait is not None:
        # Never a 429: the gateway expects a screen, and a polite one helps the citizen.
        with translation.override(language):
            return _plain_text(end_screen(wait_message(wait)))
    try:
        return _plain_text(ussd_respond(request, session_id=session_id, phone=phone, text=text))
    except Exception as error:
        _log_failure("USSD request failed", error)
        with translation.override(language):
            return _plain_text(end_screen(failure_message()))


@csrf_exempt
@require_POST
@callback_token_required
def incoming_sms(request: HttpRequest) -> HttpResponse:
    """An SMS to our short code: any answer goes back as a new outgoing SMS."""
    if "from" not in request.POST or "text" not in request.POST:
        return _plain_text("missing from or text", status=400)
    try:
        phone = normalise_phone(request.POST["from"])
    except InvalidPhoneNumber:
        return _plain_text("ignored: not a mobile number")
    seen_key = ""
    if message_id := request.POST.get("id", "").strip():
        seen_key = "tms.sms.inbound." + hashlib.sha256(message_id.encode()).hexdigest()[:32]
        # add() is atomic: of two deliveries arriving together, one is answered.
        if not cache.add(seen_key, True, timeout=INBOUND_SEEN_TTL):
            return _plain_text("ok: already answered")
    wait = retry_after(
        request, scope="sms.phone", value=phone, rate=settings.TMS_RATE_CALLBACK_PER_PHONE
    )
    if wait is not None:
        return _plain_text("ok: rate limited, no reply")
    try:
        inbound_sms_handle(phone=phone, text=request.POST["text"])
    except Exception as error:
        # Nothing was queued (one transaction); the gateway may try again.
        _log_failure("incoming SMS not handled", error)
        if seen_key:
            cache.delete(seen_key)  # so that a retry is answered
        return already_logged(_plain_text("not handled", status=503))
    return _plain_text("ok")
