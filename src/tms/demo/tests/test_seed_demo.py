from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone
from pytest_django.fixtures import Settings

from tms.applications.lifecycle import OPEN, Status
from tms.applications.models import Application, ApplicationEvent
from tms.demo import services
from tms.demo.models import GenerationRun
from tms.demo.tests.consistency import assert_histories_consistent, digest
from tms.directory.models import Agency, Centre, PublicHoliday, Service

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--no-progress", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_the_promised_demo() -> None:
    output = seed()

    assert Centre.objects.count() >= 12
    assert {
        "GPO",
        "CTY",
        "MSA",
        "KSM",
        "NKR",
        "ELD",
        "NYR",
        "MKS",
        "KKG",
        "GRS",
        "KTL",
        "MRU",
    } <= set(Centre.objects.values_list("code", flat=True))
    gpo = Centre.objects.get(code="GPO")
    assert (gpo.name, gpo.county) == ("Huduma Centre GPO", "Nairobi")
    assert gpo.opening_hours == "Mon–Fri 8:00–17:00, Sat 8:00–13:00"
    assert {"NRB", "DIS", "CRS", "DCI", "NTSA", "KRA", "BRS", "SHA"} <= set(
        Agency.objects.values_list("code", flat=True)
    )
    assert Service.objects.count() >= 25
    national_id = Service.objects.get(code="NRB-ID-NEW")
    passport = Service.objects.get(code="DIS-PASS-34")
    assert national_id.reprint_cost_kes == 700
    assert passport.reprint_cost_kes > 5 * national_id.reprint_cost_kes
    assert all(s.name_sw and s.name_sw != s.name_en and s.bring_sw for s in Service.objects.all())

    this_year = timezone.localdate().year
    years = {d.year for d in PublicHoliday.objects.values_list("date", flat=True)}
    assert {this_year - 1, this_year, this_year + 1} <= years

    applications = Application.objects.all()
    assert applications.count() >= 3000
    assert set(applications.values_list("status", flat=True)) == set(Status.values)
    today = timezone.localdate()
    overdue = applications.filter(status__in=OPEN - {Status.READY}, due_date__lt=today)
    assert overdue.count() >= 10
    months_ago = timezone.now() - timedelta(days=60)
    assert applications.filter(status=Status.READY, ready_at__lt=months_ago).count() >= 10
    oldest = applications.order_by("lodged_at").first()
    assert oldest is not None
    assert (today - timezone.localdate(oldest.lodged_at)).days >= 170
    swahili = applications.filter(language="sw").count() / applications.count()
    assert 0.25 < swahili < 0.35

    assert assert_histories_consistent(applications) == applications.count()

    admin = get_user_model().objects.filter(username="admin").first()
    assert admin is not None and admin.check_password("demo-admin-2026")
    assert admin is not None and admin.is_superuser and admin.is_staff
    assert "admin / demo-admin-2026" in output


def test_seed_demo_twice_changes_nothing_and_is_reproducible() -> None:
    seed()
    first = digest(Application.objects.all())
    counts = (
        Application.objects.count(),
        ApplicationEvent.objects.count(),
        get_user_model().objects.count(),
        Centre.objects.count(),
        Service.objects.count(),
        PublicHoliday.objects.count(),
    )

    output = seed()

    assert "none added" in output
    assert digest(Application.objects.all()) == first
    assert counts == (
        Application.objects.count(),
        ApplicationEvent.objects.count(),
        get_user_model().objects.count(),
        Centre.objects.count(),
        Service.objects.count(),
        PublicHoliday.objects.count(),
    )

    # From scratch again: the same applications and histories (ids aside).
    ApplicationEvent.objects.all().delete()
    Application.objects.all().delete()
    GenerationRun.objects.all().delete()
    seed()
    assert digest(Application.objects.all()) == first


def test_seed_demo_resets_the_admin_password() -> None:
    seed()
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("something-else-entirely")
    admin.is_superuser = False
    admin.save()

    seed()

    assert get_user_model().objects.get(username="admin").check_password("demo-admin-2026")
    assert get_user_model().objects.get(username="admin").is_superuser


def test_seed_demo_refuses_production(settings: Settings) -> None:
    settings.IS_PRODUCTION = True
    with pytest.raises(CommandError, match="never in production"):
        seed()
    assert not Application.objects.exists()


def test_demo_logins_include_the_administrator() -> None:
    assert services.DEMO_ADMIN in services.demo_logins()
