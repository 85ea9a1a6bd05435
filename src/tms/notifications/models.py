"""The SMS outbox (SPEC §5): every message is a row, committed with its cause."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tms.applications.models import Application, Language


class Event(models.TextChoices):
    LODGED = "lodged", _("lodged")
    ACTION_REQUIRED = "action_required", _("action required")
    READY = "ready", _("ready")
    REMINDER = "reminder", _("reminder")
    FINAL_NOTICE = "final_notice", _("final notice")
    DELAYED = "delayed", _("delayed")
    COLLECTED = "collected", _("collected")
    REPLY = "reply", _("reply")
    HANDOVER_CODE = "handover_code", _("hand-over code")


class Priority(models.IntegerChoices):
    """Lower goes first: a citizen waiting on a reply, then news they act on, then campaigns."""

    REPLY = 0, _("reply")
    URGENT = 1, _("ready or action required")
    NORMAL = 2, _("normal")
    CAMPAIGN = 5, _("reminders and notices")


EVENT_PRIORITY = {
    Event.REPLY: Priority.REPLY,
    # The citizen is standing at the counter waiting for it: first, even in quiet hours.
    Event.HANDOVER_CODE: Priority.REPLY,
    Event.READY: Priority.URGENT,
    Event.ACTION_REQUIRED: Priority.URGENT,
    Event.LODGED: Priority.NORMAL,
    Event.COLLECTED: Priority.NORMAL,
    Event.DELAYED: Priority.NORMAL,
    Event.REMINDER: Priority.CAMPAIGN,
    Event.FINAL_NOTICE: Priority.CAMPAIGN,
}


class MessageState(models.TextChoices):
    QUEUED = "queued", _("queued")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent (accepted by the gateway)")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")
    UNKNOWN = "unknown", _("unknown (sending was interrupted)")


class MessageTemplate(models.Model):
    """An administrator's wording for one event in one language; the built-in wording
    (``texts.py``) applies where there is none."""

    event = models.CharField(_("event"), max_length=20, choices=Event.choices)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    body = models.TextField(_("text"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SMS template")
        verbose_name_plural = _("SMS templates")
        constraints = [
            models.UniqueConstraint(fields=["event", "language"], name="template_event_language")
        ]

    def __str__(self) -> str:
        return f"{self.event} ({self.language})"


class Message(models.Model):
    application = models.ForeignKey(
        Application, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    event = models.CharField(_("event"), max_length=20, choices=Event.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    to = models.CharField(_("to"), max_length=16)
    body = models.TextField(_("text"))
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    segments = models.PositiveSmallIntegerField(_("segments"))
    encoding = models.CharField(_("encoding"), max_length=5)
    # Database-enforced once-only: e.g. "reminder:<application>:14".
    dedupe_key = models.CharField(max_length=80, null=True, blank=True, unique=True)

    state = models.CharField(
        _("state"), max_length=10, choices=MessageState.choices, default=MessageState.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"))
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    gateway = models.CharField(_("gateway"), max_length=20, blank=True)
    gateway_message_id = models.CharField(
        _("gateway message id"), max_length=80, null=True, blank=True, unique=True
    )
    gateway_status = models.CharField(_("gateway status"), max_length=40, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=200, blank=True)
    cost = models.DecimalField(_("cost"), max_digits=10, decimal_places=4, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    network_code = models.CharField(_("network"), max_length=8, blank=True)

    created_at = models.DateTimeField(_("queued at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS messages")
        indexes = [
            # The dispatcher's claim: due queued messages, most urgent first.
            # Its order is the claim's ORDER BY, so a claim of 500 from a backlog of
            # 500,000 reads 500 index entries instead of sorting the backlog.
            models.Index(
                fields=["priority", "next_attempt_at", "id"],
                condition=Q(state="queued"),
                name="message_due",
            ),
            models.Index(
                fields=["lease_expires_at"], condition=Q(state="sending"), name="message_leased"
            ),
            models.Index(fields=["state", "created_at"], name="message_state_created"),
            # The SMS report figures, recomputed a day at a time (reports.rollups).
            models.Index(fields=["created_at"], name="message_created"),
            models.Index(fields=["application", "created_at"], name="message_application"),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.pk} ({self.state})"


class DeliveryReport(models.Model):
    """Every delivery report as received, matched or not: reports may arrive twice, out
    of order, or before our record of the send commits; unmatched ones are matched later."""

    gateway_message_id = models.CharField(max_length=80, db_index=True)
    status = models.CharField(max_length=40)
    failure_reason = models.CharField(max_length=80, blank=True)
    network_code = models.CharField(max_length=8, blank=True)
    # Kept to reconcile sends whose answer was lost (see services.sweep_stale_sends).
    phone = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField()
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="reports"
    )

    class Meta:
        indexes = [
            # Reconciling a send whose answer was lost looks reports up by number.
            models.Index(
                fields=["phone", "received_at"],
                condition=Q(message__isnull=True),
                name="report_unmatched",
            )
        ]

    def __str__(self) -> str:
        return f"{self.gateway_message_id}: {self.status}"


class OptOut(models.Model):
    """A phone that texted STOP: no reminders (the ready notice still goes)."""

    phone = models.CharField(max_length=16, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return "opt-out"


class SendingPause(models.Model):
    """Sending stops while an account problem (balance, credentials) lasts; staff see why."""

    reason = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    resume_at = models.DateTimeField(
        help_text=_("Sending is tried again from this time; staff can resume earlier.")
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.reason
