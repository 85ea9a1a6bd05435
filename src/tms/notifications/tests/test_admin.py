import pytest

from tms.notifications.models import Event, Message, MessageTemplate
from tms.testing.builders import lodge

ADD = "/admin/notifications/messagetemplate/add/"


@pytest.fixture
def admin_client(admin_browser):
    return admin_browser


@pytest.mark.django_db
def test_the_editor_starts_from_the_built_in_wording_with_a_live_counter(admin_client):
    response = admin_client.get(ADD, {"event": "ready", "language": "sw"})

    html = response.content.decode()
    assert "segment-counter.js" in html
    assert "iko TAYARI" in html


@pytest.mark.django_db
def test_an_unknown_placeholder_is_refused_by_name(admin_client):
    response = admin_client.post(
        ADD, {"event": "ready", "language": "en", "body": "Hi {name}, ready."}
    )

    assert response.status_code == 200
    assert "Unknown placeholders: {name}" in response.content.decode()
    assert MessageTemplate.objects.count() == 0


@pytest.mark.django_db
def test_a_text_that_would_need_three_segments_is_refused(admin_client):
    body = "Your {service} is ready at {centre}. " + "Please come soon. " * 15

    response = admin_client.post(ADD, {"event": "ready", "language": "en", "body": body})

    assert "keep it to 2" in response.content.decode()
    assert MessageTemplate.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_saved_wording_is_used_for_the_next_message(admin_client):
    response = admin_client.post(
        ADD, {"event": "lodged", "language": "en", "body": "Lodged: {service}, ref {reference}."}
    )
    assert response.status_code == 302

    application = lodge()

    body = Message.objects.get(application=application, event=Event.LODGED).body
    assert body.startswith("Lodged: ")
