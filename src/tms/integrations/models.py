"""Agency integration (SPEC §7): tokens, idempotency records, webhooks."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tms.directory.models import Agency


class AgencyToken(models.Model):
    """A bearer token for one agency's systems. Only its SHA-256 is stored: tokens are
    long random strings, so a fast hash is enough and a lookup is one indexed query."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(_("name"), max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("starts with"), max_length=12, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("agency API token")
        verbose_name_plural = _("agency API tokens")
        constraints = [models.UniqueConstraint(fields=["agency", "name"], name="token_agency_name")]

    def __str__(self) -> str:
        return f"{self.agency.code}: {self.name} ({self.prefix}…)"


class IdempotencyRecord(models.Model):
    """The first answer to a POST with an Idempotency-Key, replayed for 24 hours."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)  # None while in progress
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "key"], name="idempotency_agency_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.agency_id}:{self.key}"


class WebhookEvent(models.TextChoices):
    READY = "application.ready", "application.ready"
    COLLECTED = "application.collected", "application.collected"
    RETURNED = "application.returned", "application.returned"
    QUERY_RAISED = "query.raised", "query.raised"


class WebhookEndpoint(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=100, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed (gave up)")


class WebhookDelivery(models.Model):
    """One event for one endpoint: queued with the change, retried with back-off for
    24 hours; the log administrators read."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    event_id = models.CharField(max_length=40, unique=True)
    payload = models.JSONField()
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(state="pending"), name="webhook_due"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.state})"
