"""What the counter records besides the application's own history (SPEC §9)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tms.applications.models import Application


class CollectorKind(models.TextChoices):
    CITIZEN = "citizen", _("the citizen")
    DELEGATE = "delegate", _("a delegate")


class Handover(models.Model):
    """Who collected a document and how they were verified. Written in the same
    transaction as the hand-over itself (``services.handover_record``)."""

    application = models.OneToOneField(
        Application,
        on_delete=models.PROTECT,
        related_name="handover",
        verbose_name=_("application"),
    )
    collector_kind = models.CharField(
        _("collected by"), max_length=10, choices=CollectorKind.choices
    )
    delegate_name = models.CharField(_("delegate's name"), max_length=200, blank=True)
    delegate_id_number = models.CharField(_("delegate's ID number"), max_length=32, blank=True)
    relationship = models.CharField(_("relationship to the citizen"), max_length=60, blank=True)
    code_verified = models.BooleanField(_("hand-over code verified"), default=False)
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("handed over by"),
    )
    handed_over_at = models.DateTimeField(_("handed over at"))

    class Meta:
        verbose_name = _("hand-over")
        verbose_name_plural = _("hand-overs")
        constraints = [
            models.CheckConstraint(
                condition=Q(collector_kind="citizen")
                | (
                    Q(collector_kind="delegate")
                    & ~Q(delegate_name="")
                    & ~Q(delegate_id_number="")
                    & ~Q(relationship="")
                ),
                name="handover_delegate_named",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application} ({self.collector_kind})"


class HandoverCode(models.Model):
    """A one-time code sent to the citizen's phone. Only its keyed hash is stored; the
    latest code of an application is the only one that counts."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    wrong_tries = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["application", "sent_at"], name="handover_code_latest")]

    def __str__(self) -> str:
        return f"code for {self.application_id}"


class LodgeToken(models.Model):
    """A lodging form's one-time token, spent with the application it lodged: a second
    submission of the same form finds this row and shows the same slip."""

    token = models.CharField(max_length=64, unique=True)
    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"lodging form for {self.application_id}"
