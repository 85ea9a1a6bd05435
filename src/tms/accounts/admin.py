from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from tms.accounts.models import StaffProfile

User = get_user_model()


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    can_delete = False
    extra = 0
    max_num = 1


class StaffUserAdmin(UserAdmin):
    """Users with their staff role and its centre or agency, on one page."""

    inlines = [StaffProfileInline]
    list_display = ["username", "first_name", "last_name", "is_active", "staff_role"]
    list_select_related = ["staff_profile"]

    @admin.display(description="role")
    def staff_role(self, user: User) -> str:  # type: ignore[valid-type]
        profile = getattr(user, "staff_profile", None)
        return profile.get_role_display() if profile else ""


admin.site.unregister(User)
admin.site.register(User, StaffUserAdmin)
