from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tms.accounts.menu import menu_for


def staff_menu(request: HttpRequest) -> dict[str, Any]:
    """The menu, on pages that a verified staff member opened (``staff_required`` set it)."""
    staff = getattr(request, "staff", None)
    return {"staff_menu": menu_for(staff) if staff is not None else []}
