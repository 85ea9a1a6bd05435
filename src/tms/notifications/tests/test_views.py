import pytest

from tms.applications.references import display
from tms.notifications.models import Message, MessageState
from tms.testing.builders import lodge


@pytest.fixture
def staff_client(admin_browser):
    return admin_browser


@pytest.mark.django_db
def test_the_outbox_is_for_staff_only(client):
    response = client.get("/staff/sms/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/sign-in/")


@pytest.mark.django_db
def test_the_outbox_shows_one_applications_messages_by_its_reference(staff_client):
    mine = lodge(name="Achieng Otieno")
    lodge(name="Someone Else", phone="0733000444")

    response = staff_client.get("/staff/sms/", {"reference": display(mine.reference)})

    page = list(response.context["page"])
    assert [message.application_id for message in page] == [mine.pk]
    assert display(mine.reference) in response.content.decode()


@pytest.mark.django_db
def test_a_mistyped_reference_is_told_as_a_typing_error(staff_client):
    application = lodge()
    mistyped = application.reference[:-1] + str((int(application.reference[-1]) + 1) % 10)

    response = staff_client.get("/staff/sms/", {"reference": mistyped})

    assert response.context["reference_error"].startswith("This reference has a typing error")
    assert list(response.context["page"]) == []


@pytest.mark.django_db
def test_a_failed_message_is_sent_again_in_one_click(staff_client):
    lodge()
    message = Message.objects.get()
    Message.objects.filter(pk=message.pk).update(state=MessageState.FAILED, failure_reason="x")

    response = staff_client.post(
        f"/staff/sms/{message.pk}/resend", {"next": "/staff/sms/?state=failed"}
    )

    assert response.status_code == 302 and response["Location"] == "/staff/sms/?state=failed"
    message.refresh_from_db()
    assert message.state in {MessageState.QUEUED, MessageState.SENT}
    assert message.attempts in {0, 1}


@pytest.mark.django_db
def test_a_delivered_message_cannot_be_resent(staff_client):
    lodge()
    message = Message.objects.get()
    Message.objects.filter(pk=message.pk).update(state=MessageState.DELIVERED)

    staff_client.post(f"/staff/sms/{message.pk}/resend", {"next": "https://evil.example/"})

    assert Message.objects.get().state == MessageState.DELIVERED
