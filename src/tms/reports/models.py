"""Daily rollups behind every report figure (see ``rollups.py`` for how they are kept).

Every table is keyed by the Nairobi local ``day`` plus agency, service and centre, so a
dashboard sums a few thousand small rows instead of scanning millions of applications.
The ``...ByService`` tables are the same figures summed over centres (agency views and
groupings read them: a sixtieth of the rows at 60 centres); ``DailyDurationsNational``
holds the histograms summed over every place (national views read it); ``Backlog`` keeps
only the ready days that still have documents waiting, so the backlog snapshot reads no
history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from tms.directory.models import Agency, Centre, Service


def _place(to: type[models.Model], *, null: bool = False) -> models.ForeignKey[Any, Any]:
    """A rollup's reference to directory data, without a database constraint. Rollups are
    derived from the history, whose applications already hold checked references, and a
    day of changes inserts some hundreds of thousands of rollup rows: PostgreSQL checked
    each reference of each row at commit (2.5 s for 250,000 rows of three references,
    measured, as long again as the inserts). Deleting reference data still takes its
    rollups with it: CASCADE is done by Django, not the database."""
    return models.ForeignKey(
        to,
        on_delete=models.CASCADE,
        null=null,
        blank=null,
        db_index=False,
        db_constraint=False,
        related_name="+",
    )


class Counters(models.Model):
    """The figures counted per day (``rollups.FIGURES``): ``ready*`` and ``cohort_*`` on the
    day the document became ready (so the backlog of a ready day is ``ready -
    cohort_collected - cohort_returned``), the others on the day the thing happened."""

    lodged = models.IntegerField(default=0)
    ready = models.IntegerField(default=0)
    ready_within_promise = models.IntegerField(default=0)
    cohort_collected = models.IntegerField(default=0)
    cohort_collected_within_30 = models.IntegerField(default=0)
    cohort_returned = models.IntegerField(default=0)
    collected = models.IntegerField(default=0)
    collected_after_reminder = models.IntegerField(default=0)
    returned = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    cancelled = models.IntegerField(default=0)

    class Meta:
        abstract = True


class DailyFigures(Counters):
    """Counters for one day, agency, service and centre."""

    day = models.DateField(_("day"))
    agency = _place(Agency)
    service = _place(Service)
    centre = _place(Centre)

    class Meta:
        verbose_name = _("daily figures")
        verbose_name_plural = _("daily figures")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "agency", "service", "centre"], name="daily_figures_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.agency_id}/{self.service_id}/{self.centre_id}"


class DailyDurations(models.Model):
    """A histogram: ``count`` cases of ``measure`` lasting ``days`` days, by the day it ended."""

    day = models.DateField(_("day"))
    agency = _place(Agency)
    service = _place(Service)
    centre = _place(Centre)
    # "turnaround", "ready_to_collected" or "stage:<status>".
    measure = models.CharField(_("measure"), max_length=32)
    days = models.IntegerField(_("days"))
    count = models.IntegerField(_("cases"), default=0)

    class Meta:
        verbose_name = _("daily durations")
        verbose_name_plural = _("daily durations")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "agency", "service", "centre", "measure", "days"],
                name="daily_durations_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.measure} {self.days}d x{self.count}"


class DailyFiguresByService(Counters):
    """``DailyFigures`` summed over centres: what views without a centre filter read."""

    day = models.DateField(_("day"))
    agency = _place(Agency)
    service = _place(Service)

    class Meta:
        verbose_name = _("daily figures by service")
        verbose_name_plural = _("daily figures by service")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "agency", "service"], name="daily_figures_by_service_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.agency_id}/{self.service_id}"


class DailyDurationsByService(models.Model):
    """``DailyDurations`` summed over centres."""

    day = models.DateField(_("day"))
    agency = _place(Agency)
    service = _place(Service)
    measure = models.CharField(_("measure"), max_length=32)
    days = models.IntegerField(_("days"))
    count = models.IntegerField(_("cases"), default=0)

    class Meta:
        verbose_name = _("daily durations by service")
        verbose_name_plural = _("daily durations by service")
        constraints = [
            models.UniqueConstraint(
                # Measure first: every reader asks for one or a few measures over a period.
                fields=["measure", "day", "agency", "service", "days"],
                name="daily_durations_by_service_key",
            )
        ]
        indexes = [
            # The key and the count: the national histograms (stage times, turnaround) are
            # read from the index alone, 2.3 times faster on SQLite at a million
            # applications, where a month is 134,000 rows.
            models.Index(
                fields=["measure", "day", "agency", "service", "days", "count"],
                name="durations_by_service_read",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.measure} {self.days}d x{self.count}"


class DailyDurationsNational(models.Model):
    """``DailyDurations`` summed over agencies, services and centres: what national views
    read for their histograms (stage times, turnaround, ready to collected), which need
    no breakdown. At 5,000,000 applications a month of ``DailyDurationsByService`` was
    hundreds of thousands of rows, summed on every national dashboard."""

    day = models.DateField(_("day"))
    measure = models.CharField(_("measure"), max_length=32)
    days = models.IntegerField(_("days"))
    count = models.IntegerField(_("cases"), default=0)

    class Meta:
        verbose_name = _("daily national durations")
        verbose_name_plural = _("daily national durations")
        constraints = [
            models.UniqueConstraint(
                fields=["measure", "day", "days"], name="daily_durations_national_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.measure} {self.days}d x{self.count}"


class Backlog(models.Model):
    """Documents ready on ``ready_day`` and neither collected nor returned yet (that is
    ``ready - cohort_collected - cohort_returned`` of the day's ``DailyFigures``). A row
    that comes down to 0 is deleted, so the table holds only days with documents waiting."""

    ready_day = models.DateField(_("ready day"))
    agency = _place(Agency)
    service = _place(Service)
    centre = _place(Centre)
    waiting = models.IntegerField(_("waiting"), default=0)

    class Meta:
        verbose_name = _("backlog")
        verbose_name_plural = _("backlog")
        constraints = [
            models.UniqueConstraint(
                fields=["ready_day", "agency", "service", "centre"], name="backlog_key"
            )
        ]
        indexes = [
            # The backlog per centre and service, read from the index alone in its order
            # (no sort): 2.3 times faster on SQLite at a million applications.
            models.Index(
                fields=["centre", "service", "ready_day", "waiting"], name="backlog_by_place"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.ready_day} {self.agency_id}/{self.service_id}/{self.centre_id}: {self.waiting}"
        )


class DailySms(models.Model):
    """SMS sent per day (of queueing, Nairobi time) and network; recomputed, not incremented."""

    day = models.DateField(_("day"))
    network = models.CharField(_("network"), max_length=8, blank=True)
    # Null for messages not about an application (replies to unknown numbers).
    agency = _place(Agency, null=True)
    service = _place(Service, null=True)
    centre = _place(Centre, null=True)
    sent = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    segments = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("daily SMS figures")
        verbose_name_plural = _("daily SMS figures")
        indexes = [models.Index(fields=["day"], name="daily_sms_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.network}: {self.sent}"


class RollupState(models.Model):
    """The single row saying how far the rollups have read the history."""

    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("rollup state")
        verbose_name_plural = _("rollup state")

    def __str__(self) -> str:
        return f"rollups up to event {self.last_event_id}"
