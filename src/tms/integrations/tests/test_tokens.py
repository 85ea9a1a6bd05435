"""Agency bearer tokens (SPEC §7): issued once, stored hashed, revocable, expiring,
last use recorded."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tms.integrations.models import AgencyToken
from tms.integrations.tests.conftest import AgencyClient
from tms.integrations.tokens import LAST_USED_RESOLUTION, token_create, token_revoke


def create_token(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_agency_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def assert_unauthenticated(response) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/unauthenticated")
    assert problem["status"] == 401
    assert problem["title"] == "A valid bearer token is required."
    assert problem["instance"] == "/api/v1/agency/services"


@pytest.mark.django_db
def test_the_command_prints_the_token_alone_and_it_authenticates(nrb, id_service):
    out, err = create_token("NRB", "--name", "NRB prod")

    assert err == ""
    assert out.endswith("\n") and out.count("\n") == 1
    plain = out.strip()
    assert plain.startswith("tms_") and " " not in plain and len(plain) >= 40
    token = AgencyToken.objects.get()
    assert (token.agency, token.name, token.expires_at) == (nrb, "NRB prod", None)
    response = AgencyClient(plain).get("services")
    assert response.status_code == 200
    assert [s["code"] for s in response.json()] == ["NRB-ID-NEW"]


@pytest.mark.django_db
def test_the_command_accepts_a_lower_case_agency_code_and_an_expiry(nrb):
    out, _ = create_token("nrb", "--name", "NRB staging", "--expires-in-days", "30")

    token = AgencyToken.objects.get()
    assert token.agency == nrb
    assert token.expires_at is not None
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert token.token_hash == hashlib.sha256(out.strip().encode()).hexdigest()


@pytest.mark.django_db
def test_the_command_refuses_an_unknown_agency(nrb):
    with pytest.raises(CommandError, match="No agency has the code 'XYZ'"):
        create_token("XYZ", "--name", "prod")
    assert not AgencyToken.objects.exists()


@pytest.mark.django_db
def test_the_command_refuses_a_second_token_with_the_same_name(nrb):
    first, _ = create_token("NRB", "--name", "NRB prod")

    with pytest.raises(CommandError, match="NRB already has a token named 'NRB prod'"):
        create_token("NRB", "--name", "NRB prod")

    assert AgencyToken.objects.count() == 1
    assert (
        AgencyToken.objects.get().token_hash == hashlib.sha256(first.strip().encode()).hexdigest()
    )


@pytest.mark.django_db
def test_two_agencies_may_use_the_same_token_name(nrb, kra):
    create_token("NRB", "--name", "prod")
    create_token("KRA", "--name", "prod")
    assert AgencyToken.objects.filter(name="prod").count() == 2


@pytest.mark.django_db
def test_the_plain_token_is_stored_nowhere(nrb, id_service):
    plain = token_create(agency=nrb, name="NRB prod")[1]
    AgencyClient(plain).get("services")  # a use writes last_used_at too

    dump = StringIO()
    call_command("dumpdata", stdout=dump)

    token = AgencyToken.objects.get()
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in dump.getvalue()
    assert plain[4:] not in dump.getvalue()  # nor its random part without the prefix
    assert token.prefix == plain[:12]


@pytest.mark.django_db
def test_requests_without_a_valid_token_get_401_problem_details(nrb_api, nrb_token):
    assert_unauthenticated(AgencyClient(None).get("services"))
    assert_unauthenticated(AgencyClient("tms_" + "x" * 43).get("services"))
    assert_unauthenticated(AgencyClient(nrb_token[:-1]).get("services"))
    assert_unauthenticated(AgencyClient(nrb_token.removeprefix("tms_")).get("services"))
    basic = nrb_api.client.get(
        "/api/v1/agency/services", headers={"Authorization": f"Basic {nrb_token}"}
    )
    assert_unauthenticated(basic)


@pytest.mark.django_db
def test_a_revoked_token_gets_401(nrb_api, nrb):
    assert nrb_api.get("services").status_code == 200

    token_revoke(token=AgencyToken.objects.get(agency=nrb))

    assert_unauthenticated(nrb_api.get("services"))
    assert AgencyToken.objects.get(agency=nrb).revoked_at is not None


@pytest.mark.django_db
def test_an_expired_token_gets_401(nrb, id_service):
    soon = timezone.now() + timedelta(hours=1)
    _, plain = token_create(agency=nrb, name="short-lived", expires_at=soon)
    api = AgencyClient(plain)
    assert api.get("services").status_code == 200

    AgencyToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_unauthenticated(api.get("services"))


@pytest.mark.django_db
def test_revoking_one_token_leaves_the_agencys_other_tokens_working(nrb, id_service):
    old, old_plain = token_create(agency=nrb, name="old")
    _, new_plain = token_create(agency=nrb, name="new")

    token_revoke(token=old)

    assert AgencyClient(old_plain).get("services").status_code == 401
    assert AgencyClient(new_plain).get("services").status_code == 200


@pytest.mark.django_db
def test_the_last_use_is_recorded(nrb_api, nrb):
    token = AgencyToken.objects.get(agency=nrb)
    assert token.last_used_at is None

    before = timezone.now()
    nrb_api.get("centres")

    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at >= before


@pytest.mark.django_db
def test_the_last_use_is_written_at_most_once_a_minute(nrb_api, nrb):
    nrb_api.get("centres")
    first = AgencyToken.objects.get(agency=nrb).last_used_at

    nrb_api.get("centres")
    assert AgencyToken.objects.get(agency=nrb).last_used_at == first

    earlier = timezone.now() - LAST_USED_RESOLUTION - timedelta(seconds=1)
    AgencyToken.objects.update(last_used_at=earlier)
    nrb_api.get("centres")
    used = AgencyToken.objects.get(agency=nrb).last_used_at
    assert used is not None and used > earlier + LAST_USED_RESOLUTION


@pytest.mark.django_db
def test_a_failed_authentication_records_no_use(nrb, id_service):
    token, plain = token_create(agency=nrb, name="revoked")
    token_revoke(token=token)

    AgencyClient(plain).get("services")

    token.refresh_from_db()
    assert token.last_used_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "services"),
        ("get", "centres"),
        ("get", "applications/0000000000000"),
        ("get", "changes?since=2025-01-01T00:00:00Z"),
        ("post", "applications"),
        ("post", "status-updates"),
    ],
)
def test_every_agency_endpoint_needs_a_token(anonymous_api, method, path):
    if method == "get":
        response = anonymous_api.client.get("/api/v1/agency/" + path)
    else:
        response = anonymous_api.post(path, {"items": []})

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/unauthenticated")


@pytest.mark.django_db
def test_a_token_over_its_rate_limit_gets_a_429_problem(nrb_api, kra_api, settings):
    settings.TMS_RATE_AGENCY_TOKEN = "3/m"
    for _ in range(3):
        assert nrb_api.get("centres").status_code == 200

    response = nrb_api.get("centres")

    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/rate-limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert kra_api.get("centres").status_code == 200  # each token has its own allowance
