"""Manifests: an agency's list of the documents it sent to a centre, received in bulk.

An upload is validated row by row into ``ManifestRow`` (the preview) before anything
changes; committing then acknowledges receipt of the valid rows, in chunks, each with
its own transaction and a cursor on the manifest, so that an interrupted job resumes
where it stopped and never applies a row twice.

Only the two columns used (our reference, the agency's reference) are kept from the
file: a manifest may carry names and ID numbers, which the back office does not need.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tms.directory.models import Centre


class ManifestState(models.TextChoices):
    CHECKING = "checking", _("being checked")
    PREVIEWED = "previewed", _("checked, waiting to be applied")
    APPLYING = "applying", _("being applied")
    APPLIED = "applied", _("applied")
    FAILED = "failed", _("stopped by an error (can be resumed)")
    REFUSED = "refused", _("refused (nothing applied)")


class Outcome(models.TextChoices):
    """What the preview found for a row."""

    OK = "ok", _("will become ready")
    UNKNOWN = "unknown", _("unknown reference")
    TYPING = "typing", _("typing error")
    DUPLICATE = "duplicate", _("duplicate in the file")
    OTHER_CENTRE = "other_centre", _("another centre's")
    ALREADY_READY = "already_ready", _("already ready")
    WRONG_STATE = "wrong_state", _("wrong state")
    MANGLED = "mangled", _("mangled by a spreadsheet")
    MALFORMED = "malformed", _("malformed or empty")


class Result(models.TextChoices):
    """What committing did with a row the preview found valid."""

    APPLIED = "applied", _("marked ready")
    ALREADY_READY = "already_ready", _("already ready when applied")
    WRONG_STATE = "wrong_state", _("changed since the preview: wrong state")
    OTHER_CENTRE = "other_centre", _("changed since the preview: another centre's")
    CONFLICT = "conflict", _("changed by someone else while applying")


class Manifest(models.Model):
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    centre = models.ForeignKey(
        Centre, on_delete=models.PROTECT, related_name="+", verbose_name=_("centre")
    )
    file_name = models.CharField(_("file name"), max_length=255)
    file_format = models.CharField(_("format"), max_length=4, blank=True)
    file_size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    # Which columns were used, as shown to the officer.
    columns = models.CharField(_("columns found"), max_length=500, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=ManifestState.choices, default=ManifestState.PREVIEWED
    )
    refusal = models.TextField(_("why it was refused"), blank=True)

    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    # Rows by preview outcome: {Outcome value: count}.
    counts = models.JSONField(_("rows by outcome"), default=dict)

    # Commit progress. ``cursor`` is the number of the last valid row handled; every
    # chunk moves it in the same transaction as its changes.
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("applied by"),
    )
    to_apply = models.PositiveIntegerField(_("valid rows"), default=0)
    cursor = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(_("valid rows handled"), default=0)
    applied = models.PositiveIntegerField(_("rows marked ready"), default=0)
    changed = models.PositiveIntegerField(_("rows changed since the preview"), default=0)
    error = models.CharField(_("error"), max_length=300, blank=True)

    created_at = models.DateTimeField(_("uploaded at"))
    commit_started_at = models.DateTimeField(_("applying since"), null=True, blank=True)
    progress_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("manifest")
        verbose_name_plural = _("manifests")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["centre", "created_at"], name="manifest_centre_created")]

    def __str__(self) -> str:
        return self.file_name

    def count(self, outcome: Outcome) -> int:
        return int(self.counts.get(outcome.value, 0))

    @property
    def errors_total(self) -> int:
        return self.rows_total - self.count(Outcome.OK) + self.changed


class ManifestRow(models.Model):
    """One data row of an upload: what it said, what the preview found, what happened."""

    manifest = models.ForeignKey(
        Manifest, on_delete=models.CASCADE, related_name="rows", db_index=False
    )
    # The row's number in the file as a spreadsheet shows it (the header row counts).
    number = models.PositiveIntegerField(_("row"))
    reference_text = models.CharField(_("reference, as in the file"), max_length=64, blank=True)
    agency_ref_text = models.CharField(
        _("agency reference, as in the file"), max_length=64, blank=True
    )
    # No foreign key constraint: rows are written in bulk and only read with the manifest.
    application_id = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    result = models.CharField(_("result"), max_length=16, choices=Result.choices, blank=True)
    message = models.CharField(_("message"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("manifest row")
        verbose_name_plural = _("manifest rows")
        constraints = [
            models.UniqueConstraint(
                fields=["manifest", "number"], name="manifest_row_number_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["manifest", "outcome", "number"], name="manifest_row_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.number}: {self.outcome}"
