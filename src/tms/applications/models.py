"""Applications and their history (SPEC §3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tms.applications.lifecycle import Status
from tms.directory.models import Agency, Centre, Service


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SWAHILI = "sw", "Kiswahili"


class Channel(models.TextChoices):
    COUNTER = "counter", _("centre counter")
    STAFF_WEB = "staff_web", _("staff web")
    ADMIN = "admin", _("administration")
    AGENCY_API = "agency_api", _("agency API")
    WEB = "web", _("public web")
    PUBLIC_API = "public_api", _("public API")
    USSD = "ussd", _("USSD")
    SMS = "sms", _("SMS")
    SYSTEM = "system", _("system")


class ActorKind(models.TextChoices):
    STAFF = "staff", _("staff user")
    AGENCY = "agency", _("agency system")
    CITIZEN = "citizen", _("citizen")
    SYSTEM = "system", _("system")


class Application(models.Model):
    """One citizen's application for one document, lodged at one centre."""

    reference = models.CharField(_("reference"), max_length=13, unique=True, editable=False)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, verbose_name=_("service"))
    # Copied from the service so that agency-scoped lists use one index.
    # No single-column indexes on agency and centre: the composite indexes below
    # lead with them, and each extra index slows bulk loading by about a tenth.
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, verbose_name=_("agency"), db_index=False
    )
    centre = models.ForeignKey(
        Centre, on_delete=models.PROTECT, verbose_name=_("centre"), db_index=False
    )
    # NULL, not "", when absent: the per-agency unique constraint skips NULLs.
    agency_ref = models.CharField(  # noqa: DJ001
        _("agency reference"), max_length=64, null=True, blank=True
    )

    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.LODGED
    )
    # Optimistic lock: every change increments it; a change based on an old
    # version is refused as a conflict.
    version = models.PositiveIntegerField(default=1)

    applicant_name = models.CharField(_("applicant name"), max_length=200)
    applicant_phone = models.CharField(_("applicant phone (E.164)"), max_length=16)
    applicant_id_number = models.CharField(
        _("ID or birth certificate number"), max_length=32, blank=True
    )
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.ENGLISH
    )
    # Someone applying on the citizen's behalf (a parent, a carer); they get the same SMS.
    representative_name = models.CharField(
        _("applying on behalf of the citizen: name"), max_length=200, blank=True
    )
    representative_phone = models.CharField(
        _("applying on behalf of the citizen: phone (E.164)"), max_length=16, blank=True
    )

    lodged_at = models.DateTimeField(_("lodged at"))
    due_date = models.DateField(_("promised ready date"))
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"))
    # When the current status was entered, by the history's occurred times (an undone
    # receipt scanned from "dispatched" gives back the dispatch's time): what the next
    # event carries as ``entered_at``. None only for applications lodged before it was
    # kept and never changed since.
    status_entered_at = models.DateTimeField(_("status entered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    # When the retention job blanked its personal data (SPEC §11; tms.privacy).
    anonymised_at = models.DateTimeField(_("personal data anonymised at"), null=True, blank=True)

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "agency_ref"],
                condition=Q(agency_ref__isnull=False),
                name="application_agency_ref_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="application_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["applicant_phone"], name="application_phone"),
            models.Index(fields=["centre", "status", "ready_at"], name="application_centre_ready"),
            models.Index(
                fields=["agency", "status", "lodged_at"], name="application_agency_lodged"
            ),
            # The retention job (tms.privacy): closed, not yet anonymised. Lodging pays
            # nothing (closed_at is NULL then) and the index shrinks as the job works.
            models.Index(
                fields=["closed_at"],
                condition=Q(closed_at__isnull=False, anonymised_at__isnull=True),
                name="application_to_anonymise",
            ),
            # The reports' breaches list: open applications past their promised date.
            models.Index(fields=["status", "due_date"], name="application_status_due"),
        ]

    def __str__(self) -> str:
        from tms.applications.references import display

        return display(self.reference)


class ApplicationEvent(models.Model):
    """One change of state. Written with the change, in the same transaction; never edited."""

    # Indexed by the unique (application, version) constraint, which leads with it.
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    action = models.CharField(_("action"), max_length=24)
    from_status = models.CharField(_("from"), max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=20, choices=Status.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    # When the status this event leaves was entered (the application's
    # ``status_entered_at`` before it): the report rollups take a stage's length and a
    # document's ready day from here instead of reading the application's earlier
    # events. None for a lodging, and for events recorded before it was kept.
    entered_at = models.DateTimeField(_("from status entered at"), null=True, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))
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
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    note = models.TextField(_("note"), blank=True)
    # Where the change came from (the audit trail's "from which address"); None when
    # no request made it (worker, command).
    address = models.GenericIPAddressField(_("from address"), null=True, blank=True)
    # The version the application reached with this event: the chain is checkable.
    version = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("history event")
        verbose_name_plural = _("history events")
        ordering = ["application_id", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "version"], name="event_application_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"
