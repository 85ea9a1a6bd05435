"""Log lines: one JSON object per line in production (TMS_LOG_FORMAT), each carrying the
request id, and a safety net that masks phone and ID numbers (SPEC §11).

The code should not log personal data in the first place; the filter catches what slips
through (an exception message quoting a value, a library's debug line).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.http import HttpRequest
from django.utils.safestring import SafeString
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

from tms.core.request_context import current_request_id

# Kenyan mobile and fixed-wireless numbers: +2547XXXXXXXX, 2547XXXXXXXX, 07XXXXXXXX and the
# 01 ranges, also written in groups or URL-encoded ("%2B254", "0712+345+678").
_SEPARATOR = r"(?:[ .+-]|%20)?"
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|%2B)?254" + _SEPARATOR + r"|0)[17](?:" + _SEPARATOR + r"\d){8}(?!\d)",
    re.IGNORECASE,
)
# National ID and birth certificate numbers: 7 to 9 digits standing alone (not part of a
# longer number, a decimal, a word or a hyphenated code such as a UUID).
_ID_NUMBER = re.compile(r"(?<![\w.-])\d{7,9}(?![\w-]|\.\d)")
PHONE_MASK = "<phone>"
ID_NUMBER_MASK = "<id-number>"

# Attributes every LogRecord has; anything else came from ``extra=`` and is masked too.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "request_id"}


def redact(text: str) -> str:
    """The text with phone numbers and ID-like numbers masked."""
    return _ID_NUMBER.sub(ID_NUMBER_MASK, _PHONE.sub(PHONE_MASK, text))


class PersonalDataFilter(logging.Filter):
    """Masks phone and ID numbers in the final message, the exception text and extras.

    Installed on the handlers (not on loggers), so it sees every record that is written,
    whichever logger it came from.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A broken format string: keep the bare template, never the arguments.
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


class NoTemplateContextFilter(logging.Filter):
    """For the ``django.template`` logger: its DEBUG line for a missing variable carries an
    exception whose text is the whole template context (names, phone numbers). The line
    is kept, the exception dropped. A logger filter, so it applies to every handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


class RequestIdFilter(logging.Filter):
    """Adds ``request_id``: the current request's, or the enqueuing request's in a task."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class PlainFormatter(logging.Formatter):
    """One readable line: for a terminal, and the default outside production."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            defaults={"request_id": "-"},
        )

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


class JsonFormatter(_LibraryJsonFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    exception (when there is one), and any ``extra=`` fields."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
            timestamp="time",
            # Django's request logger passes the request object: its repr holds the path
            # (and so references); the route is in the metrics instead.
            reserved_attrs=[*RESERVED_ATTRS, "request"],
        )

    def formatException(self, ei: Any) -> str:
        # The filter formats and masks exceptions into exc_text; this covers a handler
        # configured without the filter.
        return redact(str(super().formatException(ei)))

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.exc_text:
            # Prefer the masked text that the filter left over formatting exc_info again.
            exc_info, record.exc_info = record.exc_info, None
            try:
                return super().format(record)
            finally:
                record.exc_info = exc_info
        return super().format(record)


class PersonalDataReporterFilter(SafeExceptionReporterFilter):
    """Error reports (mailed to administrators) carry no personal data: no form values,
    no local variables (a frame's ``applicant_name``), settings cleansed as Django does."""

    def get_post_parameters(self, request: HttpRequest | None) -> dict[str, Any]:
        if request is None:
            return {}
        return dict.fromkeys(request.POST, self.cleansed_substitute)

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        return []


class PersonalDataExceptionReporter(ExceptionReporter):
    """The report mailed to administrators: query values masked too (a hand-over search
    carries a phone number there), and the whole text passed through ``redact``."""

    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        if "request_GET_items" in data:
            substitute = self.filter.cleansed_substitute
            data["request_GET_items"] = [(key, substitute) for key, _ in data["request_GET_items"]]
        if "request_FILES_items" in data:
            data["request_FILES_items"] = []
        return data

    def get_traceback_text(self) -> SafeString:
        # Plain text for the e-mail's body, never put in a page: the marking only keeps
        # the parent's type.
        return SafeString(redact(super().get_traceback_text()))
