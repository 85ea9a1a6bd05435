"""A realistic data set for the retention job, built through the real services.

Four applications closed 800 days ago (collected by a delegate after a hand-over code,
returned, rejected, cancelled) share one citizen's distinctive details; three closed 100
days ago and three still open have other citizens' details, which must survive."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import models
from django.test import RequestFactory
from django.utils import timezone

from tms.accounts.roles import Role
from tms.applications import services as applications
from tms.applications.models import Application, ApplicationEvent, Channel
from tms.applications.services import Actor
from tms.backlog.services import query_answer
from tms.core.request_context import RequestAddressMiddleware
from tms.counter import services as counter
from tms.counter.models import CollectorKind
from tms.counter.selectors import SearchKind
from tms.directory.models import Centre, Service
from tms.notifications.gateways.console import ConsoleGateway
from tms.notifications.models import Event, Message
from tms.notifications.services import delivery_report_record, dispatch_due
from tms.testing.builders import lodge, make_centre, make_service
from tms.testing.staff import make_staff, staff_of
from tms.tracking.models import LookupTally
from tms.tracking.services import query_raise

AGENCY = Actor.agency("test agency system")
OLD_ADDRESS = "198.51.100.77"


@dataclass(frozen=True)
class Citizen:
    name: str
    phone: str  # as typed at the counter (national form)
    id_number: str
    representative: str
    representative_phone: str
    delegate: str
    delegate_id_number: str

    def traces(self) -> list[str]:
        """Every piece of text that would give the citizen away, lower case: names, and
        numbers in the national form (which the E.164 and short forms contain)."""
        pieces = [
            *self.name.split(),
            *self.representative.split(),
            *self.delegate.split(),
            self.phone.lstrip("0"),
            self.representative_phone.lstrip("0"),
            self.id_number,
            self.delegate_id_number,
        ]
        return [piece.lower() for piece in pieces]


OLD = Citizen(
    name="Wanjiru Otieno-Kamau",
    phone="0712999888",
    id_number="29998877",
    representative="Achieng Mwangi",
    representative_phone="0733111222",
    delegate="Baraka Onyango",
    delegate_id_number="30001122",
)
RECENT = Citizen(
    name="Njeri Wambui-Kariuki",
    phone="0722555444",
    id_number="27776655",
    representative="Chebet Kiprono",
    representative_phone="0711333444",
    delegate="Mutua Kilonzo",
    delegate_id_number="31112233",
)
OPEN = Citizen(
    name="Kiprotich Langat",
    phone="0701888777",
    id_number="25554433",
    representative="Nafula Wekesa",
    representative_phone="0799444555",
    delegate="Auma Odhiambo",
    delegate_id_number="32223344",
)


@dataclass
class Scenario:
    now: datetime
    centre: Centre
    service: Service
    old: dict[str, Application] = field(default_factory=dict)
    recent: dict[str, Application] = field(default_factory=dict)
    open: dict[str, Application] = field(default_factory=dict)


def text_values() -> Iterator[tuple[str, str]]:
    """(table.column, value) of every text column of every model of the project."""
    kinds = (models.CharField, models.TextField, models.JSONField, models.GenericIPAddressField)
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        columns = [f for f in model._meta.concrete_fields if isinstance(f, kinds)]
        if not columns:
            continue
        for row in model._base_manager.values_list(*(f.attname for f in columns)):
            for column, value in zip(columns, row, strict=True):
                if value is not None:
                    where = f"{model._meta.label}.{column.name}"
                    yield where, value if isinstance(value, str) else repr(value)


def columns_holding(traces: list[str]) -> set[str]:
    """The columns in which any of ``traces`` appears (case-insensitive)."""
    return {where for where, value in text_values() if any(t in value.lower() for t in traces)}


def _from_address(address: str, work: Callable[[], Any]) -> Any:
    """Run ``work`` as if in a request from ``address`` (the history records it)."""
    result: list[Any] = []

    def view(request: Any) -> Any:
        result.append(work())
        return None

    RequestAddressMiddleware(view)(RequestFactory().get("/", REMOTE_ADDR=address))
    return result[0]


def _lodge(scenario: Scenario, who: Citizen, lodged_at: datetime) -> Application:
    return lodge(
        service=scenario.service,
        centre=scenario.centre,
        name=who.name,
        phone=who.phone,
        applicant_id_number=who.id_number,
        representative_name=who.representative,
        representative_phone=who.representative_phone,
        lodged_at=lodged_at,
        note=f"Lodged for {who.name}, ID {who.id_number}",
    )


def _send_and_report(phone_of: dict[str, str]) -> None:
    """Send every queued SMS (console gateway) and record a delivery report for each."""
    dispatch_due(gateway=ConsoleGateway(), limit=1000)
    for message in Message.objects.filter(gateway_message_id__isnull=False, reports=None):
        assert message.gateway_message_id is not None
        delivery_report_record(
            gateway_message_id=message.gateway_message_id,
            status="Success",
            phone=phone_of.get(message.to, message.to),
            network_code="63902",
        )


def _hand_over_with_delegate(
    scenario: Scenario, application: Application, who: Citizen, officer: Any
) -> None:
    """Hand over to a delegate after a one-time code, through the counter services."""
    counter.handover_code_send(staff=officer, application=application)
    sms = Message.objects.get(application=application, event=Event.HANDOVER_CODE)
    code = re.search(r"\b(\d{6})\b", sms.body)
    assert code is not None
    application.refresh_from_db()
    counter.handover_record(
        staff=officer,
        application=application,
        collector=counter.Collector(
            kind=CollectorKind.DELEGATE,
            citizen_id_number=who.id_number,
            delegate_name=who.delegate,
            delegate_id_number=who.delegate_id_number,
            relationship="brother",
        ),
        code=code.group(1),
    )


def _move_hand_over_back(application: Application, to: datetime) -> None:
    # The counter records a hand-over at the moment it happens; move this one back as if
    # it had happened then (the history's day, the closing time and the hand-over row).
    from tms.counter.models import Handover

    Application.objects.filter(pk=application.pk).update(closed_at=to)
    ApplicationEvent.objects.filter(application=application, action="hand_over").update(
        occurred_at=to
    )
    Handover.objects.filter(application=application).update(handed_over_at=to)


def _cohort(
    scenario: Scenario, who: Citizen, *, closed: datetime, officer: Any, manager: Any
) -> dict[str, Application]:
    go = applications  # the application services, by their verbs
    lodged = closed - timedelta(days=20)
    a: dict[str, Application] = {}

    # Collected by a delegate: lodged and updated by the agency's system (the history
    # records the address they came from), action required with a citizen query
    # answered, ready, searched for by phone and ID number, a hand-over code, the
    # hand-over.
    address = OLD_ADDRESS if who is OLD else "203.0.113.9"

    def agency_lodges() -> Application:
        app = _lodge(scenario, who, lodged)
        go.application_start_processing(app, actor=AGENCY, occurred_at=lodged + timedelta(days=1))
        go.application_require_action(
            app,
            actor=AGENCY,
            note=f"{who.name}: bring the birth certificate, ID {who.id_number}",
            occurred_at=lodged + timedelta(days=2),
        )
        return app

    def agency_dispatches(app: Application) -> None:
        go.application_resolve_action(app, actor=AGENCY, occurred_at=lodged + timedelta(days=4))
        go.application_dispatch(app, actor=AGENCY, occurred_at=lodged + timedelta(days=8))

    app = _from_address(address, agency_lodges)
    query = query_raise(application=app, channel=Channel.WEB)
    query_answer(
        staff=manager,
        query=query,
        answer=f"Dear {who.name}, call us on {who.phone} about ID {who.id_number}.",
    )
    _from_address(address, lambda: agency_dispatches(app))
    go.application_acknowledge_receipt(
        app, actor=officer.actor(), occurred_at=lodged + timedelta(days=10)
    )
    counter.counter_search(staff=officer, kind=SearchKind.PHONE, term=who.phone)
    counter.counter_search(staff=officer, kind=SearchKind.ID_NUMBER, term=who.id_number)
    a["collected"] = app
    a["returned"] = _lodge(scenario, who, lodged)
    go.application_acknowledge_receipt(
        a["returned"], actor=AGENCY, occurred_at=lodged + timedelta(days=3)
    )
    go.application_return(
        a["returned"], actor=AGENCY, occurred_at=closed, note=f"Not collected by {who.name}"
    )
    a["rejected"] = _lodge(scenario, who, lodged)
    go.application_reject(
        a["rejected"],
        actor=AGENCY,
        reason=f"ID {who.id_number} does not match {who.name}",
        occurred_at=closed,
    )
    a["cancelled"] = _lodge(scenario, who, lodged)
    go.application_start_processing(
        a["cancelled"], actor=AGENCY, occurred_at=lodged + timedelta(days=1)
    )
    go.application_cancel(
        a["cancelled"], actor=AGENCY, occurred_at=closed, note=f"{who.name} asked to cancel"
    )
    _hand_over_with_delegate(scenario, a["collected"], who, officer)
    _move_hand_over_back(a["collected"], closed)
    for app in a.values():
        app.refresh_from_db()
    return a


def build(now: datetime) -> Scenario:
    centre = make_centre("RETAIN", name="Huduma Centre Retention")
    service = make_service(
        "PASSPORT",
        name_en="Passport",
        requires_id_number=True,
        handover_code_required=True,
        reprint_cost_kes=Decimal("1000"),
        turnaround_days=5,
    )
    scenario = Scenario(now=now, centre=centre, service=service)
    officer = staff_of(make_staff(Role.COUNTER_OFFICER, centre=centre))
    manager = staff_of(make_staff(Role.CENTRE_MANAGER, centre=centre))
    scenario.old = _cohort(
        scenario, OLD, closed=now - timedelta(days=800), officer=officer, manager=manager
    )
    scenario.recent = _cohort(
        scenario, RECENT, closed=now - timedelta(days=100), officer=officer, manager=manager
    )
    # Open: lodged long ago and still processing (a breach); ready and waiting; lodged.
    long_ago = now - timedelta(days=900)
    scenario.open["processing"] = _lodge(scenario, OPEN, long_ago)
    applications.application_start_processing(
        scenario.open["processing"], actor=AGENCY, occurred_at=long_ago + timedelta(days=1)
    )
    scenario.open["ready"] = _lodge(scenario, OPEN, now - timedelta(days=30))
    applications.application_acknowledge_receipt(
        scenario.open["ready"], actor=AGENCY, occurred_at=now - timedelta(days=25)
    )
    scenario.open["lodged"] = _lodge(scenario, OPEN, now - timedelta(days=2))
    _send_and_report(
        {
            "+254" + who.phone[1:]: "254" + who.phone[1:]  # reports carry numbers without +
            for who in (OLD, RECENT, OPEN)
        }
    )
    LookupTally.objects.create(day=timezone.localdate(now), channel=Channel.WEB, lookups=42)
    for app in (*scenario.old.values(), *scenario.recent.values(), *scenario.open.values()):
        app.refresh_from_db()
    return scenario


@pytest.fixture
def scenario(db: None, settings: Any) -> Scenario:
    settings.TMS_QUIET_HOURS = ""  # the SMS go out whatever time the tests run
    settings.TMS_PERSONAL_DATA_RETENTION_DAYS = 730
    return build(timezone.now())
