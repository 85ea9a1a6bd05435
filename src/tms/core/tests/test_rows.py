"""insert_rows writes exactly what bulk_create writes: by COPY on PostgreSQL, elsewhere a
thousand rows to a statement."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tms.applications.lifecycle import Action, Status
from tms.applications.models import ActorKind, ApplicationEvent, Channel
from tms.core.rows import insert_rows
from tms.notifications.models import Event, Message, MessageState, MessageTemplate
from tms.testing.builders import lodge

pytestmark = pytest.mark.django_db


NOW = timezone.now()


def _messages(application, prefix: str, now=NOW) -> list[Message]:
    return [
        Message(
            application=application if n % 2 else None,
            event=Event.READY,
            priority=2,
            to="+254712345678",
            body=f"{prefix}: Swahili ŝ text {n} «quoted»",
            language="sw",
            segments=1,
            encoding="UCS-2",
            dedupe_key=f"{prefix}:{n}" if n % 3 else None,
            state=MessageState.SENT if n % 2 else MessageState.QUEUED,
            next_attempt_at=now + timedelta(seconds=n),
            cost=Decimal("0.8000") if n % 2 else None,
            network_code="63902",
            created_at=now,
        )
        for n in range(1500)
    ]


def _rows(prefix: str) -> list[tuple]:
    fields = [f.attname for f in Message._meta.concrete_fields if not f.primary_key]
    rows = (
        Message.objects.filter(body__startswith=f"{prefix}:")
        .order_by("next_attempt_at")
        .values_list(*fields)
    )
    return [
        tuple(value.replace(prefix, "") if isinstance(value, str) else value for value in row)
        for row in rows
    ]


def test_messages_land_as_bulk_create_writes_them():
    application = lodge()
    Message.objects.all().delete()
    Message.objects.bulk_create(_messages(application, "django"))
    with CaptureQueriesContext(connection) as queries:
        insert_rows(_messages(application, "ours"))

    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    if connection.vendor == "postgresql":
        assert statements == ["COPY"]  # every row in one stream
    else:
        assert statements == ["INSERT", "INSERT"]  # 1,000 + 500
    ours, django = _rows("ours"), _rows("django")
    assert len(ours) == len(django) == 1500
    assert ours == django


def test_history_events_land_as_bulk_create_writes_them():
    application = lodge()
    when = timezone.now() - timedelta(days=3)

    def events(version: int) -> list[ApplicationEvent]:
        return [
            ApplicationEvent(
                application=application,
                action=Action.START_PROCESSING,
                from_status=Status.LODGED,
                to_status=Status.PROCESSING,
                occurred_at=when,
                recorded_at=when,
                actor_kind=ActorKind.AGENCY,
                actor_label="NRB: système",
                channel=Channel.AGENCY_API,
                note="Kumbuka",
                address="2001:db8::1",
                version=version,
            )
        ]

    ApplicationEvent.objects.bulk_create(events(10))
    insert_rows(events(11))

    fields = [f.attname for f in ApplicationEvent._meta.concrete_fields]
    fields = [f for f in fields if f not in ("id", "version")]
    django, ours = (
        ApplicationEvent.objects.filter(application=application, version=v).values(*fields).get()
        for v in (10, 11)
    )
    assert ours == django
    assert ours["address"] == "2001:db8::1" and ours["occurred_at"] == when


def test_a_duplicate_is_skipped_when_asked_and_refused_otherwise():
    from django.db import IntegrityError, transaction

    application = lodge()
    first = _messages(application, "dup")[1:2]
    insert_rows(first)
    insert_rows(_messages(application, "dup")[1:3], ignore_conflicts=True)
    assert Message.objects.filter(dedupe_key__startswith="dup").count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(_messages(application, "dup")[1:2])


def test_an_automatic_time_must_be_set_first():
    with pytest.raises(ValueError, match="updated_at"):
        insert_rows([MessageTemplate(event=Event.READY, language="en", body="x")])
