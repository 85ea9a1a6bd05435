import pytest

from tms.notifications.models import DeliveryReport

URL = "/callbacks/africastalking/delivery"


@pytest.mark.django_db
def test_a_report_for_an_unknown_id_is_kept_and_answered_200(client):
    response = client.post(
        URL,
        {
            "id": "ATXid_nobody",
            "status": "Success",
            "phoneNumber": "+254711000111",
            "networkCode": "63902",
        },
    )

    assert response.status_code == 200
    report = DeliveryReport.objects.get()
    assert report.message is None and report.network_code == "63902"


@pytest.mark.django_db
def test_the_callback_token_is_required_when_configured(client, settings):
    settings.TMS_AT_CALLBACK_TOKEN = "s3cret-token"

    assert client.post(URL, {"id": "x", "status": "Success"}).status_code == 403
    assert client.post(URL + "?token=wrong", {"id": "x", "status": "Success"}).status_code == 403
    assert DeliveryReport.objects.count() == 0
    assert (
        client.post(URL + "?token=s3cret-token", {"id": "x", "status": "Success"}).status_code
        == 200
    )


@pytest.mark.django_db
def test_a_malformed_report_is_refused_without_a_server_error(client):
    assert client.post(URL, {}).status_code == 400
    assert client.get(URL).status_code == 405
