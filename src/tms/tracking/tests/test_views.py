from datetime import timedelta

import pytest
from django.utils import timezone

from tms.applications.references import display
from tms.applications.services import Actor, application_acknowledge_receipt
from tms.testing.builders import lodge, make_centre, make_service


@pytest.fixture
def application():
    service = make_service(name_en="Passport (32 pages)", name_sw="Pasipoti (kurasa 32)")
    centre = make_centre(
        "GPO", name="Huduma Centre GPO", opening_hours_sw="Jtatu–Ijumaa 8:00–17:00"
    )
    return lodge(service=service, centre=centre, name="Wanjiku Kamau", phone="0712345678")


@pytest.mark.django_db
def test_the_form_works_without_javascript(client):
    html = client.get("/track/").content.decode()
    assert '<form method="get" action="/track/"' in html
    assert '<label for="ref">' in html
    assert "<script" not in html


@pytest.mark.django_db
def test_a_reference_with_spaces_shows_the_status_and_no_personal_data(client, application):
    response = client.get("/track/", {"ref": display(application.reference)})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Lodged" in html and "Passport (32 pages)" in html and "Huduma Centre GPO" in html
    assert "W*** K***" in html
    assert "Wanjiku" not in html and "712345678" not in html
    assert "promises this service within 10 working days" in html


@pytest.mark.django_db
def test_a_typing_error_is_told_apart_from_an_unknown_reference(client, application):
    ref = application.reference
    mistyped = ref[:3] + ref[4] + ref[3] + ref[5:]  # neighbouring digits swapped
    if mistyped == ref:
        mistyped = ref[:-1] + str((int(ref[-1]) + 1) % 10)
    typo = client.get("/track/", {"ref": mistyped})
    unknown_digits = "100000000000"
    from tms.applications.references import with_check_digit

    unknown = client.get("/track/", {"ref": with_check_digit(unknown_digits)})

    assert typo.status_code == 400
    assert "typing error" in typo.content.decode()
    assert unknown.status_code == 404
    assert "found no application" in unknown.content.decode()


@pytest.mark.django_db
def test_swahili_is_chosen_by_a_remembered_link(client, application):
    switch = client.get("/lang/sw/", {"next": f"/track/?ref={application.reference}"})
    assert switch.status_code == 302
    assert switch["Location"] == f"/track/?ref={application.reference}"

    html = client.get(switch["Location"]).content.decode()

    assert 'lang="sw"' in html
    assert "Pasipoti (kurasa 32)" in html
    assert "Jtatu–Ijumaa 8:00–17:00" in html
    assert "Limepokelewa" in html


@pytest.mark.django_db
def test_the_language_switch_refuses_to_redirect_elsewhere(client):
    response = client.get("/lang/en/", {"next": "https://evil.example/"})
    assert response["Location"] == "/track/"


@pytest.mark.django_db
def test_status_pages_honour_conditional_requests(client, application):
    first = client.get("/track/", {"ref": application.reference})
    etag = first["ETag"]

    again = client.get("/track/", {"ref": application.reference}, HTTP_IF_NONE_MATCH=etag)
    application_acknowledge_receipt(application, actor=Actor.system())
    changed = client.get("/track/", {"ref": application.reference}, HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert changed.status_code == 200 and changed["ETag"] != etag


@pytest.mark.django_db
def test_a_ready_document_says_where_to_collect_and_what_to_bring(client, application):
    application_acknowledge_receipt(application, actor=Actor.system())

    html = client.get("/track/", {"ref": application.reference}).content.decode()

    assert "Ready for collection" in html and "Where to collect it" in html
    assert "Your lodging slip" in html


@pytest.mark.django_db
def test_the_result_page_is_light(client, application):
    page = client.get("/track/", {"ref": application.reference})
    css = client.get("/static/tms/site.css")
    weight = len(page.content) + len(b"".join(css.streaming_content))
    assert weight < 30 * 1024, weight


@pytest.mark.django_db
def test_an_overdue_application_can_raise_one_query_a_week(client):
    late = lodge(
        service=make_service(turnaround_days=2), lodged_at=timezone.now() - timedelta(days=30)
    )

    page = client.get("/track/", {"ref": late.reference}).content.decode()
    assert "Ask the centre what is happening" in page
    first = client.post(f"/track/{late.reference}/query")
    second = client.post(f"/track/{late.reference}/query")

    assert "has reached the centre" in first.content.decode()
    assert "already asked" in second.content.decode()
    assert late.queries.count() == 1
    assert "raised this week" in client.get("/track/", {"ref": late.reference}).content.decode()
