"""Fixtures: the small fixed data set every figure is checked against (the hand-computed
values are in test_figures.py).

Calendar (2026): Sat 30 and Sun 31 May are a weekend and Mon 1 June is Madaraka Day, a
public holiday, so the working days around it run Thu 28, Fri 29 May, Tue 2, Wed 3 June.

Services: "Birth certificate" (agency "Civil Registration", 5 working days, reprint
KES 1,000) and "ID card" (agency "National Registration", 3 working days, KES 500).
Centres: "Alpha Centre" and "Beta Centre". Every time is 10:00 Nairobi unless said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tms.applications import services as applications
from tms.applications.models import Application, Channel
from tms.applications.services import Actor
from tms.directory.models import Centre, PublicHoliday, Service
from tms.notifications.models import Event, Message, MessageState, Priority
from tms.testing.builders import lodge, make_agency, make_centre, make_service
from tms.tracking.models import LookupTally

NAIROBI = ZoneInfo("Africa/Nairobi")
SYSTEM = Actor.system("test")


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NAIROBI)


def d(month: int, day: int) -> date:
    return date(2026, month, day)


@dataclass
class DataSet:
    birth: Service
    id_card: Service
    alpha: Centre
    beta: Centre
    apps: dict[str, Application]


def make_message(
    application: Application | None,
    event: Event,
    created: datetime,
    state: MessageState,
    *,
    gateway_id: str | None,
    cost: str | None,
    network: str,
    segments: int = 1,
) -> Message:
    return Message.objects.create(
        application=application,
        event=event,
        priority=Priority.NORMAL,
        to="+254712345678",
        body="Test message",
        language="en",
        segments=segments,
        encoding="gsm7",
        state=state,
        next_attempt_at=created,
        created_at=created,
        gateway_message_id=gateway_id,
        cost=Decimal(cost) if cost is not None else None,
        network_code=network,
    )


def build(checkpoint: Callable[[], None] = lambda: None) -> DataSet:
    """Build the data set; ``checkpoint`` runs once half-way, between two batches of events
    (the undone receipt's receipt is in the first batch, its undo in the second)."""
    PublicHoliday.objects.create(date=d(6, 1), name="Madaraka Day")
    civil = make_agency("CRS", name="Civil Registration")
    national = make_agency("NRB", name="National Registration")
    birth = make_service(
        "BIRTH",
        agency=civil,
        name_en="Birth certificate",
        name_sw="Cheti cha kuzaliwa",
        turnaround_days=5,
        reprint_cost_kes=Decimal("1000"),
    )
    id_card = make_service(
        "IDCARD",
        agency=national,
        name_en="ID card",
        name_sw="Kitambulisho",
        turnaround_days=3,
        reprint_cost_kes=Decimal("500"),
    )
    make_service("OLD", agency=national, name_en="Old service", name_sw="Zamani", is_active=False)
    make_service("ZNEW", agency=national, name_en="New service", name_sw="Mpya", turnaround_days=4)
    alpha = make_centre("ALPHA", name="Alpha Centre")
    beta = make_centre("BETA", name="Beta Centre")

    def new(service: Service, centre: Centre, lodged: date) -> Application:
        return lodge(service=service, centre=centre, lodged_at=at(lodged))

    def go(application: Application, action: str, day: date, **kw: object) -> None:
        function = getattr(applications, f"application_{action}")
        when = kw.pop("when", None) or at(day)
        function(application, actor=SYSTEM, occurred_at=when, **kw)

    a = {}
    # a1 Birth@Alpha: lodged Mon 25 May (due Tue 2 Jun), ready on its due date, handed over
    # at 01:30 Nairobi on Fri 5 Jun (22:30 UTC on the 4th).
    a["a1"] = new(birth, alpha, d(5, 25))
    go(a["a1"], "start_processing", d(5, 26))
    go(a["a1"], "dispatch", d(5, 28))
    # a2 Birth@Alpha: lodged 25 May (due 2 Jun), reopened after action required, ready
    # late on Thu 4 Jun, never collected.
    a["a2"] = new(birth, alpha, d(5, 25))
    go(a["a2"], "start_processing", d(5, 26))
    go(a["a2"], "require_action", d(5, 27), note="Bring your parent's ID")
    go(a["a2"], "resolve_action", d(5, 29))
    # a3 ID@Beta: lodged Tue 26 May, rejected Wed 27 May.
    a["a3"] = new(id_card, beta, d(5, 26))
    go(a["a3"], "reject", d(5, 27), reason="Wrong form")
    # a4 ID@Beta: lodged 26 May (due Fri 29 May), ready Thu 28 May, returned Wed 10 Jun.
    a["a4"] = new(id_card, beta, d(5, 26))
    go(a["a4"], "acknowledge_receipt", d(5, 28))
    # a5 ID@Alpha: lodged 26 May (due 29 May), dispatched 27 May, a receipt scanned by
    # mistake on 28 May and undone, really ready Wed 3 Jun, reminder 4 Jun, collected 5 Jun.
    a["a5"] = new(id_card, alpha, d(5, 26))
    go(a["a5"], "dispatch", d(5, 27))
    go(a["a5"], "acknowledge_receipt", d(5, 28))
    # a6 Birth@Beta: lodged Mon 18 May, processing 19 May, cancelled 20 May.
    a["a6"] = new(birth, beta, d(5, 18))
    go(a["a6"], "start_processing", d(5, 19))
    go(a["a6"], "cancel", d(5, 20))
    # a7 Birth@Alpha: lodged Wed 27 May (due Thu 4 Jun), processing since 28 May: a breach.
    a["a7"] = new(birth, alpha, d(5, 27))
    go(a["a7"], "start_processing", d(5, 28))
    # a8 ID@Beta: lodged Wed 20 May (due Mon 25 May), ready Fri 22 May, collected Wed 1 Jul
    # (40 days after ready: outside the 30-day window).
    a["a8"] = new(id_card, beta, d(5, 20))
    go(a["a8"], "acknowledge_receipt", d(5, 22))

    checkpoint()

    go(a["a1"], "acknowledge_receipt", d(6, 2))
    go(a["a1"], "hand_over", d(6, 4), when=datetime(2026, 6, 4, 22, 30, tzinfo=UTC))
    go(a["a2"], "dispatch", d(6, 3))
    go(a["a2"], "acknowledge_receipt", d(6, 4))
    go(a["a4"], "return", d(6, 10))
    go(a["a5"], "undo_receipt", d(5, 28), when=at(d(5, 28), 10, 30))
    go(a["a5"], "acknowledge_receipt", d(6, 3))
    make_message(
        a["a5"],
        Event.REMINDER,
        at(d(6, 4)),
        MessageState.DELIVERED,
        gateway_id="g5",
        cost="0.80",
        network="63903",
    )
    go(a["a5"], "hand_over", d(6, 5))
    go(a["a8"], "hand_over", d(7, 1))
    # a9 Birth@Beta: lodged Mon 29 Jun (due Mon 6 Jul), ready Fri 10 Jul (late).
    a["a9"] = new(birth, beta, d(6, 29))
    go(a["a9"], "acknowledge_receipt", d(7, 10))
    # a10 ID@Alpha: lodged Mon 15 Jun (due Thu 18 Jun), ready 18 Jun.
    a["a10"] = new(id_card, alpha, d(6, 15))
    go(a["a10"], "acknowledge_receipt", d(6, 18))
    # a11 Birth@Alpha: lodged Mon 2 Mar (due Mon 9 Mar), ready Fri 6 Mar, still waiting.
    a["a11"] = new(birth, alpha, d(3, 2))
    go(a["a11"], "acknowledge_receipt", d(3, 6))
    # a12 ID@Beta: lodged Mon 6 Jul (due Thu 9 Jul), still lodged: a breach.
    a["a12"] = new(id_card, beta, d(7, 6))

    # SMS (besides the reminder above).
    make_message(
        a["a1"],
        Event.READY,
        at(d(6, 2)),
        MessageState.DELIVERED,
        gateway_id="g1",
        cost="0.80",
        network="63902",
    )
    make_message(  # accepted, then reported failed
        a["a2"],
        Event.READY,
        at(d(6, 4)),
        MessageState.FAILED,
        gateway_id="g2",
        cost="0.80",
        network="63902",
    )
    make_message(  # accepted, no report yet; two segments
        a["a4"],
        Event.READY,
        at(d(5, 28)),
        MessageState.SENT,
        gateway_id="g3",
        cost="1.00",
        network="63903",
        segments=2,
    )
    make_message(  # refused by the gateway at sending
        a["a3"],
        Event.LODGED,
        at(d(5, 26)),
        MessageState.FAILED,
        gateway_id=None,
        cost=None,
        network="",
    )
    make_message(  # outside the period
        a["a9"],
        Event.READY,
        at(d(7, 10)),
        MessageState.DELIVERED,
        gateway_id="g6",
        cost="0.80",
        network="63902",
    )

    for day, channel, n in [
        (d(5, 10), Channel.WEB, 100),
        (d(5, 10), Channel.USSD, 20),
        (d(6, 1), Channel.SMS, 5),
        (d(6, 1), Channel.PUBLIC_API, 7),
        (d(7, 3), Channel.WEB, 50),  # outside the period
    ]:
        LookupTally.objects.create(day=day, channel=channel, lookups=n)
    for application in a.values():
        application.refresh_from_db()
    return DataSet(birth=birth, id_card=id_card, alpha=alpha, beta=beta, apps=a)


@pytest.fixture
def build_dataset(db: None) -> Callable[..., DataSet]:
    return build


@pytest.fixture
def dataset(db: None) -> DataSet:
    """The data set, with the rollups brought up to date."""
    from datetime import timedelta

    from tms.reports.rollups import rollups_update

    data = build()
    # The first run computes every day's SMS figures (the data set's are months old).
    rollups_update(settle=timedelta(0))
    return data
