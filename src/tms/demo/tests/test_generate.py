from __future__ import annotations

from io import StringIO
from random import Random

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from pytest_django.fixtures import Settings

from tms.applications import references
from tms.applications.lifecycle import Status
from tms.applications.models import Application, ApplicationEvent
from tms.demo import services
from tms.demo.histories import REFERENCE_COLUMN, Batch
from tms.demo.loading import BulkWriter
from tms.demo.models import GenerationRun
from tms.demo.tests.consistency import assert_histories_consistent, digest
from tms.directory.models import Agency, Centre, Service
from tms.testing.builders import lodge

pytestmark = pytest.mark.django_db


def generate(*args: str) -> str:
    out = StringIO()
    call_command("generate", "--no-progress", *args, stdout=out)
    return out.getvalue()


def test_generate_makes_consistent_applications_at_the_design_point() -> None:
    output = generate("--applications", "2000", "--seed", "7", "--batch", "500")

    assert "Generated 2,000 applications" in output
    assert (Centre.objects.count(), Agency.objects.count(), Service.objects.count()) == (
        60,
        40,
        200,
    )
    applications = Application.objects.all()
    assert applications.count() == 2000
    assert assert_histories_consistent(applications) == 2000
    for reference in applications.values_list("reference", flat=True):
        assert references.parse(references.display(reference)) == reference
    statuses = set(applications.values_list("status", flat=True))
    assert {Status.COLLECTED, Status.READY, Status.PROCESSING, Status.RETURNED} <= statuses
    run = GenerationRun.objects.get()
    assert (run.label, run.seed, run.applications) == (GenerationRun.SYNTHETIC, 7, 2000)
    assert run.events == ApplicationEvent.objects.count()
    assert run.finished_at is not None


def test_generate_again_adds_fresh_applications() -> None:
    generate("--applications", "300", "--seed", "3")
    first_names = set(Application.objects.values_list("applicant_name", "applicant_phone"))

    generate("--applications", "300", "--seed", "3")

    assert Application.objects.count() == 600
    assert Application.objects.values("reference").distinct().count() == 600
    after = set(Application.objects.values_list("applicant_name", "applicant_phone"))
    assert len(after - first_names) > 250  # a new stream, not the same people again


def test_generate_leaves_ids_of_lodged_applications_alone() -> None:
    lodged = lodge()
    generate("--applications", "50", "--no-design-point")

    assert Application.objects.count() == 51
    assert Application.objects.filter(id__gt=lodged.id).count() == 50
    later = lodge()
    assert later.id == lodged.id + 51  # after the range the generator reserved


def test_worker_processes_give_the_same_data() -> None:
    service_rows, centre_rows = seeded_reference()
    today = timezone.localdate()

    services.applications_generate(
        count=600, seed=5, services=service_rows, centres=centre_rows, batch_size=200,
        workers=0, today=today,
    )  # fmt: skip
    in_process = digest(Application.objects.all())
    ApplicationEvent.objects.all().delete()
    Application.objects.all().delete()
    GenerationRun.objects.all().delete()

    services.applications_generate(
        count=600, seed=5, services=service_rows, centres=centre_rows, batch_size=200,
        workers=1, today=today,
    )  # fmt: skip

    assert digest(Application.objects.all()) == in_process


def test_references_already_taken_are_drawn_again() -> None:
    taken = lodge().reference
    fresh = references.generate(Random(1))
    rows = [(1, taken), (2, fresh), (3, fresh)]
    batch = Batch(applications=[(*r, "x") for r in rows], events=[])
    seen: set[str] = set()

    services._unique_references(batch, seen=seen, writer=BulkWriter(), rng=Random(2))

    drawn = [row[REFERENCE_COLUMN] for row in batch.applications]
    assert drawn[1] == fresh
    assert len(set(drawn)) == 3 and taken not in drawn
    assert all(references.is_well_formed(r) for r in drawn)
    assert seen == set(drawn)


def test_generate_refuses_production(settings: Settings) -> None:
    settings.IS_PRODUCTION = True
    with pytest.raises(CommandError, match="never in production"):
        generate("--applications", "10")


def seeded_reference() -> tuple[list[Service], list[Centre]]:
    services.synthetic_reference_prepare(design_point=True, today=timezone.localdate())
    return services.design_point_reference()
