"""Readiness (/readyz): may this process take traffic? Its database and cache answer and
its code's migrations are all applied. Liveness is /healthz (tms.core.views)."""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

logger = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
NOT_CHECKED = "not checked"
CACHE_PROBE_SECONDS = 10

# Migrations only go from unapplied to applied while a process runs: once all are
# applied, later probes skip rebuilding the migration graph.
_migrations_applied = False


def database_answers() -> bool:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.warning("readiness: the database does not answer", exc_info=True)
        return False


def cache_answers() -> bool:
    key = f"tms:readyz:{uuid.uuid4().hex}"
    try:
        cache.set(key, key, CACHE_PROBE_SECONDS)
        answered = cache.get(key) == key
        cache.delete(key)
    except Exception:
        logger.warning("readiness: the cache does not answer", exc_info=True)
        return False
    if not answered:
        logger.warning("readiness: the cache did not keep a value")
    return answered


def migrations_applied() -> bool:
    global _migrations_applied
    if _migrations_applied:
        return True
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception:
        logger.warning("readiness: the migrations could not be read", exc_info=True)
        return False
    if plan:
        logger.warning("readiness: %d migrations are not applied", len(plan))
        return False
    _migrations_applied = True
    return True


def readiness() -> dict[str, str]:
    """Each check's answer: "ok", "failed" or "not checked" (it needs the database)."""
    database = database_answers()
    return {
        "database": OK if database else FAILED,
        "cache": OK if cache_answers() else FAILED,
        "migrations": (OK if migrations_applied() else FAILED) if database else NOT_CHECKED,
    }
