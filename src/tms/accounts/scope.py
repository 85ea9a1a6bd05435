"""The acting staff member: role, and the centre or agency their work is bound to.

Selectors and services take a ``Staff`` and enforce scope themselves, so that a
forgotten check in a view or a hand-typed URL cannot reach another centre's data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from tms.accounts.roles import AGENCY_ROLES, CENTRE_ROLES, Capability, Role, can
from tms.applications.models import Application, Channel
from tms.applications.services import Actor


class NotAllowed(PermissionDenied):
    """The role may not do this, or the application is outside the staff member's scope."""


@dataclass(frozen=True)
class Staff:
    user: Any
    role: Role
    centre_id: int | None = None
    agency_id: int | None = None

    @classmethod
    def of(cls, user: Any) -> Staff:
        """The staff member signed in as ``user``; NotAllowed for anyone else."""
        profile = getattr(user, "staff_profile", None) if user.is_authenticated else None
        if profile is None or not user.is_active:
            raise NotAllowed(_("This account has no staff role."))
        return cls(
            user=user,
            role=Role(profile.role),
            centre_id=profile.centre_id,
            agency_id=profile.agency_id,
        )

    @property
    def pk(self) -> int:
        return int(self.user.pk)

    @property
    def centre_pk(self) -> int:
        """The centre of a centre role (the database guarantees one)."""
        if self.centre_id is None:
            raise NotAllowed(_("This account is not bound to a centre."))
        return self.centre_id

    @property
    def agency_pk(self) -> int:
        """The agency of an agency role (the database guarantees one)."""
        if self.agency_id is None:
            raise NotAllowed(_("This account is not bound to an agency."))
        return self.agency_id

    def can(self, capability: Capability) -> bool:
        return can(self.role, capability)

    def require(self, capability: Capability) -> None:
        if not self.can(capability):
            raise NotAllowed(_("Your role does not allow this."))

    def centre_for(self, capability: Capability) -> int:
        """The centre where this staff member does ``capability``: counter work (lodging,
        receipt, hand-over) happens at one's own centre. NotAllowed otherwise."""
        self.require(capability)
        return self.centre_pk

    def applications(self, queryset: QuerySet[Application] | None = None) -> QuerySet[Application]:
        """``queryset`` (default: all applications) narrowed to this staff member's scope."""
        queryset = Application.objects.all() if queryset is None else queryset
        if self.role in CENTRE_ROLES:
            return queryset.filter(centre_id=self.centre_pk)
        if self.role in AGENCY_ROLES:
            return queryset.filter(agency_id=self.agency_pk)
        if self.role == Role.ADMINISTRATOR:
            return queryset
        return queryset.none()  # analysts read reports only, never personal data

    def covers(self, application: Application) -> bool:
        if self.role in CENTRE_ROLES:
            return application.centre_id == self.centre_id
        if self.role in AGENCY_ROLES:
            return application.agency_id == self.agency_id
        return self.role == Role.ADMINISTRATOR

    def check(self, application: Application) -> None:
        if not self.covers(application):
            raise NotAllowed(_("This application belongs to another centre or agency."))

    def actor(self, channel: Channel = Channel.COUNTER) -> Actor:
        return Actor.staff(self.user, channel)
