from django.db import models


class ScheduledRun(models.Model):
    """One run of a scheduled job for one period. The unique constraint is what makes
    a job run once per period however many workers are running."""

    job = models.CharField(max_length=64)
    period_start = models.DateTimeField()
    enqueued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "period_start"], name="scheduled_run_once"),
        ]

    def __str__(self) -> str:
        return f"{self.job} @ {self.period_start.isoformat()}"


class WorkerHeartbeat(models.Model):
    """A running ``tms worker`` and the task it was running when last seen. The claims
    of a worker that stops beating are released (see tms.core.workers)."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()
    task_id = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.worker_id} on {self.host} (pid {self.pid})"
