from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tms.applications import references
from tms.applications.models import Application, ApplicationEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Applications change only through the lifecycle services; history never changes."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


EVENT_FIELDS = (
    "version", "action", "from_status", "to_status", "occurred_at", "recorded_at",
    "actor_kind", "actor_label", "channel", "address", "note",
)  # fmt: skip


class EventInline(admin.TabularInline):
    model = ApplicationEvent
    fields = EVENT_FIELDS
    readonly_fields = EVENT_FIELDS
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = [
        "grouped_reference", "service", "centre", "status", "lodged_at", "due_date", "ready_at",
    ]  # fmt: skip
    list_filter = ["status", "agency", "centre"]
    list_select_related = ["service", "centre"]
    search_fields = ["=reference", "=agency_ref"]
    show_full_result_count = False  # counting millions of rows on every page is slow
    inlines = [EventInline]

    @admin.display(description=_("reference"), ordering="reference")
    def grouped_reference(self, obj: Application) -> str:
        return references.display(obj.reference)

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        # People paste references with spaces; search by the digits.
        if references.is_well_formed(search_term):
            search_term = references.parse(search_term)
        return super().get_search_results(request, queryset, search_term)
