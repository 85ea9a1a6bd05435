"""Reference data for the demo and for the scale design point (SPEC §12).

``DEMO_*`` are the centres, agencies and services a visitor of the demo sees:
real Kenyan institutions and documents, with plausible addresses, turnaround
and costs (illustrative figures, not official tariffs). ``design_point_*`` add
county centres, county governments and their permits until the database holds
60 centres, 40 agencies and 200 services, the size the system is designed for.

``weight`` is the share of lodgings a service or centre gets in synthetic data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from tms.directory.models import KENYAN_COUNTIES

HOURS_WEEKDAY_SATURDAY = "Mon–Fri 8:00–17:00, Sat 8:00–13:00"
# Jumatatu–Ijumaa, Jumamosi: the same hours as Kenyans write them in Swahili.
HOURS_WEEKDAY_SATURDAY_SW = "Jtatu–Ijumaa 8:00–17:00, Jmosi 8:00–13:00"

DESIGN_CENTRES = 60
DESIGN_AGENCIES = 40
DESIGN_SERVICES = 200


@dataclass(frozen=True)
class CentreEntry:
    code: str
    name: str
    county: str
    address: str
    phone: str = ""
    opening_hours: str = HOURS_WEEKDAY_SATURDAY
    opening_hours_sw: str = HOURS_WEEKDAY_SATURDAY_SW
    weight: float = 1.0

    def fields(self) -> dict[str, str]:
        return {
            "name": self.name,
            "county": self.county,
            "address": self.address,
            "opening_hours": self.opening_hours,
            "opening_hours_sw": self.opening_hours_sw,
            "phone": self.phone,
        }


@dataclass(frozen=True)
class AgencyEntry:
    code: str
    name: str
    contact_name: str = ""

    def fields(self) -> dict[str, str]:
        return {"name": self.name, "contact_name": self.contact_name}


@dataclass(frozen=True)
class ServiceEntry:
    code: str
    agency: str
    name_en: str
    name_sw: str
    turnaround_days: int
    reprint_cost_kes: Decimal
    bring_en: str
    bring_sw: str
    retention_days: int = 90
    requires_id_number: bool = False
    # Passports are valuable to impostors: the citizen's phone confirms the collector.
    handover_code_required: bool = False
    weight: float = 1.0

    def fields(self) -> dict[str, object]:
        return {
            "name_en": self.name_en,
            "name_sw": self.name_sw,
            "turnaround_days": self.turnaround_days,
            "retention_days": self.retention_days,
            "reprint_cost_kes": self.reprint_cost_kes,
            "bring_en": self.bring_en,
            "bring_sw": self.bring_sw,
            "requires_id_number": self.requires_id_number,
            "handover_code_required": self.handover_code_required,
            "is_active": True,
        }


DEMO_CENTRES: list[CentreEntry] = [
    CentreEntry("GPO", "Huduma Centre GPO", "Nairobi",
                "Teleposta Towers, Kenyatta Avenue, Nairobi", "+254202211000", weight=10),
    CentreEntry("CTY", "Huduma Centre City Square", "Nairobi",
                "City Square Post Office, Haile Selassie Avenue, Nairobi", "+254202240000",
                weight=6),
    CentreEntry("MKD", "Huduma Centre Makadara", "Nairobi",
                "Makadara Law Courts grounds, Jogoo Road, Nairobi", "+254202550000", weight=4),
    CentreEntry("THK", "Huduma Centre Thika", "Kiambu",
                "Posta Building, Kwame Nkrumah Road, Thika", "+254672231000", weight=3),
    CentreEntry("MSA", "Huduma Centre Mombasa", "Mombasa",
                "Posta House, Digo Road, Mombasa", "+254412230000", weight=6),
    CentreEntry("KSM", "Huduma Centre Kisumu", "Kisumu",
                "Posta Building, Oginga Odinga Street, Kisumu", "+254572023000", weight=5),
    CentreEntry("NKR", "Huduma Centre Nakuru", "Nakuru",
                "Posta Building, Kenyatta Avenue, Nakuru", "+254512212000", weight=5),
    CentreEntry("ELD", "Huduma Centre Eldoret", "Uasin Gishu",
                "Posta Building, Uganda Road, Eldoret", "+254532061000", weight=4),
    CentreEntry("NYR", "Huduma Centre Nyeri", "Nyeri",
                "Posta Building, Kimathi Way, Nyeri", "+254612030000", weight=3),
    CentreEntry("MKS", "Huduma Centre Machakos", "Machakos",
                "Posta Building, Ngei Road, Machakos", "+254442021000", weight=3),
    CentreEntry("KKG", "Huduma Centre Kakamega", "Kakamega",
                "Posta Building, Kenyatta Avenue, Kakamega", "+254562030000", weight=3),
    CentreEntry("GRS", "Huduma Centre Garissa", "Garissa",
                "Posta Building, Kismayu Road, Garissa", "+254462102000", weight=2),
    CentreEntry("KTL", "Huduma Centre Kitale", "Trans Nzoia",
                "Posta Building, Kenyatta Street, Kitale", "+254542031000", weight=2),
    CentreEntry("MRU", "Huduma Centre Meru", "Meru",
                "Posta Building, Njuri Ncheke Street, Meru", "+254642031000", weight=3),
]  # fmt: skip

DEMO_AGENCIES: list[AgencyEntry] = [
    AgencyEntry("NRB", "National Registration Bureau", "Huduma liaison desk"),
    AgencyEntry("DIS", "Directorate of Immigration Services", "Huduma liaison desk"),
    AgencyEntry("CRS", "Civil Registration Services", "Huduma liaison desk"),
    AgencyEntry("DCI", "Directorate of Criminal Investigations", "Certificates office"),
    AgencyEntry("NTSA", "National Transport and Safety Authority", "Licensing desk"),
    AgencyEntry("KRA", "Kenya Revenue Authority", "Taxpayer services"),
    AgencyEntry("BRS", "Business Registration Service", "Registrar's office"),
    AgencyEntry("SHA", "Social Health Authority", "Member services"),
    AgencyEntry("NSSF", "National Social Security Fund", "Member services"),
    AgencyEntry("HELB", "Higher Education Loans Board", "Customer care"),
    AgencyEntry("KNEC", "Kenya National Examinations Council", "Certification office"),
    AgencyEntry("NCPWD", "National Council for Persons with Disabilities", "Registration"),
    AgencyEntry("MLPP", "Ministry of Lands and Physical Planning", "Land registry"),
]

_SLIP_AND_ID_EN = "Your acknowledgement slip and your national ID card."
_SLIP_AND_ID_SW = "Leta stakabadhi ya maombi na kitambulisho chako."
_K = Decimal

DEMO_SERVICES: list[ServiceEntry] = [
    ServiceEntry(
        "NRB-ID-NEW", "NRB", "National ID card (first issue)", "Kitambulisho kipya cha taifa",
        15, _K("700"),
        "Your waiting card (acknowledgement slip). Come in person: your fingerprints are "
        "checked when you collect.",
        "Leta stakabadhi ya kusubiri kitambulisho (waiting card). Fika mwenyewe: alama za "
        "vidole hukaguliwa unapochukua kitambulisho.",
        retention_days=180, requires_id_number=True, weight=16,
    ),
    ServiceEntry(
        "NRB-ID-REPL", "NRB", "Replacement of a lost national ID card",
        "Kitambulisho mbadala cha taifa (kilichopotea)", 15, _K("700"),
        "Your waiting card (acknowledgement slip). Come in person to collect.",
        "Leta stakabadhi ya kusubiri kitambulisho (waiting card). Fika mwenyewe kukichukua.",
        retention_days=180, requires_id_number=True, weight=11,
    ),
    ServiceEntry(
        "NRB-ID-CHG", "NRB", "Change of particulars on a national ID card",
        "Kubadilisha taarifa kwenye kitambulisho cha taifa", 21, _K("700"),
        "Your waiting card and your old national ID card.",
        "Leta stakabadhi ya kusubiri kitambulisho na kitambulisho chako cha zamani.",
        retention_days=180, requires_id_number=True, weight=2,
    ),
    ServiceEntry(
        "DIS-PASS-34", "DIS", "Ordinary passport (34 pages)", "Pasipoti ya kawaida (kurasa 34)",
        10, _K("7500"),
        "Your acknowledgement slip, your national ID card and your old passport if you have "
        "one. For a child's passport, a parent's ID card.",
        "Leta stakabadhi ya maombi, kitambulisho chako na pasipoti yako ya zamani kama unayo. "
        "Kwa pasipoti ya mtoto, leta kitambulisho cha mzazi.",
        requires_id_number=True, handover_code_required=True, weight=7,
    ),
    ServiceEntry(
        "DIS-PASS-50", "DIS", "Ordinary passport (50 pages)", "Pasipoti ya kawaida (kurasa 50)",
        10, _K("9500"),
        "Your acknowledgement slip, your national ID card and your old passport if you have one.",
        "Leta stakabadhi ya maombi, kitambulisho chako na pasipoti yako ya zamani kama unayo.",
        requires_id_number=True, handover_code_required=True, weight=2,
    ),
    ServiceEntry(
        "DIS-PASS-66", "DIS", "Ordinary passport (66 pages)", "Pasipoti ya kawaida (kurasa 66)",
        10, _K("12500"),
        "Your acknowledgement slip, your national ID card and your old passport if you have one.",
        "Leta stakabadhi ya maombi, kitambulisho chako na pasipoti yako ya zamani kama unayo.",
        requires_id_number=True, handover_code_required=True, weight=1,
    ),
    ServiceEntry(
        "DIS-PASS-LOST", "DIS", "Replacement of a lost passport", "Pasipoti mbadala (iliyopotea)",
        15, _K("7500"),
        "Your acknowledgement slip, your national ID card and the police abstract.",
        "Leta stakabadhi ya maombi, kitambulisho chako na barua ya polisi (police abstract).",
        requires_id_number=True, handover_code_required=True, weight=1,
    ),
    ServiceEntry(
        "CRS-BIRTH", "CRS", "Birth certificate", "Cheti cha kuzaliwa", 7, _K("200"),
        "Your acknowledgement slip and a parent's national ID card.",
        "Leta stakabadhi ya maombi na kitambulisho cha mzazi.", weight=14,
    ),
    ServiceEntry(
        "CRS-BIRTH-LATE", "CRS", "Birth certificate (late registration)",
        "Cheti cha kuzaliwa (usajili uliochelewa)", 30, _K("200"),
        "Your acknowledgement slip and a parent's national ID card.",
        "Leta stakabadhi ya maombi na kitambulisho cha mzazi.", weight=3,
    ),
    ServiceEntry(
        "CRS-BIRTH-CORR", "CRS", "Correction of a birth certificate",
        "Marekebisho ya cheti cha kuzaliwa", 21, _K("200"),
        "Your acknowledgement slip, the old birth certificate and a parent's national ID card.",
        "Leta stakabadhi ya maombi, cheti cha zamani cha kuzaliwa na kitambulisho cha mzazi.",
        weight=1,
    ),
    ServiceEntry(
        "CRS-DEATH", "CRS", "Death certificate", "Cheti cha kifo", 7, _K("200"),
        "Your acknowledgement slip and your national ID card (the person who applied).",
        "Leta stakabadhi ya maombi na kitambulisho chako (mtu aliyeomba).",
        requires_id_number=True, weight=4,
    ),
    ServiceEntry(
        "DCI-PCC", "DCI", "Police clearance certificate (certificate of good conduct)",
        "Cheti cha maadili mema (cheti cha polisi)", 14, _K("1050"),
        _SLIP_AND_ID_EN, _SLIP_AND_ID_SW, requires_id_number=True, weight=12,
    ),
    ServiceEntry(
        "NTSA-DL-SMART", "NTSA", "Smart driving licence", "Leseni ya udereva ya kidijitali",
        10, _K("3050"),
        "Your acknowledgement slip, your national ID card and your old driving licence.",
        "Leta stakabadhi ya maombi, kitambulisho chako na leseni yako ya zamani ya udereva.",
        requires_id_number=True, weight=7,
    ),
    ServiceEntry(
        "NTSA-LOGBOOK", "NTSA", "Motor vehicle logbook (registration certificate)",
        "Kitabu cha usajili wa gari (logbook)", 14, _K("1000"),
        "Your acknowledgement slip, your national ID card and the signed transfer forms.",
        "Leta stakabadhi ya maombi, kitambulisho chako na fomu za uhamisho zilizotiwa sahihi.",
        requires_id_number=True, weight=3,
    ),
    ServiceEntry(
        "NTSA-PSV-BADGE", "NTSA", "PSV driver's badge", "Beji ya dereva wa magari ya umma (PSV)",
        10, _K("500"), _SLIP_AND_ID_EN, _SLIP_AND_ID_SW, requires_id_number=True, weight=1,
    ),
    ServiceEntry(
        "KRA-PIN", "KRA", "KRA PIN certificate", "Cheti cha PIN ya KRA", 2, _K("50"),
        _SLIP_AND_ID_EN, _SLIP_AND_ID_SW, retention_days=60, requires_id_number=True, weight=5,
    ),
    ServiceEntry(
        "KRA-TCC", "KRA", "Tax compliance certificate", "Cheti cha utiifu wa kodi", 3, _K("50"),
        _SLIP_AND_ID_EN, _SLIP_AND_ID_SW, retention_days=60, requires_id_number=True, weight=3,
    ),
    ServiceEntry(
        "BRS-BN", "BRS", "Business name registration certificate",
        "Cheti cha usajili wa jina la biashara", 5, _K("950"),
        "Your acknowledgement slip and the national ID card of the proprietor.",
        "Leta stakabadhi ya maombi na kitambulisho cha mmiliki wa biashara.",
        requires_id_number=True, weight=4,
    ),
    ServiceEntry(
        "BRS-CO-INC", "BRS", "Certificate of incorporation (private company)",
        "Cheti cha usajili wa kampuni binafsi", 10, _K("10650"),
        "Your acknowledgement slip and the national ID card of a director.",
        "Leta stakabadhi ya maombi na kitambulisho cha mkurugenzi mmoja wa kampuni.",
        requires_id_number=True, weight=1,
    ),
    ServiceEntry(
        "SHA-CARD", "SHA", "Social Health Authority membership card",
        "Kadi ya uanachama ya SHA", 10, _K("500"),
        _SLIP_AND_ID_EN, _SLIP_AND_ID_SW, requires_id_number=True, weight=6,
    ),
    ServiceEntry(
        "SHA-CARD-REPL", "SHA", "Replacement of a lost SHA card", "Kadi mbadala ya SHA",
        10, _K("500"), _SLIP_AND_ID_EN, _SLIP_AND_ID_SW, requires_id_number=True, weight=2,
    ),
    ServiceEntry(
        "NSSF-CARD", "NSSF", "NSSF membership card", "Kadi ya uanachama ya NSSF", 7, _K("200"),
        _SLIP_AND_ID_EN, _SLIP_AND_ID_SW, requires_id_number=True, weight=3,
    ),
    ServiceEntry(
        "NSSF-STMT", "NSSF", "Certified NSSF contributions statement",
        "Taarifa ya michango ya NSSF iliyothibitishwa", 3, _K("0"),
        _SLIP_AND_ID_EN, _SLIP_AND_ID_SW, retention_days=60, requires_id_number=True, weight=2,
    ),
    ServiceEntry(
        "HELB-CLR", "HELB", "HELB loan clearance certificate",
        "Cheti cha kumaliza kulipa mkopo wa HELB", 5, _K("1000"),
        _SLIP_AND_ID_EN, _SLIP_AND_ID_SW, requires_id_number=True, weight=2,
    ),
    ServiceEntry(
        "KNEC-CERT-CONF", "KNEC", "Confirmation of examination results",
        "Uthibitisho wa matokeo ya mtihani", 30, _K("1000"),
        "Your acknowledgement slip, your national ID card and your original result slip.",
        "Leta stakabadhi ya maombi, kitambulisho chako na hati yako halisi ya matokeo.",
        requires_id_number=True, weight=1,
    ),
    ServiceEntry(
        "NCPWD-CARD", "NCPWD", "Disability registration card", "Kadi ya usajili wa walemavu",
        30, _K("300"),
        "Your acknowledgement slip and your national ID card (or a parent's for a child).",
        "Leta stakabadhi ya maombi na kitambulisho chako (au cha mzazi kwa mtoto).",
        retention_days=180, weight=1,
    ),
    ServiceEntry(
        "MLPP-SEARCH", "MLPP", "Official land search certificate",
        "Cheti rasmi cha upekuzi wa ardhi", 3, _K("500"),
        "Your acknowledgement slip, your national ID card and the payment receipt.",
        "Leta stakabadhi ya maombi, kitambulisho chako na risiti ya malipo.",
        retention_days=60, requires_id_number=True, weight=2,
    ),
]  # fmt: skip


# --- The design point: a centre in every county, county governments, permits ------------

# Town where each county's Huduma Centre stands, and a three-letter code for it.
_COUNTY_TOWNS: dict[str, tuple[str, str]] = {
    "Kwale": ("KWL", "Kwale"), "Kilifi": ("KLF", "Kilifi"), "Tana River": ("HOL", "Hola"),
    "Lamu": ("LAM", "Lamu"), "Taita-Taveta": ("VOI", "Voi"), "Wajir": ("WJR", "Wajir"),
    "Mandera": ("MDR", "Mandera"), "Marsabit": ("MBT", "Marsabit"), "Isiolo": ("ISL", "Isiolo"),
    "Tharaka-Nithi": ("CHK", "Chuka"), "Embu": ("EMB", "Embu"), "Kitui": ("KTI", "Kitui"),
    "Makueni": ("WTE", "Wote"), "Nyandarua": ("OLK", "Ol Kalou"),
    "Kirinyaga": ("KER", "Kerugoya"), "Murang'a": ("MRG", "Murang'a"),
    "Turkana": ("LDR", "Lodwar"), "West Pokot": ("KPG", "Kapenguria"),
    "Samburu": ("MRL", "Maralal"), "Elgeyo-Marakwet": ("ITN", "Iten"),
    "Nandi": ("KPS", "Kapsabet"), "Baringo": ("KBN", "Kabarnet"),
    "Laikipia": ("NYK", "Nanyuki"), "Narok": ("NRK", "Narok"), "Kajiado": ("KJD", "Kajiado"),
    "Kericho": ("KRC", "Kericho"), "Bomet": ("BMT", "Bomet"), "Vihiga": ("MBL", "Mbale"),
    "Bungoma": ("BGM", "Bungoma"), "Busia": ("BSA", "Busia"), "Siaya": ("SYA", "Siaya"),
    "Homa Bay": ("HMB", "Homa Bay"), "Migori": ("MGR", "Migori"), "Kisii": ("KSI", "Kisii"),
    "Nyamira": ("NYM", "Nyamira"),
}  # fmt: skip

# Busy towns that have a second centre.
_SECOND_CENTRES: list[tuple[str, str, str]] = [
    ("ELG", "Eastleigh", "Nairobi"), ("KBR", "Kibra", "Nairobi"), ("KYL", "Kayole", "Nairobi"),
    ("RUI", "Ruiru", "Kiambu"), ("KKY", "Kikuyu", "Kiambu"), ("MLD", "Malindi", "Kilifi"),
    ("NVS", "Naivasha", "Nakuru"), ("KTG", "Kitengela", "Kajiado"),
    ("ATR", "Athi River", "Machakos"), ("LKN", "Likoni", "Mombasa"),
    ("MUM", "Mumias", "Kakamega"),
]  # fmt: skip

# County governments that serve citizens through the centres, largest first.
_COUNTY_AGENCIES = [
    "Nairobi", "Mombasa", "Kisumu", "Nakuru", "Kiambu", "Uasin Gishu", "Machakos", "Kakamega",
    "Meru", "Nyeri", "Kilifi", "Kajiado", "Bungoma", "Kisii", "Kericho", "Garissa",
    "Trans Nzoia", "Murang'a", "Embu", "Kitui", "Narok", "Laikipia", "Migori", "Homa Bay",
    "Siaya", "Busia", "Kwale",
]  # fmt: skip

# (suffix, English, Kiswahili, working days, reprint cost, what to bring en, sw)
_COUNTY_PERMITS: list[tuple[str, str, str, int, str, str, str]] = [
    ("SBP", "Single business permit", "Kibali cha biashara", 5, "300",
     "Your acknowledgement slip and the payment receipt.",
     "Leta stakabadhi ya maombi na risiti ya malipo."),
    ("RATES", "Land rates clearance certificate", "Cheti cha kulipa kodi ya ardhi", 5, "300",
     "Your acknowledgement slip, your national ID card and the rates receipt.",
     "Leta stakabadhi ya maombi, kitambulisho chako na risiti ya kodi ya ardhi."),
    ("FOOD", "Food handler's medical certificate", "Cheti cha afya cha mhudumu wa chakula", 3,
     "200", _SLIP_AND_ID_EN, _SLIP_AND_ID_SW),
    ("LIQ", "Liquor licence", "Leseni ya vileo", 21, "500",
     "Your acknowledgement slip, your national ID card and the payment receipt.",
     "Leta stakabadhi ya maombi, kitambulisho chako na risiti ya malipo."),
    ("BPA", "Building plan approval", "Idhini ya ramani ya jengo", 30, "1000",
     "Your acknowledgement slip and the national ID card of the owner.",
     "Leta stakabadhi ya maombi na kitambulisho cha mwenye jengo."),
    ("FIRE", "Fire safety certificate", "Cheti cha usalama dhidi ya moto", 7, "300",
     "Your acknowledgement slip and the payment receipt.",
     "Leta stakabadhi ya maombi na risiti ya malipo."),
    ("PARK", "Seasonal parking sticker", "Kibandiko cha maegesho cha msimu", 3, "200",
     "Your acknowledgement slip and the vehicle's logbook or registration number.",
     "Leta stakabadhi ya maombi na logbook ya gari au nambari yake ya usajili."),
]  # fmt: skip

COUNTY_SERVICE_WEIGHT = 0.25
DESIGN_CENTRE_WEIGHT = 1.5


def county_number(county: str) -> int:
    """The county's number in the Constitution's First Schedule (Mombasa 1 ... Nairobi 47)."""
    return KENYAN_COUNTIES.index(county) + 1


def design_point_centres() -> Iterator[CentreEntry]:
    """A centre in every county without one in the demo, then second centres in busy towns."""
    covered = {c.county for c in DEMO_CENTRES}
    for county in KENYAN_COUNTIES:
        if county in covered:
            continue
        code, town = _COUNTY_TOWNS[county]
        yield CentreEntry(
            code,
            f"Huduma Centre {town}",
            county,
            f"Posta Building, {town}",
            weight=DESIGN_CENTRE_WEIGHT,
        )
    for code, town, county in _SECOND_CENTRES:
        yield CentreEntry(
            code,
            f"Huduma Centre {town}",
            county,
            f"{town} town centre, {county} County",
            weight=DESIGN_CENTRE_WEIGHT,
        )


def county_agency_code(county: str) -> str:
    return f"CG{county_number(county):03d}"


def design_point_agencies() -> Iterator[AgencyEntry]:
    for county in _COUNTY_AGENCIES:
        name = "Nairobi City County" if county == "Nairobi" else f"County Government of {county}"
        yield AgencyEntry(county_agency_code(county), name, "County revenue office")


def design_point_services() -> Iterator[ServiceEntry]:
    """Each county's permits, one kind at a time, so any prefix spreads over the counties."""
    for suffix, en, sw, days, cost, bring_en, bring_sw in _COUNTY_PERMITS:
        for county in _COUNTY_AGENCIES:
            agency = county_agency_code(county)
            yield ServiceEntry(
                f"{agency}-{suffix}",
                agency,
                f"{en} ({county})",
                f"{sw} ({county})",
                days,
                Decimal(cost),
                bring_en,
                bring_sw,
                weight=COUNTY_SERVICE_WEIGHT,
            )


def weights_by_code() -> dict[str, float]:
    """Lodging weights of every catalogued centre and service, by code."""
    weights: dict[str, float] = {}
    for centre in [*DEMO_CENTRES, *design_point_centres()]:
        weights[centre.code] = centre.weight
    for service in [*DEMO_SERVICES, *design_point_services()]:
        weights[service.code] = service.weight
    return weights
