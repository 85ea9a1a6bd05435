"""Test data builders. Every builder goes through the real services where one exists."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

from tms.applications.models import Application
from tms.applications.services import Actor, application_lodge
from tms.directory.models import Agency, Centre, Service
from tms.directory.services import agency_upsert, centre_upsert, service_upsert

_counter = itertools.count(1)


def make_agency(code: str | None = None, **fields: Any) -> Agency:
    code = code or f"AG{next(_counter)}"
    return agency_upsert(code=code, **{"name": f"Agency {code}", **fields})


def make_centre(code: str | None = None, **fields: Any) -> Centre:
    code = code or f"C{next(_counter)}"
    defaults = {
        "name": f"Huduma Centre {code}",
        "county": "Nairobi",
        "address": "Moi Avenue, Nairobi",
        "opening_hours": "Mon–Fri 8:00–17:00",
        "phone": "+254200000000",
    }
    return centre_upsert(code=code, **{**defaults, **fields})


def make_service(code: str | None = None, agency: Agency | None = None, **fields: Any) -> Service:
    code = code or f"SV{next(_counter)}"
    defaults = {
        "name_en": f"Service {code}",
        "name_sw": f"Huduma {code}",
        "turnaround_days": 10,
        "retention_days": 90,
        "reprint_cost_kes": Decimal("700"),
        "bring_en": "Your lodging slip",
        "bring_sw": "Stakabadhi yako",
    }
    return service_upsert(code=code, agency=agency or make_agency(), **{**defaults, **fields})


def lodge(
    *,
    service: Service | None = None,
    centre: Centre | None = None,
    phone: str = "0712345678",
    name: str = "Wanjiku Kamau",
    lodged_at: datetime | None = None,
    actor: Actor | None = None,
    **fields: Any,
) -> Application:
    return application_lodge(
        service=service or make_service(),
        centre=centre or make_centre(),
        applicant_name=name,
        applicant_phone=phone,
        actor=actor or Actor.system("test"),
        lodged_at=lodged_at,
        **fields,
    )
