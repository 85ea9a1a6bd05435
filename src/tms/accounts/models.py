"""Staff accounts: a Django user plus the role and the centre or agency it is bound to."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tms.accounts.roles import Role
from tms.directory.models import Agency, Centre


class StaffProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    centre = models.ForeignKey(
        Centre, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("centre")
    )
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("agency")
    )

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")
        constraints = [
            models.CheckConstraint(
                name="staff_scope_matches_role",
                condition=(
                    Q(
                        role__in=["counter_officer", "centre_manager"],
                        centre__isnull=False,
                        agency__isnull=True,
                    )
                    | Q(role="agency_officer", agency__isnull=False, centre__isnull=True)
                    | Q(
                        role__in=["analyst", "administrator"],
                        centre__isnull=True,
                        agency__isnull=True,
                    )
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.get_role_display()})"
