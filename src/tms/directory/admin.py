from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from tms.directory.models import Agency, Centre, PublicHoliday, Service


class ServiceInline(admin.TabularInline):
    model = Service
    fields = ["code", "name_en", "turnaround_days", "retention_days", "reprint_cost_kes"]
    extra = 0
    show_change_link = True


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "contact_name", "contact_email", "contact_phone"]
    search_fields = ["code", "name"]
    inlines = [ServiceInline]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = [
        "code", "name_en", "agency", "turnaround_days", "retention_days",
        "reprint_cost_kes", "is_active",
    ]  # fmt: skip
    list_filter = ["agency", "is_active", "requires_id_number"]
    search_fields = ["code", "name_en", "name_sw"]
    list_select_related = ["agency"]
    fieldsets = [
        (None, {"fields": ["agency", "code", "name_en", "name_sw", "is_active"]}),
        (
            _("Promises to the citizen"),
            {"fields": ["turnaround_days", "retention_days", "reprint_cost_kes"]},
        ),
        (
            _("Collection"),
            {"fields": ["requires_id_number", "handover_code_required", "bring_en", "bring_sw"]},
        ),
    ]


@admin.register(Centre)
class CentreAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "county", "opening_hours", "phone", "is_active"]
    list_filter = ["county", "is_active"]
    search_fields = ["code", "name", "address"]


@admin.register(PublicHoliday)
class PublicHolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "name"]
    date_hierarchy = "date"
    search_fields = ["name"]
