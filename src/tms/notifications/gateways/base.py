"""The interface between the outbox dispatcher and an SMS gateway.

A gateway sends one text to up to 1,000 numbers in one request and answers with
one ``RecipientResult`` per number. Failures of the whole request are raised as
``GatewayError`` subclasses, so that the dispatcher can tell "retry everything
later" from "stop sending and call staff".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

MAX_RECIPIENTS = 1000  # AFRICASTALKING.md: AT sets no limit; we keep batches at 1,000


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the gateway took it; delivery reports tell the rest
    PERMANENT = "permanent"  # refused for this number or text: do not retry
    TEMPORARY = "temporary"  # retry this recipient later with back-off
    ACCOUNT = "account"  # account problem (e.g. no credit): pause sending, alert staff


@dataclass(frozen=True, slots=True)
class RecipientResult:
    number: str  # E.164, as sent
    outcome: Outcome
    status_code: int | None  # the gateway's own code, None when it gave none
    status: str  # the gateway's word for it ("Success", "InvalidPhoneNumber", ...)
    gateway_message_id: str | None  # the id delivery reports will carry
    cost: Decimal | None  # None when the gateway said nothing usable
    currency: str  # "" when the cost carries none


class GatewayError(Exception):
    """The whole request failed; no recipient results exist."""


class GatewayTemporaryError(GatewayError):
    """Retry all recipients later: HTTP 5xx, timeout, connection failure, unreadable answer.

    ``maybe_accepted`` is True when the request may have reached the gateway and been
    acted on (a read timeout, a dropped connection after sending, a 2xx answer we
    could not read). Resending then risks a duplicate, so the dispatcher should record
    the messages as unknown and reconcile from delivery reports (SPEC §5). It is False
    when the request surely did not get through (connection refused, HTTP 5xx).
    """

    def __init__(self, message: str, *, maybe_accepted: bool = False) -> None:
        super().__init__(message)
        self.maybe_accepted = maybe_accepted


class GatewayAccountError(GatewayError):
    """The gateway refused our account (HTTP 401 bad credentials): pause sending, alert staff."""


class GatewayRequestError(GatewayError):
    """The gateway refused the request itself (an HTTP 4xx other than 401, 408 and 429).

    That is our bug or our configuration (a malformed request, a wrong base URL), so
    sending the same request again gets the same answer: not temporary. The messages
    are not lost by it: the dispatcher should hold them for staff rather than retry
    in a loop. The body is in the message with anything like a phone number masked.
    """

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class SmsGateway(Protocol):
    name: str

    def send(
        self, *, text: str, recipients: Sequence[str], sender_id: str | None = None
    ) -> list[RecipientResult]:
        """Send ``text`` to every number in ``recipients`` (unique E.164, at most 1,000)
        in one request: one result per recipient, matched by ``number``."""
        ...

    def close(self) -> None: ...
