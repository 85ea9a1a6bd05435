"""The demo gateway: accepts every message at once. The outbox rows themselves are
what the staff "SMS outbox" page shows, so a demo shows exactly what citizens get."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from tms.notifications.gateways.base import Outcome, RecipientResult


class ConsoleGateway:
    name = "console"

    def send(
        self, *, text: str, recipients: Sequence[str], sender_id: str | None = None
    ) -> list[RecipientResult]:
        return [
            RecipientResult(
                number=number,
                outcome=Outcome.ACCEPTED,
                status_code=101,
                status="Success",
                gateway_message_id=f"console-{uuid.uuid4().hex}",
                cost=Decimal("0"),
                currency="KES",
            )
            for number in recipients
        ]

    def close(self) -> None:
        pass
