"""What every JSON API under /api/v1/ shares: the problem document's schema, the
error statuses each kind of operation declares, and input types that refuse what
the database cannot store (NUL, control characters, years out of range)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, AwareDatetime

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class ProblemOut(Schema):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


# C0 controls but tab, newline and carriage return, and DEL.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(value: str) -> str:
    if CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _in_range(value: datetime) -> datetime:
    try:
        moment = value.astimezone(UTC)
    except (OverflowError, ValueError) as error:
        raise ValueError("is not a time we can store") from error
    if not EARLIEST <= moment < LATEST:
        raise ValueError("must be between the years 2000 and 2100")
    return moment


Text = Annotated[str, AfterValidator(printable)]
Moment = Annotated[AwareDatetime, AfterValidator(_in_range)]


def problems(*statuses: int) -> dict[int, Any]:
    return {status: ProblemOut for status in statuses}


PUBLIC_ERRORS = (400, 422, 429)
AGENCY_ERRORS = (400, 401, 422, 429)
