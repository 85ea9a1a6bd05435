"""Counter forms: input shape only. The rules (and their messages) live in the services."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from tms.applications.models import Language
from tms.counter.models import CollectorKind
from tms.counter.selectors import SearchKind
from tms.directory.models import Service

TOKEN_MAX_AGE = 12 * 3600  # a working day: a form left open over lunch still works


def lodge_token_issue(user_id: int) -> str:
    """A one-time token for one lodging form, bound to the officer who opened it."""
    return signing.dumps(secrets.token_urlsafe(16), salt=f"counter-lodge:{user_id}")


def lodge_token_read(token: str, user_id: int) -> str | None:
    """The token's nonce, or None if it is forged, another officer's, or too old."""
    try:
        nonce = signing.loads(token, salt=f"counter-lodge:{user_id}", max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    return nonce if isinstance(nonce, str) else None


class ServiceChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        name = obj.name(get_language())
        if obj.requires_id_number:
            return _("%(service)s (ID number needed)") % {"service": name}
        return str(name)


def set_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form, by field where the form has it."""
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            form.add_error(None, message)
        return
    for field, messages in error.message_dict.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


class LodgeForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)
    service = ServiceChoice(
        label=gettext_lazy("Service"),
        queryset=Service.objects.filter(is_active=True).order_by("name_en"),
        empty_label=gettext_lazy("Choose a service"),
    )
    applicant_name = forms.CharField(
        label=gettext_lazy("Citizen's full name"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    applicant_phone = forms.CharField(
        label=gettext_lazy("Citizen's mobile phone"),
        max_length=32,
        help_text=gettext_lazy("SMS about the application go to this number."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    applicant_id_number = forms.CharField(
        label=gettext_lazy("ID or birth certificate number"),
        max_length=32,
        required=False,
        help_text=gettext_lazy(
            "Required for services marked “ID number needed”; checked again at collection."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    language = forms.ChoiceField(
        label=gettext_lazy("Language for SMS"),
        choices=Language.choices,
        initial=Language.ENGLISH,
        widget=forms.RadioSelect,
    )
    representative_name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    representative_phone = forms.CharField(
        label=gettext_lazy("Mobile phone"),
        max_length=32,
        required=False,
        help_text=gettext_lazy("They get the same SMS as the citizen."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )


class SearchForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Search by"), choices=SearchKind.choices, initial=SearchKind.REFERENCE
    )
    q = forms.CharField(
        label=gettext_lazy("Search for"),
        max_length=64,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )


class HandoverForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    collector = forms.ChoiceField(
        label=gettext_lazy("Who is collecting?"),
        choices=CollectorKind.choices,
        initial=CollectorKind.CITIZEN,
        widget=forms.RadioSelect,
    )
    citizen_id_number = forms.CharField(
        label=gettext_lazy("Citizen's ID or birth certificate number, as on the document shown"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    delegate_name = forms.CharField(
        label=gettext_lazy("Delegate's full name"), max_length=200, required=False
    )
    delegate_id_number = forms.CharField(
        label=gettext_lazy("Delegate's ID number"), max_length=32, required=False
    )
    relationship = forms.CharField(
        label=gettext_lazy("Relationship to the citizen"),
        max_length=60,
        required=False,
        help_text=gettext_lazy("e.g. parent, spouse, employer"),
    )
    code = forms.CharField(
        label=gettext_lazy("Code the citizen received by SMS"),
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
