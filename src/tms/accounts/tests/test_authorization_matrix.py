"""The authorization matrix: every staff URL, as every role, in its own scope and in
another; and a check that no staff URL escapes the matrix.

Expected outcomes come from SPEC §2 (the roles table) written out here by hand, not
read from the views, so that a view guarded by the wrong capability fails:

- a role without the URL's capability gets 403;
- a role with it gets through the door (not 403, not 404, never 500) for an object
  in its own scope, and 403 or 404 for an object in another centre's or agency's
  scope (administrators' scope is everything);
- nobody signed in is sent to sign in (or refused, for POST-only URLs).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from tms.accounts.roles import Capability, Role
from tms.applications.models import Channel
from tms.applications.services import application_acknowledge_receipt
from tms.manifests.services import manifest_upload
from tms.notifications.models import Message
from tms.testing.builders import lodge, make_agency, make_centre, make_service
from tms.testing.staff import make_staff, sign_in, staff_of
from tms.tracking.models import CitizenQuery

C = Capability
ANY_STAFF = None  # any signed-in staff role


@dataclass(frozen=True)
class Case:
    capability: Capability | None
    methods: tuple[str, ...] = ("GET",)
    # What the URL names: application, query, user, message or manifest.
    target: str | None = None
    # Fixed URL arguments of a URL that names no object (which report table, which format).
    arguments: tuple[tuple[str, str], ...] = ()


MATRIX: dict[str, Case] = {
    "staff-home": Case(ANY_STAFF),
    "staff-recovery-codes": Case(ANY_STAFF, ("POST",)),
    "staff-people": Case(C.STAFF, ("GET", "POST")),
    "staff-person-action": Case(C.STAFF, ("POST",), "user"),
    "audit-trail": Case(C.AUDIT),
    "sms-outbox": Case(C.SMS_OUTBOX),
    "sms-resend": Case(C.SMS_OUTBOX, ("POST",), "message"),
    "counter-lodge": Case(C.LODGE, ("GET", "POST")),
    "counter-slip": Case(C.LODGE, ("GET",), "application"),
    "counter-find": Case(C.FIND),
    "counter-application": Case(C.FIND, ("GET",), "application"),
    "counter-handover-code": Case(C.HAND_OVER, ("POST",), "application"),
    "counter-handover": Case(C.HAND_OVER, ("POST",), "application"),
    "receipt-scan": Case(C.ACKNOWLEDGE, ("GET", "POST")),
    "receipt-scan-json": Case(C.ACKNOWLEDGE, ("POST",)),
    "receipt-scan-undo": Case(C.ACKNOWLEDGE, ("POST",)),
    "receipt-scan-reset": Case(C.ACKNOWLEDGE, ("POST",)),
    "manifests": Case(C.ACKNOWLEDGE, ("GET", "POST")),
    "manifest-detail": Case(C.ACKNOWLEDGE, ("GET",), "manifest"),
    "manifest-commit": Case(C.ACKNOWLEDGE, ("POST",), "manifest"),
    "manifest-resume": Case(C.ACKNOWLEDGE, ("POST",), "manifest"),
    "manifest-progress": Case(C.ACKNOWLEDGE, ("GET",), "manifest"),
    "manifest-errors": Case(C.ACKNOWLEDGE, ("GET",), "manifest"),
    "backlog": Case(C.BACKLOG),
    "backlog-list": Case(C.BACKLOG),
    "backlog-list-print": Case(C.BACKLOG),
    "backlog-list-csv": Case(C.BACKLOG),
    "backlog-returns": Case(C.BACKLOG),
    "backlog-returns-confirm": Case(C.RETURN, ("POST",)),
    "backlog-returns-print": Case(C.BACKLOG),
    "backlog-returns-csv": Case(C.BACKLOG),
    "queries": Case(C.QUERIES),
    "query-answer": Case(C.QUERIES, ("GET", "POST"), "query"),
    "reports": Case(C.REPORTS),
    "reports-export": Case(C.REPORTS, arguments=(("table", "breaches"), ("fmt", "csv"))),
}

# The signing-in pages themselves are open: they are the door.
DOOR = {"staff-login", "staff-verify", "staff-enrol", "staff-logout"}

# What each role may do (SPEC §2), written out rather than imported from roles.py.
ALLOWED: dict[Role, set[Capability]] = {
    Role.COUNTER_OFFICER: {C.LODGE, C.ACKNOWLEDGE, C.HAND_OVER, C.FIND, C.QUERIES},
    Role.CENTRE_MANAGER: {
        C.LODGE, C.ACKNOWLEDGE, C.HAND_OVER, C.FIND, C.QUERIES,
        C.BACKLOG, C.RETURN, C.AUDIT, C.SMS_OUTBOX, C.STAFF, C.REPORTS,
    },
    Role.AGENCY_OFFICER: {C.FIND, C.QUERIES, C.REPORTS},
    Role.ANALYST: {C.REPORTS},
    Role.ADMINISTRATOR: {C.FIND, C.BACKLOG, C.AUDIT, C.SMS_OUTBOX, C.STAFF, C.REPORTS, C.QUERIES},
}  # fmt: skip


def staff_patterns() -> dict[str, tuple[str, Any]]:
    """Every named URL under staff/: name → (route, view)."""
    found: dict[str, tuple[str, Any]] = {}

    def walk(resolver: URLResolver, prefix: str) -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                walk(entry, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                route = prefix + str(entry.pattern)
                if route.startswith("staff/"):
                    assert entry.name, f"staff URL {route} has no name"
                    found[entry.name] = (route, entry.callback)

    walk(get_resolver(), "")
    return found


def test_every_staff_url_is_in_the_matrix() -> None:
    names = set(staff_patterns()) - DOOR
    missing = names - set(MATRIX)
    assert not missing, f"staff URLs missing from the authorization matrix: {sorted(missing)}"
    gone = set(MATRIX) - names
    assert not gone, f"matrix entries for URLs that no longer exist: {sorted(gone)}"


def test_the_matrix_matches_the_capability_each_view_demands() -> None:
    patterns = staff_patterns()
    for name, case in MATRIX.items():
        view = patterns[name][1]
        assert getattr(view, "staff_capability", "unguarded") == case.capability, name


def test_the_roles_table_matches_spec() -> None:
    from tms.accounts.roles import CAPABILITIES

    assert {role: set(caps) for role, caps in CAPABILITIES.items()} == ALLOWED


@dataclass
class World:
    own_centre: Any
    own_agency: Any
    targets: dict[str, dict[str, dict[str, Any]]]  # kind → scope → url kwargs


def make_world() -> World:
    own_centre, other_centre = make_centre(), make_centre()
    own_agency, other_agency = make_agency(), make_agency()
    own_service = make_service(agency=own_agency)
    other_service = make_service(agency=other_agency)
    system = staff_of(make_staff(Role.ADMINISTRATOR))
    targets: dict[str, dict[str, dict[str, Any]]] = {
        "application": {}, "query": {}, "user": {}, "message": {}, "manifest": {}
    }  # fmt: skip
    for scope, centre, service in (
        ("own", own_centre, own_service),
        ("other", other_centre, other_service),
    ):
        application = lodge(service=service, centre=centre)
        application_acknowledge_receipt(application, actor=system.actor(Channel.STAFF_WEB))
        targets["application"][scope] = {"reference": application.reference}
        query = CitizenQuery.objects.create(
            application=application,
            week=timezone.localdate(),
            channel=Channel.WEB,
            raised_at=timezone.now(),
        )
        targets["query"][scope] = {"pk": query.pk}
        officer = make_staff(Role.COUNTER_OFFICER, centre=centre)
        targets["user"][scope] = {"user_id": officer.pk}
        message = Message.objects.filter(application=application).first()
        assert message is not None
        targets["message"][scope] = {"message_id": message.pk}
        sheet = f"reference\n{application.reference}\n".encode()
        manifest = manifest_upload(
            staff=staff_of(officer), file=io.BytesIO(sheet), file_name="m.csv", size=len(sheet)
        )
        targets["manifest"][scope] = {"manifest_id": manifest.pk}
    return World(own_centre, own_agency, targets)


def acting(role: Role, world: World) -> Any:
    return make_staff(role, centre=world.own_centre, agency=world.own_agency)


CASES = [
    (name, role, scope)
    for name, case in MATRIX.items()
    for role in Role
    for scope in (("own", "other") if case.target else ("own",))
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "role", "scope"), CASES)
def test_matrix(name: str, role: Role, scope: str, client: Client) -> None:
    case = MATRIX[name]
    world = make_world()
    kwargs = world.targets[case.target][scope] if case.target else dict(case.arguments)
    url = reverse(name, kwargs=kwargs)
    sign_in(client, acting(role, world))
    may = case.capability is None or case.capability in ALLOWED[role]
    in_scope = scope == "own" or role == Role.ADMINISTRATOR
    for method in case.methods:
        response = client.get(url) if method == "GET" else client.post(url, {})
        status = response.status_code
        assert status < 500, f"{method} {url} as {role}: {status}"
        if not may:
            assert status == 403, f"{method} {url} as {role} ({scope}): {status}, expected 403"
        elif in_scope:
            assert status not in (403, 404), f"{method} {url} as {role} ({scope}): {status}"
        else:
            assert status in (403, 404), f"{method} {url} as {role} ({scope}): {status}"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_nobody_signed_in_gets_in(name: str, client: Client) -> None:
    case = MATRIX[name]
    world = make_world()
    kwargs = world.targets[case.target]["own"] if case.target else dict(case.arguments)
    url = reverse(name, kwargs=kwargs)
    for method in case.methods:
        response = client.get(url) if method == "GET" else client.post(url, {})
        assert response.status_code in (302, 403, 405), f"{method} {url}: {response.status_code}"
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("staff-login"))


@pytest.mark.django_db
def test_signed_in_without_the_second_factor_gets_nowhere(client: Client) -> None:
    world = make_world()
    client.force_login(acting(Role.CENTRE_MANAGER, world))  # password only
    for name, case in MATRIX.items():
        kwargs = world.targets[case.target]["own"] if case.target else dict(case.arguments)
        url = reverse(name, kwargs=kwargs)
        if "GET" in case.methods:
            response = client.get(url)
            assert response.status_code == 302, name
            assert response["Location"].startswith(reverse("staff-verify")), name
