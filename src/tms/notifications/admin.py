from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tms.notifications import segments
from tms.notifications.models import (
    Event,
    Message,
    MessageState,
    MessageTemplate,
    SendingPause,
)
from tms.notifications.rendering import (
    UnknownPlaceholder,
    check_template,
    example_values,
    render_text,
)
from tms.notifications.services import message_resend, sending_resume, template_save
from tms.notifications.texts import DEFAULTS, PLACEHOLDERS


def preview_examples() -> str:
    """Example values per event and language, for the editor's live preview."""
    return json.dumps(
        {
            event: {language: example_values(event, language) for language in ("en", "sw")}
            for event in Event.values
        }
    )


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["event", "language", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 5, "cols": 80})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["body"].widget.attrs["data-examples"] = preview_examples()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        event, body = data.get("event"), data.get("body")
        if event and body:
            try:
                check_template(event, body)
            except UnknownPlaceholder as exc:
                raise forms.ValidationError(
                    _("Unknown placeholders: %(names)s. This message may use: %(allowed)s.")
                    % {
                        "names": exc,
                        "allowed": ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS[event])),
                    }
                ) from exc
            rendered = render_text(body, example_values(event, data.get("language", "en")))
            if rendered.segments > 2:
                raise forms.ValidationError(
                    _(
                        "With the longest realistic values this needs %(n)d SMS segments; "
                        "keep it to 2."
                    )
                    % {"n": rendered.segments}
                )
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["event", "language", "updated_at"]
    readonly_fields = ["preview"]
    fields = ["event", "language", "body", "preview"]

    class Media:
        js = ["notifications/segment-counter.js"]

    @admin.display(description=_("preview with the longest realistic values"))
    def preview(self, obj: MessageTemplate | None) -> str:
        if obj is None or not obj.pk:
            return str(_("Save to see the preview; the built-in wordings are listed in the help."))
        rendered = render_text(obj.body, example_values(obj.event, obj.language))
        count = segments.count(rendered.body)
        summary = f"{count.encoding}, {count.units} units, {count.segments} segment(s)"
        return f"{rendered.body}\n\n[{summary}]"

    def save_model(
        self, request: HttpRequest, obj: MessageTemplate, form: Any, change: bool
    ) -> None:
        saved = template_save(event=obj.event, language=obj.language, body=obj.body)
        obj.pk = saved.pk

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        event, language = request.GET.get("event", "ready"), request.GET.get("language", "en")
        return {"event": event, "language": language, "body": DEFAULTS.get((event, language), "")}


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "event", "state", "attempts", "created_at", "sent_at", "failure_reason"]
    list_filter = ["state", "event", "gateway"]
    search_fields = ["=gateway_message_id", "=application__reference"]
    readonly_fields = [f.name for f in Message._meta.fields]
    show_full_result_count = False
    actions = ["resend"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Resend the selected failed or unknown messages"))
    def resend(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        done = 0
        for message in queryset.filter(state__in=[MessageState.FAILED, MessageState.UNKNOWN]):
            message_resend(message=message)
            done += 1
        self.message_user(
            request, _("Messages queued again: %(n)d.") % {"n": done}, messages.SUCCESS
        )


@admin.register(SendingPause)
class SendingPauseAdmin(admin.ModelAdmin):
    list_display = ["reason", "started_at", "resume_at", "resolved_at"]
    readonly_fields = ["reason", "started_at", "resume_at", "resolved_at"]
    actions = ["resume"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Resume sending now"))
    def resume(self, request: HttpRequest, queryset: QuerySet[SendingPause]) -> None:
        sending_resume()
        self.message_user(request, _("Sending resumed."), messages.SUCCESS)
