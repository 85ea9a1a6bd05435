"""A record of each synthetic data run, so that seeding knows what it has done."""

from __future__ import annotations

from django.db import models


class GenerationRun(models.Model):
    """One run of the synthetic application generator (``seed_demo`` or ``generate``).

    ``seed_demo`` adds its applications only while no finished ``demo`` run exists,
    which makes it idempotent; repeated runs with the same label and seed draw from
    a fresh stream (the run's ordinal is part of the random seed)."""

    DEMO = "demo"
    SYNTHETIC = "synthetic"

    label = models.CharField(max_length=20)
    seed = models.BigIntegerField()
    requested = models.PositiveIntegerField()
    applications = models.PositiveIntegerField(default=0)
    events = models.PositiveBigIntegerField(default=0)
    first_application_id = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at"]
        verbose_name = "generation run"
        verbose_name_plural = "generation runs"

    def __str__(self) -> str:
        return f"{self.label} seed={self.seed} ({self.applications} applications)"
