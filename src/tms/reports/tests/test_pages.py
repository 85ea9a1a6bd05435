"""The reports pages: scope per role, filters, bad filters, the door; the public page in both
languages and from the cache. Data goes in through the real services and the rollups are
brought up to date before each page is asked for."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from tms.accounts.roles import Role
from tms.applications.models import Application
from tms.applications.references import display
from tms.applications.services import Actor, application_acknowledge_receipt
from tms.directory.models import Agency, Centre, Service
from tms.reports.rollups import rollups_update
from tms.testing.builders import lodge, make_agency, make_centre, make_service
from tms.testing.staff import make_staff, sign_in

pytestmark = pytest.mark.django_db

APPLICANT = "Nyokabi Wambui Gathoni"


def nairobi(day: date, at: time = time(0, 0, 1)) -> datetime:
    return timezone.make_aware(datetime.combine(day, at), timezone.get_default_timezone())


def make_ready(
    *, service: Service, centre: Centre, ready_day: date, lodged_days_before: int = 1
) -> Application:
    """Lodged ``lodged_days_before`` days before ``ready_day`` and made ready at the first
    second of that day (so that "today" is never in the future)."""
    ready_at = nairobi(ready_day)
    application = lodge(
        service=service,
        centre=centre,
        name=APPLICANT,
        lodged_at=ready_at - timedelta(days=lodged_days_before),
    )
    return application_acknowledge_receipt(
        application, actor=Actor.system("test"), occurred_at=ready_at
    )


@dataclass
class World:
    today: date
    centre_a: Centre
    centre_b: Centre
    agency_1: Agency
    agency_2: Agency
    x: Service
    y: Service
    late: str  # the reference of the one breach


@pytest.fixture(autouse=True)
def empty_cache() -> Any:
    cache.clear()
    yield
    cache.clear()
    # A request in Swahili leaves Swahili active in this thread; later tests expect English.
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def world() -> World:
    """Uncollected documents: centre A 4 of X + 3 of Y, made ready today, and 2 of X made
    ready 40 days ago; centre B 5 of X + 8 of Y made ready today. X belongs to agency 1,
    Y to agency 2. So centre A has 9, centre B 13, agency 1 11, agency 2 11, all 22; in the
    last 30 days 20 documents were made ready, in the last 90 days 22."""
    today = timezone.localdate()
    agency_1, agency_2 = make_agency("AGONE", name="Agency One"), make_agency("AGTWO")
    x = make_service(
        "SVX", agency=agency_1, name_en="Birth certificate", name_sw="Cheti cha kuzaliwa"
    )
    y = make_service("SVY", agency=agency_2, reprint_cost_kes=Decimal("1000"))
    centre_a = make_centre("CENA", name="Centre Alpha")
    centre_b = make_centre("CENB", name="Centre Bravo")
    counts = [(x, centre_a, 4), (y, centre_a, 3), (x, centre_b, 5), (y, centre_b, 8)]
    for service, centre, count in counts:
        for _ in range(count):
            make_ready(service=service, centre=centre, ready_day=today)
    for _ in range(2):
        make_ready(service=x, centre=centre_a, ready_day=today - timedelta(days=40))
    # Lodged 30 days ago with 10 working days promised, still not ready: a breach.
    late = lodge(
        service=y, centre=centre_b, name=APPLICANT, lodged_at=nairobi(today - timedelta(days=30))
    )
    rollups_update(settle=timedelta(0))
    return World(today, centre_a, centre_b, agency_1, agency_2, x, y, late.reference)


def page(client: Client, user: Any, **params: Any) -> Any:
    sign_in(client, user)
    return client.get(reverse("reports"), params)


def figure(html: str, label: str) -> str:
    """The value of the headline tile called ``label``."""
    found = re.search(
        rf"<dt>{re.escape(label)}</dt><dd><span class=\"value\">([^<]*)</span>"
        rf" <span class=\"note\">([^<]*)</span>",
        html,
    )
    assert found, f"no headline figure {label!r}"
    return found.group(1)


def note(html: str, label: str) -> str:
    found = re.search(
        rf"<dt>{re.escape(label)}</dt><dd><span class=\"value\">[^<]*</span>"
        rf" <span class=\"note\">([^<]*)</span>",
        html,
    )
    assert found, f"no headline figure {label!r}"
    return found.group(1)


BACKLOG = "Uncollected documents today"
ADHERENCE = "Adherence to the promised turnaround"


def test_each_role_sees_its_own_scope(client: Client, world: World) -> None:
    seen = {}
    for name, user in {
        "manager A": make_staff(Role.CENTRE_MANAGER, centre=world.centre_a),
        "manager B": make_staff(Role.CENTRE_MANAGER, centre=world.centre_b),
        "agency 1": make_staff(Role.AGENCY_OFFICER, agency=world.agency_1),
        "agency 2": make_staff(Role.AGENCY_OFFICER, agency=world.agency_2),
        "analyst": make_staff(Role.ANALYST),
        "administrator": make_staff(Role.ADMINISTRATOR),
    }.items():
        response = page(client, user)
        assert response.status_code == 200, name
        html = response.content.decode()
        seen[name] = figure(html, BACKLOG)
        if name == "manager A":
            assert "Centre Bravo" not in html
            assert 'name="centre"' not in html  # no centre select for a centre role
            assert 'name="agency"' in html
        if name == "agency 1":
            assert 'name="agency"' not in html
            assert 'name="centre"' in html
            assert "SVY" not in html  # the other agency's service is not offered
        if name == "analyst":
            assert "Centre Alpha" in html and "Centre Bravo" in html
    assert seen == {
        "manager A": "9",
        "manager B": "13",
        "agency 1": "11",
        "agency 2": "11",
        "analyst": "22",
        "administrator": "22",
    }


def test_the_breaches_list_is_scoped(client: Client, world: World) -> None:
    shown = display(world.late)
    manager_b = page(client, make_staff(Role.CENTRE_MANAGER, centre=world.centre_b))
    assert shown in manager_b.content.decode()
    row = manager_b.context["breaches"].table.rows[0]
    assert row[0] == shown and row[2] == "Centre Bravo" and row[3] == "Lodged"
    assert row[5] >= 10  # 30 calendar days less the 10 promised working days
    manager_a = page(client, make_staff(Role.CENTRE_MANAGER, centre=world.centre_a))
    assert shown not in manager_a.content.decode()
    assert manager_a.context["breaches"].table.rows == []


def test_a_centre_role_cannot_ask_for_another_centre(client: Client, world: World) -> None:
    manager = make_staff(Role.CENTRE_MANAGER, centre=world.centre_a)
    response = page(client, manager, centre=world.centre_b.pk)
    # There is no centre select for a centre role: the asked-for centre is not used.
    assert response.status_code == 200
    assert figure(response.content.decode(), BACKLOG) == "9"


def test_an_agency_officer_cannot_pick_another_agencys_service(
    client: Client, world: World
) -> None:
    officer = make_staff(Role.AGENCY_OFFICER, agency=world.agency_1)
    response = page(client, officer, service=world.y.pk)
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_filters_change_the_figures(client: Client, world: World) -> None:
    analyst = make_staff(Role.ANALYST)
    asked = {
        "centre A": {"centre": world.centre_a.pk},
        "centre B": {"centre": world.centre_b.pk},
        "agency 2": {"agency": world.agency_2.pk},
        "service X": {"service": world.x.pk},
        "X in B": {"service": world.x.pk, "centre": world.centre_b.pk},
    }
    backlog = {
        name: figure(page(client, analyst, **params).content.decode(), BACKLOG)
        for name, params in asked.items()
    }
    assert backlog == {
        "centre A": "9",
        "centre B": "13",
        "agency 2": "11",
        "service X": "11",
        "X in B": "5",
    }
    # The period: 20 made ready in the last 30 days, 22 in the last 90, none in a week
    # two months ago; the 2 old ones in a chosen window around them.
    ready = {}
    for name, params in {
        "30": {"period": "30"},
        "90": {"period": "90"},
        "7": {"period": "7"},
        "old": {
            "period": "custom",
            "start": (world.today - timedelta(days=45)).isoformat(),
            "end": (world.today - timedelta(days=35)).isoformat(),
        },
    }.items():
        response = page(client, analyst, **params)
        assert response.status_code == 200, name
        ready[name] = note(response.content.decode(), ADHERENCE)
    assert ready["30"].endswith("of 20 documents ready within the promised working days")
    assert ready["90"].endswith("of 22 documents ready within the promised working days")
    assert ready["7"].endswith("of 20 documents ready within the promised working days")
    assert ready["old"].endswith("of 2 documents ready within the promised working days")


def test_the_default_period_is_the_last_30_days_ending_today(client: Client, world: World) -> None:
    response = page(client, make_staff(Role.ANALYST))
    assert response.status_code == 200
    start = world.today - timedelta(days=29)
    html = response.content.decode()
    assert f"Figures for {start:%-d %b %Y} to {world.today:%-d %b %Y}" in html
    assert '<option value="30" selected>' in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "custom", "start": "2026-03-10", "end": "2026-03-01"}, "end date is before"),
        ({"period": "custom", "start": "2022-01-01", "end": "2026-01-01"}, "longer than two years"),
        ({"period": "custom", "start": "2026-03-10"}, "Chosen dates need both a start and an end."),
        ({"period": "custom", "start": "not-a-date", "end": "2026-03-01"}, "Enter a valid date."),
        ({"period": "365"}, "Select a valid choice."),
        ({"centre": "999999"}, "Select a valid choice."),
        ({"agency": "abc"}, "Select a valid choice."),
        ({"service": "999999"}, "Select a valid choice."),
        ({"by": "county"}, "Select a valid choice."),
    ],
)  # fmt: skip
def test_bad_filters_are_a_clear_400(
    client: Client, world: World, params: dict[str, str], message: str
) -> None:
    response = page(client, make_staff(Role.ANALYST), **params)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "At a glance" not in html  # no figures for a filter that makes no sense


def test_a_counter_officer_is_refused(client: Client, world: World) -> None:
    officer = make_staff(Role.COUNTER_OFFICER, centre=world.centre_a)
    assert page(client, officer).status_code == 403


def test_nobody_signed_in_is_sent_to_sign_in(client: Client, world: World) -> None:
    response = client.get(reverse("reports"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("staff-login"))


def test_tables_carry_captions_headers_and_download_links(client: Client, world: World) -> None:
    html = page(client, make_staff(Role.ANALYST)).content.decode()
    for name in ("backlog", "turnaround-agency", "stages", "sms", "lookups", "breaches"):
        assert f'<caption id="{name}-caption">' in html, name
        assert reverse("reports-export", kwargs={"table": name, "fmt": "csv"}) in html, name
        assert reverse("reports-export", kwargs={"table": name, "fmt": "xlsx"}) in html, name
    assert '<th scope="col"' in html and '<th scope="row">' in html
    for chart in ("backlog", "turnaround", "stages"):
        assert f'id="chart-{chart}-data" type="application/json"' in html, chart
    assert APPLICANT not in html


def test_the_backlog_chart_and_table_show_the_same_figures(client: Client, world: World) -> None:
    response = page(client, make_staff(Role.CENTRE_MANAGER, centre=world.centre_a))
    spec = response.context["sections"][0]["chart"]
    table = response.context["sections"][0]["table"].table
    assert spec["labels"] == [row[0] for row in table.rows]
    assert [d["data"] for d in spec["datasets"]] == [
        [float(row[i]) for row in table.rows] for i in range(1, 5)
    ]
    # Centre A, per service: X has 4 made ready today and 2 forty days ago, Y has 3.
    assert [row[1:6] for row in table.rows] == [[4, 0, 2, 0, 6], [3, 0, 0, 0, 3]]
    assert table.footer[1:6] == [7, 0, 2, 0, 9]


# --- The public performance page -----------------------------------------------------------------


def test_the_public_page_needs_no_sign_in_and_shows_the_figures(
    client: Client, world: World
) -> None:
    response = client.get(reverse("performance"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "Birth certificate" in html
    assert "Agency One" in html
    assert APPLICANT not in html  # no personal data
    rows = {row[0]: row for row in response.context["table"].table.rows}
    # X: 9 made ready today, 2 forty days ago, all within the 10 promised working days.
    assert rows["Birth certificate"][2:5] == [10, 11, 100.0]
    assert response["Vary"] == "Cookie, Accept-Language"


def test_the_public_page_speaks_swahili(client: Client, world: World) -> None:
    client.cookies["django_language"] = "sw"
    response = client.get(reverse("performance"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="sw">' in html
    assert "Cheti cha kuzaliwa" in html
    assert "Birth certificate" not in html
    assert response["Content-Language"] == "sw"
    assert "Jinsi tunavyofanya" in html  # the headings are translated too


def test_the_tracking_page_links_to_the_public_page(client: Client) -> None:
    html = client.get(reverse("track")).content.decode()
    assert f'href="{reverse("performance")}"' in html


def test_the_public_page_is_served_from_the_cache(
    client: Client, world: World, django_assert_num_queries: Any
) -> None:
    first = client.get(reverse("performance"))
    with django_assert_num_queries(0):
        second = client.get(reverse("performance"))
    assert second.content == first.content
    # Each language has its own copy.
    client.cookies["django_language"] = "sw"
    swahili = client.get(reverse("performance"))
    assert '<html lang="sw">' in swahili.content.decode()
    with django_assert_num_queries(0):
        assert client.get(reverse("performance")).content == swahili.content
