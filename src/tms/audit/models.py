"""The audit trail of reads and staff actions (SPEC §9, §11).

Changes to applications are recorded by their history events (who, when, what,
channel, address: ``ApplicationEvent``); this table records the rest: searches and
exports of personal data, codes sent, queries answered, staff accounts changed.
Neither can be edited or deleted through the application."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tms.applications.models import ActorKind, Application
from tms.directory.models import Agency, Centre


class AuditAction(models.TextChoices):
    SEARCH = "search", _("searched applications")
    VIEW = "view", _("opened an application")
    EXPORT = "export", _("exported a list")
    PRINT = "print", _("printed a list")
    HANDOVER_CODE = "handover_code", _("sent a hand-over code")
    QUERY_ANSWER = "query_answer", _("answered a citizen query")
    MANIFEST = "manifest", _("uploaded a manifest")
    STAFF = "staff", _("changed a staff account")


class ImmutableRecord(Exception):
    """The audit trail is append-only."""


class AuditQuerySet(models.QuerySet["AuditRecord"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise ImmutableRecord("audit records cannot be changed")

    def delete(self) -> NoReturn:
        raise ImmutableRecord("audit records cannot be deleted")


class AuditRecord(models.Model):
    at = models.DateTimeField(_("when"), db_index=True)
    actor_kind = models.CharField(_("actor"), max_length=10, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff user"),
    )
    actor_label = models.CharField(_("actor name"), max_length=120, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices)
    # What it was about, for filtering and for a manager's scope.
    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    centre = models.ForeignKey(
        Centre, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Human-readable; personal data in it is masked by the caller.
    detail = models.CharField(_("what"), max_length=300, blank=True)
    rows = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    address = models.GenericIPAddressField(_("from address"), null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["centre", "at"], name="audit_centre_at"),
            models.Index(fields=["agency", "at"], name="audit_agency_at"),
            models.Index(fields=["actor_user", "at"], name="audit_user_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableRecord("audit records cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableRecord("audit records cannot be deleted")
