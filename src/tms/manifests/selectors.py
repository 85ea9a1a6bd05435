"""Reading manifests, within the acting officer's centre."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from tms.accounts.roles import Capability
from tms.accounts.scope import NotAllowed, Staff
from tms.manifests.models import Manifest, ManifestRow, Outcome, Result

RECENT = 20


def manifest_get(staff: Staff, manifest_id: int) -> Manifest:
    """The manifest, if it belongs to the officer's centre (404 if none, 403 if another's)."""
    staff.require(Capability.ACKNOWLEDGE)
    manifest = get_object_or_404(Manifest.objects.select_related("centre"), pk=manifest_id)
    if staff.centre_id is None or manifest.centre_id != staff.centre_id:
        raise NotAllowed(_("This manifest belongs to another centre."))
    return manifest


def manifests_recent(staff: Staff) -> QuerySet[Manifest]:
    staff.require(Capability.ACKNOWLEDGE)
    if staff.centre_id is None:
        return Manifest.objects.none()
    return Manifest.objects.filter(centre_id=staff.centre_id).select_related("uploaded_by")[:RECENT]


def manifest_error_rows(staff: Staff, manifest: Manifest) -> QuerySet[ManifestRow]:
    """Rows the preview refused, and valid rows that could not be applied, in file order."""
    if manifest.centre_id != staff.centre_id:
        raise NotAllowed(_("This manifest belongs to another centre."))
    return (
        ManifestRow.objects.filter(manifest=manifest)
        .filter(
            ~Q(outcome=Outcome.OK) | (Q(outcome=Outcome.OK) & ~Q(result__in=["", Result.APPLIED]))
        )
        .order_by("number")
    )
