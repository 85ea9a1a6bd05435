import pytest

from tms.notifications.models import Event, Message
from tms.testing.builders import lodge


@pytest.mark.django_db
def test_the_answer_is_the_same_whether_or_not_applications_exist(client):
    application = lodge(phone="0712000999")
    Message.objects.all().delete()

    known = client.post("/track/lost/", {"phone": "0712 000 999"})
    unknown = client.post("/track/lost/", {"phone": "0712 000 111"})

    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    reply = Message.objects.get()
    assert reply.event == Event.REPLY and reply.to == "+254712000999"
    assert application.reference[:4] in reply.body


@pytest.mark.django_db
def test_the_api_answers_202_either_way(client):
    lodge(phone="0712000999")
    known = client.post(
        "/api/v1/track/lost-reference", {"phone": "0712000999"}, content_type="application/json"
    )
    unknown = client.post(
        "/api/v1/track/lost-reference", {"phone": "0712000111"}, content_type="application/json"
    )

    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()


@pytest.mark.django_db
def test_a_malformed_number_is_refused_clearly(client):
    response = client.post("/track/lost/", {"phone": "07abc"})
    assert response.status_code == 400
    assert "valid mobile phone number" in response.content.decode()
