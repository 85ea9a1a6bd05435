"""The filter form's selects: rendered in Python, they must be Django's own select."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.test.html import parse_html

from tms.directory.models import Centre
from tms.reports.forms import LongSelect
from tms.testing.builders import make_centre

pytestmark = pytest.mark.django_db


def pair(field: type[forms.Field], **options: Any) -> tuple[type[forms.Form], type[forms.Form]]:
    """The same form twice: with Django's select, and with ``LongSelect``."""
    django_form = type("DjangoForm", (forms.Form,), {"choice": field(**options)})
    long_form = type("LongForm", (forms.Form,), {"choice": field(widget=LongSelect, **options)})
    return django_form, long_form


def rendered(form: forms.Form) -> str:
    return str(form["choice"])


@pytest.mark.parametrize("data", [None, {}, {"choice": "PICK"}, {"choice": "999999"}])
def test_a_model_select_renders_as_djangos(data: dict[str, str] | None) -> None:
    make_centre(name='Huduma <Centre> "Alpha" & Co')
    picked = make_centre(name="Beta")
    if data and data["choice"] == "PICK":
        data = {"choice": str(picked.pk)}
    django_form, long_form = pair(
        forms.ModelChoiceField,
        queryset=Centre.objects.order_by("name"),
        required=data == {},
        empty_label="all <centres>",
    )
    ours, theirs = long_form(data), django_form(data)
    if data is not None:
        assert ours.is_valid() == theirs.is_valid()  # errors (aria-invalid) when invalid
    html = rendered(ours)
    assert parse_html(html) == parse_html(rendered(theirs))
    assert "&lt;Centre&gt; &quot;Alpha&quot; &amp; Co" in html
    assert "<Centre>" not in html
    if data and data.get("choice") == str(picked.pk):
        assert f'<option value="{picked.pk}" selected>' in html


def test_groups_render_as_djangos() -> None:
    choices = [("", "any"), ("East", [("1", "Embu"), ("2", "Meru")]), ("3", "Nairobi <GPO>")]
    django_form, long_form = pair(forms.ChoiceField, choices=choices, required=False)
    for data in (None, {"choice": "2"}):
        html = rendered(long_form(data))
        assert parse_html(html) == parse_html(rendered(django_form(data)))
        assert '<optgroup label="East">' in html
