from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tms.applications.services import Actor, application_acknowledge_receipt
from tms.testing.builders import lodge, make_centre, make_service
from tms.tracking.models import ServiceEstimate
from tms.tracking.selectors import MIN_CASES_FOR_ESTIMATE, estimate_for
from tms.tracking.services import estimates_refresh


def ready_after(service, centre, working_days: int, lodged: datetime):
    application = lodge(service=service, centre=centre, lodged_at=lodged)
    # Mondays + n days stay within one week for n <= 4, so calendar days = working days.
    return application_acknowledge_receipt(
        application, actor=Actor.system(), occurred_at=lodged + timedelta(days=working_days)
    )


@pytest.mark.django_db
def test_the_estimate_comes_from_recent_history_when_there_are_enough_cases():
    service, centre = make_service(turnaround_days=10), make_centre()
    monday = datetime(2026, 11, 2, 9, tzinfo=UTC)  # recent, and a Monday
    for n in range(MIN_CASES_FOR_ESTIMATE):
        ready_after(service, centre, 1 + n % 4, monday - timedelta(weeks=n % 4))

    kept = estimates_refresh()

    estimate = ServiceEstimate.objects.get()
    assert kept == 1
    assert estimate.cases == MIN_CASES_FOR_ESTIMATE
    assert estimate.p80_working_days == 4  # durations 1,2,3,4 equally often: p80 is 4
    waiting = lodge(service=service, centre=centre)
    result = estimate_for(waiting)
    assert result is not None and result.from_history and result.working_days == 4
    assert "Most applications like yours are ready within 4 working days" in result.basis


@pytest.mark.django_db
def test_too_few_cases_fall_back_to_the_promise():
    service, centre = make_service(turnaround_days=7), make_centre()
    ready_after(service, centre, 2, timezone.now() - timedelta(days=10))

    estimates_refresh()
    waiting = lodge(service=service, centre=centre)

    result = estimate_for(waiting)
    assert ServiceEstimate.objects.count() == 0
    assert result is not None and not result.from_history
    assert result.ready_by == waiting.due_date
    assert "promises this service within 7 working days" in result.basis


@pytest.mark.django_db
def test_a_ready_application_has_no_estimate():
    application = lodge()
    application_acknowledge_receipt(application, actor=Actor.system())
    assert estimate_for(application) is None
