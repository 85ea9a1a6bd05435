"""Reference data: agencies, their services, service centres, public holidays."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

code_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{0,19}$",
    _("Use capital letters, digits and dashes, e.g. NRB or NRB-ID-NEW."),
)

# The 47 counties of Kenya (Constitution, First Schedule), in its order.
KENYAN_COUNTIES = [
    "Mombasa", "Kwale", "Kilifi", "Tana River", "Lamu", "Taita-Taveta", "Garissa", "Wajir",
    "Mandera", "Marsabit", "Isiolo", "Meru", "Tharaka-Nithi", "Embu", "Kitui", "Machakos",
    "Makueni", "Nyandarua", "Nyeri", "Kirinyaga", "Murang'a", "Kiambu", "Turkana",
    "West Pokot", "Samburu", "Trans Nzoia", "Uasin Gishu", "Elgeyo-Marakwet", "Nandi",
    "Baringo", "Laikipia", "Nakuru", "Narok", "Kajiado", "Kericho", "Bomet", "Kakamega",
    "Vihiga", "Bungoma", "Busia", "Siaya", "Kisumu", "Homa Bay", "Migori", "Kisii",
    "Nyamira", "Nairobi",
]  # fmt: skip


class Agency(models.Model):
    """A ministry, department, agency or county that processes applications."""

    code = models.CharField(_("code"), max_length=20, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=200)
    contact_name = models.CharField(_("contact person"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class Service(models.Model):
    """A document an agency issues, with its promises to the citizen."""

    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="services", verbose_name=_("agency")
    )
    code = models.CharField(_("code"), max_length=20, unique=True, validators=[code_validator])
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_sw = models.CharField(_("name (Kiswahili)"), max_length=120)
    turnaround_days = models.PositiveSmallIntegerField(
        _("promised turnaround (working days)"), validators=[MinValueValidator(1)]
    )
    retention_days = models.PositiveSmallIntegerField(
        _("retention before return (days)"),
        default=90,
        validators=[MinValueValidator(1)],
        help_text=_("Days a ready document waits at the centre before it is returned."),
    )
    reprint_cost_kes = models.DecimalField(
        _("reprint cost (KES)"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    reminder_days = models.CharField(
        _("reminders after (days)"),
        max_length=40,
        default="7,14,30,60",
        validators=[
            RegexValidator(r"^\d{1,3}(,\d{1,3})*$", _("Days separated by commas, e.g. 7,14,30,60."))
        ],
        help_text=_("Days after a document is ready when an uncollected reminder goes out."),
    )
    final_notice_days = models.PositiveSmallIntegerField(
        _("final notice (days before return)"), default=7
    )
    bring_en = models.TextField(_("what to bring at collection (English)"), blank=True)
    bring_sw = models.TextField(_("what to bring at collection (Kiswahili)"), blank=True)
    requires_id_number = models.BooleanField(
        _("requires an ID or birth certificate number"), default=False
    )
    handover_code_required = models.BooleanField(
        _("hand-over code required"),
        default=False,
        help_text=_("send a one-time code to the citizen's phone at hand-over"),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["agency__code", "code"]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self) -> str:
        return f"{self.code} – {self.name_en}"

    def name(self, language: str | None = None) -> str:
        return (
            self.name_sw if (language or get_language() or "en").startswith("sw") else self.name_en
        )

    def reminder_schedule(self) -> list[int]:
        return sorted({int(day) for day in self.reminder_days.split(",") if day.strip()})

    def what_to_bring(self, language: str | None = None) -> str:
        return (
            self.bring_sw
            if (language or get_language() or "en").startswith("sw")
            else self.bring_en
        )


class Centre(models.Model):
    """A one-stop service centre where citizens lodge and collect."""

    code = models.CharField(_("code"), max_length=20, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=120)
    county = models.CharField(_("county"), max_length=40, choices=[(c, c) for c in KENYAN_COUNTIES])
    address = models.CharField(_("address"), max_length=250)
    opening_hours = models.CharField(
        _("opening hours"), max_length=120, help_text=_("e.g. Mon–Fri 8:00–17:00, Sat 9:00–13:00")
    )
    opening_hours_sw = models.CharField(
        _("opening hours (Kiswahili)"),
        max_length=120,
        blank=True,
        help_text=_("e.g. Jtatu–Ijumaa 8:00–17:00; the English text is used when empty."),
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["county", "name"]
        verbose_name = _("service centre")
        verbose_name_plural = _("service centres")

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class PublicHoliday(models.Model):
    """A gazetted public holiday: not a working day anywhere in Kenya."""

    date = models.DateField(_("date"), unique=True)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["date"]
        verbose_name = _("public holiday")
        verbose_name_plural = _("public holidays")

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.name}"
