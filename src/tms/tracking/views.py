"""The public tracking pages: mobile-first, no JavaScript needed, English and Swahili."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from tms.applications.models import Channel
from tms.applications.references import ReferenceTypingError, parse
from tms.applications.selectors import ApplicationNotFound, application_get
from tms.core.phones import InvalidPhoneNumber
from tms.tracking.limits import lookup_limits, lost_reference_limits
from tms.tracking.selectors import public_status
from tms.tracking.services import QueryRefused, lookup_count, lost_reference_request, query_raise

LANGUAGE_COOKIE_AGE = 365 * 24 * 3600


def too_many(request: HttpRequest, wait: int) -> HttpResponse:
    response = render(request, "tracking/limited.html", {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


@require_safe
def track(request: HttpRequest) -> HttpResponse:
    """The form, and with ``?ref=`` the application's status."""
    typed = request.GET.get("ref", "").strip()
    context: dict[str, object] = {"typed": typed}
    if not typed:
        return render(request, "tracking/track.html", context)
    wait = lookup_limits(request, typed)
    if wait is not None:
        return too_many(request, wait)
    language = translation.get_language() or "en"
    try:
        status = public_status(reference=typed, language=language)
    except ReferenceTypingError as error:
        context["error"] = error.message
        context["error_kind"] = "typing"
        return render(request, "tracking/track.html", context, status=400)
    except ApplicationNotFound:
        context["error"] = _(
            "We found no application with this reference. Check it against your slip; "
            "if it is right, the centre may not have recorded it yet."
        )
        context["error_kind"] = "not_found"
        return render(request, "tracking/track.html", context, status=404)
    lookup_count(Channel.WEB)
    etag = (
        '"'
        + hashlib.sha256(
            f"{status.reference}:{status.version}:{language}:{timezone.localdate()}:"
            f"{status.estimate}:{status.can_raise_query}".encode()
        ).hexdigest()[:32]
        + '"'
    )
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        context["status"] = status
        response = render(request, "tracking/track.html", context)
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=60"
    response["Vary"] = "Cookie, Accept-Language"
    return response


@require_POST
def raise_query(request: HttpRequest, reference: str) -> HttpResponse:
    """An overdue application's citizen asks what is happening."""
    wait = lookup_limits(request, reference)
    if wait is not None:
        return too_many(request, wait)
    try:
        application = application_get(reference=reference)
        query_raise(application=application, channel=Channel.WEB)
    except (ReferenceTypingError, ApplicationNotFound):
        return HttpResponseRedirect(f"/track/?{urlencode({'ref': reference})}")
    except QueryRefused as refused:
        return render(
            request,
            "tracking/query_done.html",
            {"message": refused.message, "reference": reference},
        )
    message = _(
        "Thank you. Your query has reached the centre and the agency. We will answer you by SMS."
    )
    return render(
        request, "tracking/query_done.html", {"message": message, "reference": parse(reference)}
    )


@require_http_methods(["GET", "POST"])
def lost_reference(request: HttpRequest) -> HttpResponse:
    """Send a phone's references to that phone; the answer is the same either way."""
    context: dict[str, object] = {}
    if request.method == "POST":
        phone = request.POST.get("phone", "")
        context["phone"] = phone
        wait = lost_reference_limits(request, phone)
        if wait is not None:
            return too_many(request, wait)
        try:
            lost_reference_request(phone=phone, language=translation.get_language() or "en")
        except InvalidPhoneNumber as error:
            context["error"] = error.messages[0]
            return render(request, "tracking/lost.html", context, status=400)
        context["sent"] = True
    return render(request, "tracking/lost.html", context)


@require_safe
def switch_language(request: HttpRequest, code: str) -> HttpResponse:
    """A plain link (no form, no JavaScript) that remembers the chosen language."""
    target = request.GET.get("next", "/track/")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/track/"
    response = HttpResponseRedirect(target)
    if code in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, code, max_age=LANGUAGE_COOKIE_AGE, samesite="Lax"
        )
    return response
