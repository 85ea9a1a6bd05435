import pytest

from tms.applications.references import display, with_check_digit
from tms.testing.builders import lodge


@pytest.mark.django_db
def test_the_status_as_json(client):
    application = lodge(name="Otieno Odhiambo")

    response = client.get(f"/api/v1/track/{display(application.reference).replace(' ', '-')}")

    data = response.json()
    assert response.status_code == 200
    assert data["reference"] == application.reference
    assert data["status"] == "lodged" and data["status_label"] == "Lodged"
    assert data["applicant"] == "O*** O***"
    assert data["timeline"][0]["status"] == "lodged"
    assert data["estimate"]["from_recent_history"] is False
    assert "Otieno" not in response.content.decode()


@pytest.mark.django_db
def test_labels_follow_the_requested_language(client):
    application = lodge()
    data = client.get(f"/api/v1/track/{application.reference}", {"lang": "sw"}).json()
    assert data["status_label"] == "Limepokelewa"


@pytest.mark.django_db
def test_errors_are_problem_details(client):
    valid = with_check_digit("123456789012")
    typo = client.get(f"/api/v1/track/{valid[:-1]}{(int(valid[-1]) + 1) % 10}")
    unknown = client.get(f"/api/v1/track/{with_check_digit('123456789012')}")

    assert typo.status_code == 400
    assert typo["Content-Type"] == "application/problem+json"
    assert typo.json()["type"].endswith("/reference-typing-error")
    assert unknown.status_code == 404 and unknown.json()["status"] == 404


@pytest.mark.django_db
def test_conditional_requests_get_304(client):
    application = lodge()
    first = client.get(f"/api/v1/track/{application.reference}")
    again = client.get(f"/api/v1/track/{application.reference}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


@pytest.mark.django_db
def test_the_openapi_description_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/v1/openapi.json").json()
    docs = client.get("/api/v1/docs").content.decode()

    assert "/api/v1/track/{reference}" in schema["paths"]
    assert "/api/v1/track/lost-reference" in schema["paths"]
    assert "cdn" not in docs.lower()
