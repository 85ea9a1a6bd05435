import sqlite3
from datetime import timedelta
from typing import Any

from django.apps import AppConfig
from django.core.signals import request_finished
from django.db.backends.signals import connection_created


def use_sqlites_own_parameter_limit(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Django 5.2 assumes SQLite's old limit of 999 parameters a statement, so inserting a
    thousand history events takes fourteen statements and reading a thousand applications
    by id two. SQLite since 3.32 allows 32,766; ask the library what it allows."""
    if connection.vendor == "sqlite":
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        connection.features.max_query_params = max(999, limit)


class CoreConfig(AppConfig):
    name = "tms.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django_tasks.signals import task_enqueued, task_finished, task_started

        from tms.core import request_context, schedule, tasks

        connection_created.connect(use_sqlites_own_parameter_limit, dispatch_uid="core.sqlite")
        request_finished.connect(request_context.forget_request_id, dispatch_uid="core.rid")
        # A task's log lines carry the id of the request that enqueued it.
        task_enqueued.connect(request_context.remember_request_of_task, dispatch_uid="core.rid")
        task_started.connect(request_context.enter_request_of_task, dispatch_uid="core.rid")
        task_finished.connect(request_context.leave_request_of_task, dispatch_uid="core.rid")
        schedule.register(
            schedule.Job("prune-finished-tasks", timedelta(days=1), tasks.prune_finished_tasks)
        )
