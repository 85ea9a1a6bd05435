"""Every figure against values computed by hand on the fixed data set (conftest.py).

Period: Fri 1 May to Tue 30 Jun 2026; "today" is Wed 15 Jul 2026. Working days skip
weekends and Mon 1 Jun (Madaraka Day). Percentiles interpolate linearly at (n-1)p.

Ready documents (ready day, working days lodged->ready, promised date, within?):
  a1  Birth@Alpha  Tue 2 Jun   25 May->2 Jun: 26,27,28,29,2            = 5  due 2 Jun  yes
  a2  Birth@Alpha  Thu 4 Jun   25 May->4 Jun: 26,27,28,29,2,3,4        = 7  due 2 Jun  no
  a4  ID@Beta      Thu 28 May  26 May->28 May: 27,28                   = 2  due 29 May yes
  a5  ID@Alpha     Wed 3 Jun   26 May->3 Jun: 27,28,29,2,3             = 5  due 29 May no
                   (its receipt of 28 May was undone: not counted)
  a8  ID@Beta      Fri 22 May  20 May->22 May: 21,22                   = 2  due 25 May yes
  a10 ID@Alpha     Thu 18 Jun  15 Jun->18 Jun: 16,17,18                = 3  due 18 Jun yes
  a9  Birth@Beta   Fri 10 Jul  (outside the period) 29 Jun->10 Jul     = 9  due 6 Jul  no
  a11 Birth@Alpha  Fri 6 Mar   (outside the period) 2 Mar->6 Mar       = 4  due 9 Mar  yes
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tms.reports import selectors
from tms.reports.models import DailyFigures
from tms.reports.rollups import rollups_update
from tms.reports.selectors import (
    BacklogGroup,
    BacklogRow,
    BreachRow,
    Distribution,
    Filters,
    LookupRow,
    PublicRow,
    SmsRow,
    StageRow,
    TurnaroundRow,
    distribution,
)
from tms.reports.tests.conftest import DataSet, d

TODAY = date(2026, 7, 15)
PERIOD = Filters(start=d(5, 1), end=d(6, 30))
pytestmark = pytest.mark.django_db


def test_distribution_interpolates_and_averages_the_middle_pair() -> None:
    assert distribution({}) == Distribution(0, None, None)
    assert distribution({4: 1}) == Distribution(1, 4.0, 4.0)
    # 1, 2, 3, 10: median (2+3)/2 = 2.5; p90 at 3*0.9 = 2.7 -> 3 + 0.7*(10-3) = 7.9
    result = distribution({1: 1, 2: 1, 3: 1, 10: 1})
    assert (result.cases, result.median) == (4, 2.5)
    assert result.p90 == pytest.approx(7.9)
    # 5, 5, 5: zero and negative counts (fully corrected rows) are ignored
    assert distribution({5: 3, 7: 0, 9: -1}) == Distribution(3, 5.0, 5.0)


def test_headline(dataset: DataSet) -> None:
    figures = selectors.headline(PERIOD, today=TODAY)
    # Ready in the period: a1 a2 a4 a5 a8 a10 = 6; within promise a1 a4 a8 a10 = 4.
    assert (figures.ready, figures.within_promise) == (6, 4)
    assert figures.adherence == pytest.approx(4 / 6)
    # Turnaround 2,2,3,5,5,7: median (3+5)/2 = 4; p90 at 5*0.9=4.5 -> 5 + 0.5*(7-5) = 6.
    assert figures.turnaround == Distribution(6, 4.0, 6.0)
    # Collection cohort: ready 1 May .. 15 Jun (today - 30): a8 22 May, a4 28 May,
    # a1 2 Jun, a5 3 Jun, a2 4 Jun = 5; within 30 days: a1 (3 days), a5 (2 days) = 2.
    # a8 took 40 days; a4 was returned; a2 waits still.
    assert (figures.collection_ready, figures.collected_within_30) == (5, 2)
    assert figures.collection_rate == pytest.approx(0.4)
    # Hand-overs in the period: a5 5 Jun (2 days), a1 5 Jun Nairobi time (3 days);
    # median 2.5; p90 at 0.9 -> 2 + 0.9 = 2.9. (a8's 1 Jul hand-over is outside.)
    assert figures.ready_to_collected.cases == 2
    assert figures.ready_to_collected.median == 2.5
    assert figures.ready_to_collected.p90 == pytest.approx(2.9)
    # Backlog today: a2, a9, a10, a11 = 4; cost 3 birth x 1000 + 1 ID x 500 = 3500.
    assert (figures.backlog, figures.reprint_cost_at_risk) == (4, Decimal("3500"))
    # SMS queued in the period: a1 (delivered), a2 (sent, failed), a4 (sent), a5's
    # reminder (delivered) = 4 sent, 2 delivered; a3's was refused (not sent).
    # Cost 0.80 + 0.80 + 1.00 + 0.80 = 3.40.
    assert (figures.sms_sent, figures.sms_delivered) == (4, 2)
    assert figures.sms_delivery_rate == 0.5
    assert figures.sms_cost == Decimal("3.40")
    # Lookups: web 100 + USSD 20 + SMS 5 + API 7 = 132 (the 3 Jul web 50 is outside).
    assert figures.lookups == 132
    # a5 collected 5 Jun after the reminder of 4 Jun: 1 x KES 500.
    assert (figures.collected_after_reminder, figures.money_saved) == (1, Decimal("500"))
    assert figures.as_of is not None
    # The dashboard hands over the backlog it has read: the same figures.
    groups = selectors.backlog_by(PERIOD, by="centre", today=TODAY)
    assert selectors.headline(PERIOD, today=TODAY, backlog_groups=groups) == figures
    first = selectors.headline(PERIOD, today=TODAY, backlog_groups=groups[:1])
    assert (first.backlog, first.reprint_cost_at_risk) == (3, Decimal("2500"))


def test_headline_filtered_by_centre_agency_and_service(dataset: DataSet) -> None:
    beta = selectors.headline(
        Filters(start=PERIOD.start, end=PERIOD.end, centre_id=dataset.beta.pk), today=TODAY
    )
    # Beta: ready a4 (2, yes), a8 (2, yes); backlog a9 (KES 1000); SMS a4's only
    # (a3's was refused): sent 1, cost 1.00.
    assert (beta.ready, beta.within_promise, beta.adherence) == (2, 2, 1.0)
    assert beta.turnaround == Distribution(2, 2.0, 2.0)
    assert (beta.collection_ready, beta.collected_within_30, beta.collection_rate) == (2, 0, 0.0)
    assert (beta.backlog, beta.reprint_cost_at_risk) == (1, Decimal("1000"))
    assert (beta.sms_sent, beta.sms_delivered, beta.sms_cost) == (1, 0, Decimal("1.00"))
    assert beta.lookups == 132  # national
    assert (beta.collected_after_reminder, beta.money_saved) == (0, Decimal("0"))

    civil = selectors.headline(
        Filters(start=PERIOD.start, end=PERIOD.end, agency_id=dataset.birth.agency_id),
        today=TODAY,
    )
    # Birth certificates: a1 (5, yes), a2 (7, no): median 6, p90 5 + 0.9*2 = 6.8.
    assert (civil.ready, civil.within_promise) == (2, 1)
    assert civil.turnaround.median == 6.0
    assert civil.turnaround.p90 == pytest.approx(6.8)
    # Backlog a2, a9, a11 = 3 x 1000.
    assert (civil.backlog, civil.reprint_cost_at_risk) == (3, Decimal("3000"))

    id_alpha = selectors.headline(
        Filters(
            start=PERIOD.start,
            end=PERIOD.end,
            service_id=dataset.id_card.pk,
            centre_id=dataset.alpha.pk,
        ),
        today=TODAY,
    )
    # ID at Alpha: a5 (5, no), a10 (3, yes); a5 collected after a reminder.
    assert (id_alpha.ready, id_alpha.within_promise) == (2, 1)
    assert (id_alpha.collected_after_reminder, id_alpha.money_saved) == (1, Decimal("500"))
    assert (id_alpha.backlog, id_alpha.reprint_cost_at_risk) == (1, Decimal("500"))


def test_collection_rate_is_none_before_any_cohort_has_matured(dataset: DataSet) -> None:
    figures = selectors.headline(Filters(start=d(6, 20), end=d(7, 15)), today=TODAY)
    assert (figures.collection_ready, figures.collection_rate) == (0, None)
    # Ready 20 Jun .. 15 Jul: a9 only (9 days, late).
    assert (figures.ready, figures.adherence) == (1, 0.0)
    assert figures.turnaround == Distribution(1, 9.0, 9.0)
    assert figures.ready_to_collected == Distribution(1, 40.0, 40.0)  # a8 on 1 Jul


def test_turnaround_by_agency_service_and_centre(dataset: DataSet) -> None:
    civil, national = dataset.birth.agency, dataset.id_card.agency
    # Civil Registration (birth): a1 5 yes, a2 7 no -> median 6, p90 6.8.
    # National Registration (ID): a4 2 yes, a5 5 no, a8 2 yes, a10 3 yes ->
    # 2,2,3,5: median 2.5, p90 at 2.7 -> 3 + 0.7*2 = 4.4.
    by_agency = selectors.turnaround(PERIOD, by="agency")
    assert [(r.key_id, r.label, r.ready, r.within_promise, r.adherence) for r in by_agency] == [
        (civil.pk, "Civil Registration", 2, 1, 0.5),
        (national.pk, "National Registration", 4, 3, 0.75),
    ]
    assert [r.turnaround.median for r in by_agency] == [6.0, 2.5]
    assert [r.turnaround.p90 for r in by_agency] == pytest.approx([6.8, 4.4])
    assert [r.promised_days for r in by_agency] == [None, None]

    by_service = selectors.turnaround(PERIOD, by="service")
    assert [(r.label, r.ready, r.within_promise, r.promised_days) for r in by_service] == [
        ("Birth certificate", 2, 1, 5),
        ("ID card", 4, 3, 3),
    ]
    assert by_service[1].turnaround.cases == 4

    # Alpha: a1 5, a2 7, a5 5, a10 3 -> 3,5,5,7: median 5, p90 5 + 0.7*2 = 6.4;
    # within a1, a10 = 2 of 4. Beta: a4 2, a8 2, both within.
    by_centre = selectors.turnaround(PERIOD, by="centre")
    assert by_centre == [
        TurnaroundRow(
            key_id=dataset.alpha.pk,
            label="Alpha Centre",
            ready=4,
            within_promise=2,
            adherence=0.5,
            turnaround=Distribution(4, 5.0, pytest.approx(6.4)),  # type: ignore[arg-type]
            promised_days=None,
        ),
        TurnaroundRow(
            key_id=dataset.beta.pk,
            label="Beta Centre",
            ready=2,
            within_promise=2,
            adherence=1.0,
            turnaround=Distribution(2, 2.0, 2.0),
            promised_days=None,
        ),
    ]
    # A filter narrows the groups.
    only_beta = Filters(start=PERIOD.start, end=PERIOD.end, centre_id=dataset.beta.pk)
    assert [r.label for r in selectors.turnaround(only_beta, by="centre")] == ["Beta Centre"]


def test_stage_times(dataset: DataSet) -> None:
    # By the day the state was left, in the period:
    # lodged: a1 1, a2 1, a3 1, a4 2 (26->28), a5 1, a6 1, a7 1, a8 2, a10 3
    #   -> 1,1,1,1,1,1,2,2,3: median 1; p90 at 8*0.9=7.2 -> 2 + 0.2*(3-2) = 2.2
    # processing: a1 2 (26->28), a2 1 (26->27) and 2 (29 May->3 Jun, over the weekend
    #   and the holiday: 2, 3), a6 1 -> 1,1,2,2: median 1.5; p90 at 2.7 -> 2
    # action required: a2 2 (27->29 May)
    # dispatched: a1 2 (28 May->2 Jun: 29, 2), a2 1, a5 4 (27 May->3 Jun: 28, 29, 2, 3;
    #   the undone receipt's sample of 28 May was taken back) -> 1,2,4: median 2;
    #   p90 at 1.8 -> 2 + 0.8*2 = 3.6
    # ready: a4 8 (28 May->10 Jun: 29, 2,3,4,5, 8,9,10), a1 3 (2->5 Jun), a5 2 (3->5 Jun)
    #   -> 2,3,8: median 3; p90 at 1.8 -> 3 + 0.8*5 = 7
    rows = selectors.stage_times(PERIOD)
    assert [(r.stage, r.duration.cases, r.duration.median) for r in rows] == [
        ("lodged", 9, 1.0),
        ("processing", 4, 1.5),
        ("action_required", 1, 2.0),
        ("dispatched", 3, 2.0),
        ("ready", 3, 3.0),
    ]
    assert [r.duration.p90 for r in rows] == pytest.approx([2.2, 2.0, 2.0, 3.6, 7.0])
    assert rows[3] == StageRow(
        stage="dispatched",
        label="On its way to the centre",
        duration=Distribution(3, 2.0, pytest.approx(3.6)),  # type: ignore[arg-type]
    )


def test_backlog_by_age_centre_and_service(dataset: DataSet) -> None:
    # Today 15 Jul: a2 ready 4 Jun (41 days), a11 6 Mar (131 days) at Alpha (birth);
    # a10 18 Jun (27 days) at Alpha (ID); a9 10 Jul (5 days) at Beta (birth).
    rows = selectors.backlog(PERIOD, today=TODAY)
    a, b = dataset.alpha.pk, dataset.beta.pk
    birth, id_card = dataset.birth.pk, dataset.id_card.pk
    assert rows == [
        BacklogRow(a, "Alpha Centre", birth, "Birth certificate", 0, 0, 1, 1, 2, Decimal("2000")),
        BacklogRow(a, "Alpha Centre", id_card, "ID card", 0, 1, 0, 0, 1, Decimal("500")),
        BacklogRow(b, "Beta Centre", birth, "Birth certificate", 1, 0, 0, 0, 1, Decimal("1000")),
    ]
    # Bucket edges: on 17 Jul a9 is 7 days (still 0-7), on 18 Jul 8 days (8-30).
    assert [r.days_0_7 for r in selectors.backlog(PERIOD, today=d(7, 17)) if r.centre_id == b] == [
        1
    ]
    assert [r.days_8_30 for r in selectors.backlog(PERIOD, today=d(7, 18)) if r.centre_id == b] == [
        1
    ]
    # a2 is 90 days old on 2 Sep (31-90), 91 on 3 Sep (over 90).
    on = {day: selectors.backlog(PERIOD, today=day)[0] for day in (d(9, 2), d(9, 3))}
    assert (on[d(9, 2)].days_31_90, on[d(9, 2)].days_over_90) == (1, 1)
    assert (on[d(9, 3)].days_31_90, on[d(9, 3)].days_over_90) == (0, 2)
    only = Filters(start=PERIOD.start, end=PERIOD.end, service_id=id_card)
    assert [r.total for r in selectors.backlog(only, today=TODAY)] == [1]
    # Summed per centre and per service (the dashboard's view), the cost worked out in SQL.
    assert selectors.backlog_by(PERIOD, by="centre", today=TODAY) == [
        BacklogGroup(a, "Alpha Centre", 0, 1, 1, 1, 3, Decimal("2500")),
        BacklogGroup(b, "Beta Centre", 1, 0, 0, 0, 1, Decimal("1000")),
    ]
    assert selectors.backlog_by(PERIOD, by="service", today=TODAY) == [
        BacklogGroup(birth, "Birth certificate", 1, 0, 1, 1, 3, Decimal("3000")),
        BacklogGroup(id_card, "ID card", 0, 1, 0, 0, 1, Decimal("500")),
    ]
    beta = Filters(start=PERIOD.start, end=PERIOD.end, centre_id=b)
    assert [(g.label, g.total) for g in selectors.backlog_by(beta, by="service", today=TODAY)] == [
        ("Birth certificate", 1)
    ]


def test_breaches(dataset: DataSet) -> None:
    # Open and not ready past the promised date on 15 Jul: a7 (processing, due Thu 4 Jun:
    # 41 days = 5 weeks (25) + Fri 10, Mon 13, Tue 14, Wed 15 = 29 working days late) and
    # a12 (lodged, due Thu 9 Jul: 10, 13, 14, 15 = 4).
    rows = selectors.breaches(PERIOD, today=TODAY)
    a7, a12 = dataset.apps["a7"], dataset.apps["a12"]
    assert rows == [
        BreachRow(str(a7), "Birth certificate", "Alpha Centre", "Processing", d(6, 4), 29),
        BreachRow(str(a12), "ID card", "Beta Centre", "Lodged", d(7, 9), 4),
    ]
    # The longest overdue of all statuses first, whichever status it is in.
    assert [r.reference for r in selectors.breaches(PERIOD, today=TODAY, limit=1)] == [str(a7)]
    beta = Filters(start=PERIOD.start, end=PERIOD.end, centre_id=dataset.beta.pk)
    assert [r.reference for r in selectors.breaches(beta, today=TODAY)] == [str(a12)]
    # On its due date an application is not yet late.
    assert [r.reference for r in selectors.breaches(PERIOD, today=d(6, 4))] == []


def test_sms_by_network(dataset: DataSet) -> None:
    # "" : a3's refused message: failed 1.
    # 63902: a1 delivered 0.80, a2 sent then failed 0.80 -> sent 2, delivered 1, failed 1.
    # 63903: a4 sent 1.00, a5 reminder delivered 0.80 -> sent 2, delivered 1.
    assert selectors.sms_by_network(PERIOD) == [
        SmsRow("", 0, 0, 1, None, Decimal("0")),
        SmsRow("63902", 2, 1, 1, 0.5, Decimal("1.60")),
        SmsRow("63903", 2, 1, 0, 0.5, Decimal("1.80")),
    ]
    # Alpha: a1, a2 (63902) and a5's reminder (63903).
    alpha = Filters(start=PERIOD.start, end=PERIOD.end, centre_id=dataset.alpha.pk)
    assert [(r.network, r.sent) for r in selectors.sms_by_network(alpha)] == [
        ("63902", 2),
        ("63903", 1),
    ]


def test_lookups_by_channel(dataset: DataSet) -> None:
    assert selectors.lookups_by_channel(PERIOD) == [
        LookupRow("web", "public web", 100),
        LookupRow("public_api", "public API", 7),
        LookupRow("ussd", "USSD", 20),
        LookupRow("sms", "SMS", 5),
    ]


def test_public_performance(dataset: DataSet) -> None:
    # Last 90 days to 15 Jul = 17 Apr .. 15 Jul. Birth: a1 5 yes, a2 7 no, a9 9 no ->
    # 1/3, median 7. ID: a4 2, a5 5, a8 2, a10 3 -> 3/4, median 2.5. ZNEW: no cases.
    # OLD is inactive: absent.
    assert selectors.public_performance(today=TODAY) == [
        PublicRow(
            "Civil Registration",
            "BIRTH",
            "Birth certificate",
            "Cheti cha kuzaliwa",
            5,
            3,
            pytest.approx(1 / 3),  # type: ignore[arg-type]
            7.0,
        ),
        PublicRow("National Registration", "IDCARD", "ID card", "Kitambulisho", 3, 4, 0.75, 2.5),
        PublicRow("National Registration", "ZNEW", "New service", "Mpya", 4, 0, None, None),
    ]


def test_lodged_and_closed_counters(dataset: DataSet) -> None:
    def total(field: str, start: date, end: date) -> int:
        return sum(
            getattr(row, field) for row in DailyFigures.objects.filter(day__range=(start, end))
        )

    # Lodged 1 May .. 30 Jun: a1..a8, a10 (15 Jun) and a9 (29 Jun) = 10; a11 (March) and
    # a12 (July) are outside.
    assert total("lodged", PERIOD.start, PERIOD.end) == 10
    assert total("rejected", PERIOD.start, PERIOD.end) == 1  # a3
    assert total("cancelled", PERIOD.start, PERIOD.end) == 1  # a6
    assert total("returned", PERIOD.start, PERIOD.end) == 1  # a4
    assert total("collected", PERIOD.start, PERIOD.end) == 2  # a1, a5
    assert total("cohort_returned", d(5, 28), d(5, 28)) == 1  # a4, on its ready day


def test_undone_receipt_leaves_no_trace_on_its_day(dataset: DataSet) -> None:
    # a5's mistaken receipt on 28 May added ready and a dispatched sample; the undo took
    # both back. a4's real receipt (Beta, ID) is the only ready document that day.
    rows = DailyFigures.objects.filter(day=d(5, 28), centre=dataset.alpha, service=dataset.id_card)
    assert not rows.exists()


def test_events_after_a_run_are_added_by_the_next(dataset: DataSet) -> None:
    from tms.applications.services import application_hand_over
    from tms.reports.tests.conftest import SYSTEM, at

    application_hand_over(dataset.apps["a10"], actor=SYSTEM, occurred_at=at(d(6, 25)))
    before = selectors.headline(PERIOD, today=TODAY)
    assert before.backlog == 4  # not yet folded in
    summary = rollups_update(settle=timedelta(0))
    assert summary.events == 1
    after = selectors.headline(PERIOD, today=TODAY)
    # a10 collected 7 days after ready: hand-overs 2, 3, 7 days.
    assert after.backlog == 3
    assert after.ready_to_collected == Distribution(3, 3.0, pytest.approx(6.2))  # type: ignore[arg-type]
