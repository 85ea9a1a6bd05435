"""Agency bearer tokens: issued once, stored as a SHA-256, checked in one query."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from tms.directory.models import Agency
from tms.integrations.models import AgencyToken

PREFIX = "tms_"
# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def token_create(
    *, agency: Agency, name: str, expires_at: datetime | None = None
) -> tuple[AgencyToken, str]:
    """A new token; the plain text is returned once and never stored."""
    plain = PREFIX + secrets.token_urlsafe(32)
    token = AgencyToken.objects.create(
        agency=agency, name=name, token_hash=digest(plain), prefix=plain[:12], expires_at=expires_at
    )
    return token, plain


@transaction.atomic
def token_revoke(*, token: AgencyToken) -> None:
    AgencyToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def token_authenticate(plain: str) -> AgencyToken | None:
    """The live token for ``plain``, with its agency; records its use (coarsely)."""
    if not plain.startswith(PREFIX):
        return None
    now = timezone.now()
    token = (
        AgencyToken.objects.select_related("agency")
        .filter(token_hash=digest(plain), revoked_at__isnull=True)
        .first()
    )
    if token is None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        AgencyToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
