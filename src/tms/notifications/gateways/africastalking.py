"""Africa's Talking SMS client, speaking the API in /work/shared/AFRICASTALKING.md exactly.

Choices beyond the documentation:

- ``bulkSMSMode=1`` always (we pay, not the subscriber). ``enqueue=1`` whenever a
  request has more than one recipient: AT then queues and answers at once instead
  of holding the connection while it hands 1,000 numbers to the networks, which
  would run into our timeout and leave it unknown what was sent. A single
  recipient is sent without it, so its refusal (403 InvalidPhoneNumber...) comes
  back in the same answer.
- HTTP 401 raises ``GatewayAccountError``; 5xx, 408, 429, timeouts, connection
  errors and an unreadable 2xx answer raise ``GatewayTemporaryError``; any other
  4xx (and a 3xx: a wrong base URL) raises ``GatewayRequestError``: our own bug
  or configuration, which the same request would hit again.
- Numbers that are not E.164 are not sent: they come back PERMANENT with status
  ``InvalidPhoneNumber`` at once, so one bad row cannot fail a batch.
- Logs carry counts and codes only, never a phone number or a text (SPEC §11).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any

import httpx

from tms.notifications.gateways.base import (
    MAX_RECIPIENTS,
    GatewayAccountError,
    GatewayRequestError,
    GatewayTemporaryError,
    Outcome,
    RecipientResult,
)

logger = logging.getLogger(__name__)

LIVE_BASE_URL = "https://api.africastalking.com"
SANDBOX_BASE_URL = "https://api.sandbox.africastalking.com"
SEND_PATH = "/version1/messaging"

ACCEPTED_CODES = frozenset({100, 101, 102})  # Processed, Sent, Queued
PERMANENT_CODES = frozenset({401, 402, 403, 404, 406, 407, 409})
ACCOUNT_CODES = frozenset({405})  # InsufficientBalance
TEMPORARY_CODES = frozenset({500, 501, 502})
_KNOWN_CODES = ACCEPTED_CODES | PERMANENT_CODES | ACCOUNT_CODES | TEMPORARY_CODES

MISSING_FROM_ANSWER = "missing from answer"

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# Masks anything like a phone number before an error body reaches a log.
_NUMBER_LIKE = re.compile(r"\+?[0-9][0-9 ]{5,}[0-9]")


def outcome_for(status_code: int | None) -> Outcome:
    if status_code in ACCEPTED_CODES:
        return Outcome.ACCEPTED
    if status_code in PERMANENT_CODES:
        return Outcome.PERMANENT
    if status_code in ACCOUNT_CODES:
        return Outcome.ACCOUNT
    # 500-502, and any code AT added after us: retrying is the safe guess.
    return Outcome.TEMPORARY


def parse_cost(raw: object) -> tuple[Decimal | None, str]:
    """``"KES 0.8000"`` -> ``(Decimal("0.8000"), "KES")``; ``"0"`` -> ``(Decimal(0), "")``."""
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        return None, ""
    parts = str(raw).split()
    if len(parts) == 1:
        currency, amount = "", parts[0]
    elif len(parts) == 2:
        currency, amount = parts
    else:
        return None, ""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return None, ""
    return (value, currency) if value.is_finite() else (None, "")


def _message_id(raw: object) -> str | None:
    # A refused recipient carries the string "None".
    if not isinstance(raw, str) or raw in {"", "None"}:
        return None
    return raw


def _status_code(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw)
    return None


def _key(number: str) -> str:
    # Match answers by digits, in case AT ever echoes a number without its "+".
    return number.lstrip("+")


def _masked_body(response: httpx.Response) -> str:
    return _NUMBER_LIKE.sub("<number>", response.text[:300]).strip()


class AfricasTalkingGateway:
    name = "africastalking"

    def __init__(
        self,
        username: str,
        api_key: str,
        sender_id: str | None = None,
        base_url: str | None = None,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        if not username or not api_key:
            raise ValueError("Africa's Talking needs a username and an API key.")
        self.username = username
        self.sender_id = sender_id or None
        if not base_url:
            base_url = SANDBOX_BASE_URL if username == "sandbox" else LIVE_BASE_URL
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + SEND_PATH
        self.timeout = timeout
        self._headers = {
            "apiKey": api_key,
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        self._owns_client = client is None
        # One pooled client for the gateway's life: TLS handshakes per batch would
        # cost more than the request itself.
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            follow_redirects=False,
        )

    @classmethod
    def from_settings(cls) -> AfricasTalkingGateway:
        """Build from TMS_AT_USERNAME, TMS_AT_API_KEY, TMS_AT_SENDER_ID, TMS_AT_BASE_URL."""
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        username = getattr(settings, "TMS_AT_USERNAME", "") or ""
        api_key = getattr(settings, "TMS_AT_API_KEY", "") or ""
        if not username or not api_key:
            raise ImproperlyConfigured(
                "Set TMS_AT_USERNAME and TMS_AT_API_KEY to send SMS through Africa's Talking."
            )
        return cls(
            username=username,
            api_key=api_key,
            sender_id=getattr(settings, "TMS_AT_SENDER_ID", None) or None,
            base_url=getattr(settings, "TMS_AT_BASE_URL", None) or None,
        )

    def __repr__(self) -> str:
        # No API key here: reprs end up in tracebacks and logs.
        return f"<AfricasTalkingGateway {self.username!r} {self.base_url}>"

    def __enter__(self) -> AfricasTalkingGateway:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def send(
        self, *, text: str, recipients: Sequence[str], sender_id: str | None = None
    ) -> list[RecipientResult]:
        if not text:
            raise ValueError("Refusing to send an empty SMS.")
        if len(recipients) > MAX_RECIPIENTS:
            raise ValueError(f"At most {MAX_RECIPIENTS} recipients a request.")
        if len(set(recipients)) != len(recipients):
            # Results are matched by number, so a repeated number could not be told apart.
            raise ValueError("Recipients must be unique.")
        to_send = [number for number in recipients if _E164.fullmatch(number)]
        if not to_send:
            return [_invalid_number(number) for number in recipients]

        form = {
            "username": self.username,
            "to": ",".join(to_send),
            "message": text,
            "bulkSMSMode": "1",
        }
        sender = sender_id or self.sender_id
        if sender:
            form["from"] = sender
        if len(to_send) > 1:
            form["enqueue"] = "1"

        response = self._post(form)
        answered = self._parse(response)
        sent = set(to_send)
        results = []
        missing = 0
        for number in recipients:
            if number not in sent:
                results.append(_invalid_number(number))
                continue
            result = answered.get(_key(number))
            if result is None:
                missing += 1
                result = RecipientResult(
                    number=number,
                    outcome=Outcome.TEMPORARY,
                    status_code=None,
                    status=MISSING_FROM_ANSWER,
                    gateway_message_id=None,
                    cost=None,
                    currency="",
                )
            else:
                result = _with_number(result, number)
            results.append(result)
        if missing:
            logger.warning(
                "Africa's Talking left %d of %d recipients out of its answer", missing, len(to_send)
            )
        return results

    def _post(self, form: Mapping[str, str]) -> httpx.Response:
        try:
            response = self._client.post(self.url, data=form, headers=self._headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise GatewayTemporaryError(
                f"Africa's Talking unreachable: {type(exc).__name__}", maybe_accepted=False
            ) from exc
        except (httpx.WriteError, httpx.WriteTimeout) as exc:
            # The request never arrived whole, so AT cannot have acted on it.
            raise GatewayTemporaryError(
                f"Africa's Talking request not sent: {type(exc).__name__}", maybe_accepted=False
            ) from exc
        except httpx.RequestError as exc:
            # Read timeout, dropped connection, garbled answer: AT may have sent it.
            raise GatewayTemporaryError(
                f"Africa's Talking answer lost: {type(exc).__name__}", maybe_accepted=True
            ) from exc

        status = response.status_code
        if 200 <= status < 300:
            return response
        if status == 401:
            raise GatewayAccountError("Africa's Talking refused the credentials (HTTP 401).")
        if status >= 500 or status in {408, 429}:
            raise GatewayTemporaryError(
                f"Africa's Talking answered HTTP {status}.", maybe_accepted=False
            )
        raise GatewayRequestError(
            f"Africa's Talking refused the request (HTTP {status}): {_masked_body(response)}",
            status_code=status,
        )

    def _parse(self, response: httpx.Response) -> dict[str, RecipientResult]:
        try:
            payload: Any = response.json()
            data = payload["SMSMessageData"]
            entries = data["Recipients"]
            if not isinstance(entries, list):
                raise TypeError("Recipients is not a list")
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
            # A 2xx means AT took the request; only its answer is lost.
            raise GatewayTemporaryError(
                f"Africa's Talking answer unreadable (HTTP {response.status_code}): "
                f"{type(exc).__name__}",
                maybe_accepted=True,
            ) from exc

        answered: dict[str, RecipientResult] = {}
        unknown_codes: set[int | None] = set()
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("number"), str):
                continue
            code = _status_code(entry.get("statusCode"))
            if code not in _KNOWN_CODES:
                unknown_codes.add(code)
            outcome = outcome_for(code)
            cost, currency = parse_cost(entry.get("cost"))
            status = entry.get("status")
            answered.setdefault(
                _key(entry["number"]),
                RecipientResult(
                    number=entry["number"],
                    outcome=outcome,
                    status_code=code,
                    status=status if isinstance(status, str) else "",
                    gateway_message_id=_message_id(entry.get("messageId")),
                    cost=cost,
                    currency=currency,
                ),
            )
        if unknown_codes:
            logger.warning(
                "Africa's Talking answered unknown statusCode(s) %s; retrying those recipients",
                sorted(unknown_codes, key=lambda c: -1 if c is None else c),
            )
        if logger.isEnabledFor(logging.DEBUG):
            summary = data.get("Message") if isinstance(data, dict) else None
            logger.debug("Africa's Talking: %s", _NUMBER_LIKE.sub("<number>", str(summary)))
        return answered


def _invalid_number(number: str) -> RecipientResult:
    return RecipientResult(
        number=number,
        outcome=Outcome.PERMANENT,
        status_code=None,
        status="InvalidPhoneNumber",
        gateway_message_id=None,
        cost=None,
        currency="",
    )


def _with_number(result: RecipientResult, number: str) -> RecipientResult:
    if result.number == number:
        return result
    return RecipientResult(
        number=number,
        outcome=result.outcome,
        status_code=result.status_code,
        status=result.status,
        gateway_message_id=result.gateway_message_id,
        cost=result.cost,
        currency=result.currency,
    )


def from_settings() -> AfricasTalkingGateway:
    return AfricasTalkingGateway.from_settings()
