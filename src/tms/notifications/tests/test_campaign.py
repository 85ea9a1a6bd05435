"""A campaign renders each text once and puts each reference in: the messages must be
exactly what rendering each one whole gives, including when a value must be shortened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tms.notifications.models import Event
from tms.notifications.reminders import Campaign, campaign_row
from tms.notifications.rendering import render
from tms.testing.builders import lodge, make_centre, make_service

pytestmark = pytest.mark.django_db
LONG_NOTE = "Bring two passport photos and a letter from your area chief. " * 4


def _lodge_many(centre, count=5, **fields):
    service = make_service(name_en="Passport", name_sw="Pasipoti")
    yesterday = timezone.now() - timedelta(days=1)
    return [
        lodge(
            service=service,
            centre=centre,
            phone=f"07120000{n:02d}",
            lodged_at=yesterday,
            language="sw" if n % 2 else "en",
            **fields,
        )
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("event", "values"),
    [(Event.READY, {}), (Event.ACTION_REQUIRED, {"note": LONG_NOTE})],
)
def test_a_campaign_writes_what_rendering_each_message_whole_writes(event, values):
    applications = _lodge_many(make_centre(name="Huduma Centre Nairobi GPO (Teleposta Towers)"))
    campaign = Campaign(timezone.now())

    for application in applications:
        message = campaign.message(campaign_row(application), event, f"k{application.pk}", **values)
        whole = render(event, application, **values)
        assert (message.body, message.segments, message.encoding) == (
            whole.body,
            whole.segments,
            whole.encoding,
        )
        assert application.reference[:4] in message.body
    # Rendered once per language, each reference put in afterwards.
    assert len(campaign._rendered) == 2
    assert all(text is not None for text in campaign._rendered.values())


def test_a_value_holding_the_stand_in_character_renders_each_message_whole():
    applications = _lodge_many(make_centre(name="Huduma § Centre"), count=3)
    campaign = Campaign(timezone.now())

    for application in applications:
        message = campaign.message(campaign_row(application), Event.READY, "k")
        assert message.body == render(Event.READY, application).body
        assert "Huduma § Centre" in message.body
    assert set(campaign._rendered.values()) == {None}
