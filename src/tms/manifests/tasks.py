"""Background work for manifests: thin, named, idempotent (a chunk is never applied twice)."""

from __future__ import annotations

from django_tasks import task


@task(queue_name="bulk")
def apply_manifest(manifest_id: int) -> int:
    """Apply a large manifest's valid rows from its cursor on; enqueue again to resume."""
    from tms.manifests.services import manifest_run

    return manifest_run(manifest_id=manifest_id)
