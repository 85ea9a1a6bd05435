import pytest

from tms.notifications import segments
from tms.notifications.models import Event
from tms.notifications.rendering import check_template, example_values, render_text
from tms.notifications.texts import DEFAULTS


@pytest.mark.django_db
@pytest.mark.parametrize("event", [e.value for e in Event])
@pytest.mark.parametrize("language", ["en", "sw"])
def test_every_text_fits_two_segments_with_the_longest_realistic_values(event, language):
    body = DEFAULTS[(event, language)]
    check_template(event, body)  # uses only the placeholders the event provides

    rendered = render_text(body, example_values(event, language))

    assert "{" not in rendered.body
    assert "..." not in rendered.body, "the built-in text should fit without shortening"
    assert segments.count(rendered.body).segments <= 2
    assert rendered.encoding == "GSM-7", segments.non_gsm_characters(rendered.body)


@pytest.mark.django_db
def test_long_free_text_is_shortened_to_fit_instead_of_spilling_into_a_third_segment():
    note = "Bring your parents' ID cards and the original birth certificate. " * 6
    values = {**example_values(Event.ACTION_REQUIRED, "en"), "note": note}

    rendered = render_text(DEFAULTS[(Event.ACTION_REQUIRED, "en")], values)

    assert rendered.segments == 2
    assert "..." in rendered.body
    assert rendered.body.endswith("Sat 8:00-13:00.")  # the centre's hours survive
