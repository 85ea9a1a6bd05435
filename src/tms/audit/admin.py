from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tms.audit.models import AuditRecord


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    """Read only: the trail cannot be added to, changed or deleted by hand."""

    list_display = ["at", "actor_label", "action", "application", "centre", "detail", "address"]
    list_filter = ["action", "centre", "agency"]
    search_fields = ["=actor_label"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
