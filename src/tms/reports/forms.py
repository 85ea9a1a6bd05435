"""The reports filter: a period, and the centre, agency and service the staff's scope allows.

The selects list only what the role may pick, so a choice outside the scope is an invalid
choice (HTTP 400), and ``selectors.filters_for`` still forces the scope underneath."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.renderers import BaseRenderer
from django.forms.utils import flatatt
from django.http import QueryDict
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from tms.accounts.roles import AGENCY_ROLES, CENTRE_ROLES
from tms.accounts.scope import Staff
from tms.directory.models import Agency, Centre, Service
from tms.reports import selectors

DEFAULT_PERIOD = "30"
PERIODS = [
    ("7", _("Last 7 days")),
    ("30", _("Last 30 days")),
    ("90", _("Last 90 days")),
    ("custom", _("Chosen dates")),
]
# Two years of daily rollups is already a long read; longer asks are mistakes.
MAX_DAYS = 731
GROUPINGS = [
    ("agency", _("agency")),
    ("service", _("service")),
    ("centre", _("centre")),
]


class DateInput(forms.DateInput):
    input_type = "date"


class LongSelect(forms.Select):
    """Django's select, rendered here in Python: Django renders every option through a
    template of its own, and the dashboard's 310 centres, agencies and services took 36
    of its 110 ms at 50,000 applications. Same markup, attributes and escaping."""

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts = []
        for group, options, _index in widget["optgroups"]:
            shown = format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                ((o["value"], flatatt(o["attrs"]), o["label"]) for o in options),
            )
            parts.append(
                format_html('<optgroup label="{}">{}</optgroup>', group, shown) if group else shown
            )
        return format_html(
            '<select name="{}"{}>{}</select>',
            widget["name"],
            flatatt(widget["attrs"]),
            mark_safe("".join(parts)),  # noqa: S308 - each part made by format_html
        )


class ReportFilterForm(forms.Form):
    period = forms.ChoiceField(label=_("Period"), choices=PERIODS, required=False)
    start = forms.DateField(label=_("From"), required=False, widget=DateInput)
    end = forms.DateField(label=_("To (inclusive)"), required=False, widget=DateInput)
    centre = forms.ModelChoiceField(
        label=_("Centre"),
        queryset=Centre.objects.none(),
        required=False,
        empty_label=_("all centres"),
        widget=LongSelect,
    )
    agency = forms.ModelChoiceField(
        label=_("Agency"),
        queryset=Agency.objects.none(),
        required=False,
        empty_label=_("all agencies"),
        widget=LongSelect,
    )
    service = forms.ModelChoiceField(
        label=_("Service"),
        queryset=Service.objects.none(),
        required=False,
        empty_label=_("all services"),
        widget=LongSelect,
    )
    by = forms.ChoiceField(
        label=_("Turnaround by"), choices=GROUPINGS, required=False, initial="agency"
    )

    def __init__(self, data: QueryDict, *, staff: Staff, today: date) -> None:
        if not data:
            data = QueryDict(f"period={DEFAULT_PERIOD}")
        super().__init__(data)
        self.staff = staff
        self.today = today
        services = Service.objects.select_related("agency").order_by("code")
        # A centre-bound role reports on its own centre, an agency-bound one on its agency:
        # no select to offer there.
        if staff.role in CENTRE_ROLES:
            del self.fields["centre"]
        else:
            self.fields["centre"].queryset = Centre.objects.order_by("name")  # type: ignore[attr-defined]
        if staff.role in AGENCY_ROLES:
            del self.fields["agency"]
            services = services.filter(agency_id=staff.agency_pk)
        else:
            self.fields["agency"].queryset = Agency.objects.order_by("name")  # type: ignore[attr-defined]
        self.fields["service"].queryset = services  # type: ignore[attr-defined]
        self.fields["service"].label_from_instance = (  # type: ignore[attr-defined]
            lambda service: f"{service.code} · {service.name()}"
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        period = cleaned.get("period") or DEFAULT_PERIOD
        cleaned["period"] = period
        cleaned["by"] = cleaned.get("by") or "agency"
        if period != "custom":
            days = int(period)
            cleaned["end"] = self.today
            cleaned["start"] = self.today - timedelta(days=days - 1)
            return cleaned
        start, end = cleaned.get("start"), cleaned.get("end")
        if "start" in self.errors or "end" in self.errors:
            return cleaned
        if start is None or end is None:
            raise ValidationError(_("Chosen dates need both a start and an end."), code="missing")
        if end < start:
            raise ValidationError(_("The end date is before the start date."), code="reversed")
        if (end - start).days + 1 > MAX_DAYS:
            raise ValidationError(
                _("The period is longer than two years; choose a shorter one."), code="too_long"
            )
        return cleaned

    def filters(self) -> selectors.Filters:
        """The validated choice as the selectors' filters (scope forced by ``filters_for``)."""
        data = self.cleaned_data
        centre, agency, service = data.get("centre"), data.get("agency"), data.get("service")
        return selectors.filters_for(
            self.staff,
            start=data["start"],
            end=data["end"],
            centre_id=centre.pk if centre is not None else None,
            agency_id=agency.pk if agency is not None else None,
            service_id=service.pk if service is not None else None,
        )
