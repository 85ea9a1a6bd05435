"""Administrators issue and revoke tokens, register webhook endpoints and read the
delivery log, which nobody can change."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from tms.applications.services import Actor, application_acknowledge_receipt
from tms.integrations.models import AgencyToken, WebhookDelivery, WebhookEndpoint
from tms.integrations.tests.conftest import AgencyClient
from tms.integrations.tokens import token_create
from tms.integrations.webhooks import endpoint_create
from tms.testing.builders import lodge

TOKEN_PATTERN = re.compile(r"tms_[A-Za-z0-9_-]{40,}")


@pytest.fixture
def delivery(nrb, id_service, gpo) -> WebhookDelivery:
    endpoint_create(agency=nrb, url="https://hooks.nrb.go.ke/tms")
    application = lodge(service=id_service, centre=gpo, applicant_id_number="12345678")
    application_acknowledge_receipt(application, actor=Actor.system("test"))
    return WebhookDelivery.objects.get()


# --- Tokens ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_new_token_is_shown_once_and_works(admin_browser, nrb, id_service):
    response = admin_browser.post(
        reverse("admin:integrations_agencytoken_add"),
        {"agency": nrb.pk, "name": "NRB prod", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )

    assert response.status_code == 200
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    tokens = [match for text in shown for match in TOKEN_PATTERN.findall(text)]
    assert len(tokens) == 1, shown
    [plain] = tokens
    token = AgencyToken.objects.get()
    assert (token.agency, token.name) == (nrb, "NRB prod")
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert AgencyClient(plain).get("services").status_code == 200

    # Never again: not in the list, not on the token's own page.
    changelist = admin_browser.get(reverse("admin:integrations_agencytoken_changelist"))
    page = admin_browser.get(reverse("admin:integrations_agencytoken_change", args=[token.pk]))
    for later in (changelist, page):
        assert later.status_code == 200
        assert plain not in later.content.decode()
        assert token.token_hash not in later.content.decode()
    assert token.prefix in changelist.content.decode()  # enough to tell tokens apart


@pytest.mark.django_db
def test_a_duplicate_token_name_is_a_form_error(admin_browser, nrb):
    token_create(agency=nrb, name="NRB prod")

    response = admin_browser.post(
        reverse("admin:integrations_agencytoken_add"),
        {"agency": nrb.pk, "name": "NRB prod", "expires_at_0": "", "expires_at_1": ""},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert AgencyToken.objects.count() == 1


@pytest.mark.django_db
def test_tokens_are_revoked_from_the_list(admin_browser, nrb_api, nrb):
    token = AgencyToken.objects.get(agency=nrb)

    response = admin_browser.post(
        reverse("admin:integrations_agencytoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )

    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert nrb_api.get("services").status_code == 401


@pytest.mark.django_db
def test_a_token_cannot_be_edited(admin_browser, nrb_api, nrb):
    token = AgencyToken.objects.get(agency=nrb)
    url = reverse("admin:integrations_agencytoken_change", args=[token.pk])

    page = admin_browser.get(url)
    admin_browser.post(url, {"agency": nrb.pk, "name": "renamed"})

    assert 'name="_save"' not in page.content.decode()
    assert AgencyToken.objects.get().name == "NRB prod"


# --- Webhook endpoints -------------------------------------------------------------------


@pytest.mark.django_db
def test_an_endpoint_is_registered_with_a_generated_secret(admin_browser, nrb):
    response = admin_browser.post(
        reverse("admin:integrations_webhookendpoint_add"),
        {"agency": nrb.pk, "url": "https://hooks.nrb.go.ke/tms", "is_active": "on"},
    )

    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url == "https://hooks.nrb.go.ke/tms" and len(endpoint.secret) >= 32


@pytest.mark.django_db
def test_a_plain_http_endpoint_is_a_form_error(admin_browser, nrb):
    response = admin_browser.post(
        reverse("admin:integrations_webhookendpoint_add"),
        {"agency": nrb.pk, "url": "http://hooks.nrb.go.ke/tms", "is_active": "on"},
    )

    assert response.status_code == 200
    assert "Webhook URLs must use HTTPS." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


# --- The delivery log ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_delivery_log_lists_deliveries(admin_browser, delivery):
    response = admin_browser.get(reverse("admin:integrations_webhookdelivery_changelist"))

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [delivery]
    assert "application.ready" in response.content.decode()


@pytest.mark.django_db
def test_the_delivery_log_is_read_only(admin_browser, delivery):
    change_url = reverse("admin:integrations_webhookdelivery_change", args=[delivery.pk])

    page = admin_browser.get(change_url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_browser.post(change_url, {"state": "delivered"}).status_code == 403
    assert admin_browser.get(reverse("admin:integrations_webhookdelivery_add")).status_code == 403
    delete_url = reverse("admin:integrations_webhookdelivery_delete", args=[delivery.pk])
    assert admin_browser.post(delete_url, {"post": "yes"}).status_code == 403
    changelist = admin_browser.get(reverse("admin:integrations_webhookdelivery_changelist"))
    assert "delete_selected" not in changelist.content.decode()

    stored = WebhookDelivery.objects.get()
    assert (stored.state, stored.attempts) == (delivery.state, delivery.attempts)
