"""Citizen self-service: ready-date estimates, overdue queries, lookup tallies."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tms.applications.models import Application, Channel
from tms.directory.models import Centre, Service


class ServiceEstimate(models.Model):
    """How long the same service at the same centre has recently taken (lodged to
    ready, in working days): maintained by a job, read on every lookup."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE)
    centre = models.ForeignKey(Centre, on_delete=models.CASCADE)
    p80_working_days = models.PositiveSmallIntegerField()
    cases = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "centre"], name="estimate_service_centre")
        ]

    def __str__(self) -> str:
        return f"{self.service_id}@{self.centre_id}: {self.p80_working_days} days"


class QueryState(models.TextChoices):
    OPEN = "open", _("open")
    ANSWERED = "answered", _("answered")


class CitizenQuery(models.Model):
    """A citizen asking about an overdue application: at most one per application per week."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="queries")
    week = models.DateField(help_text="Monday of the week it was raised (Nairobi time).")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    raised_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=QueryState.choices, default=QueryState.OPEN)
    answer = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("citizen query")
        verbose_name_plural = _("citizen queries")
        constraints = [
            models.UniqueConstraint(fields=["application", "week"], name="query_once_a_week")
        ]
        indexes = [models.Index(fields=["state", "raised_at"], name="query_state_raised")]

    def __str__(self) -> str:
        return f"query on {self.application_id} ({self.state})"


class LookupTally(models.Model):
    """Self-service lookups per day and channel: each one a visit to a centre avoided."""

    day = models.DateField()
    channel = models.CharField(max_length=12, choices=Channel.choices)
    lookups = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "channel"], name="lookup_tally_day_channel")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel}: {self.lookups}"
