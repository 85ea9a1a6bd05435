from __future__ import annotations

from django_tasks import task


@task(queue_name="default")
def deliver_webhooks() -> int:
    from tms.integrations.webhooks import deliver_due

    attempted = total = deliver_due()
    while attempted:
        attempted = deliver_due()
        total += attempted
    return total


@task(queue_name="bulk")
def prune_idempotency_keys() -> int:
    from tms.integrations.idempotency import prune

    return prune()
