"""Pluggable SMS gateways (SPEC §5): the interface is in ``base``."""

from tms.notifications.gateways.base import (
    MAX_RECIPIENTS,
    GatewayAccountError,
    GatewayError,
    GatewayRequestError,
    GatewayTemporaryError,
    Outcome,
    RecipientResult,
    SmsGateway,
)

__all__ = [
    "MAX_RECIPIENTS",
    "GatewayAccountError",
    "GatewayError",
    "GatewayRequestError",
    "GatewayTemporaryError",
    "Outcome",
    "RecipientResult",
    "SmsGateway",
]
