"""Reading applications by the reference a citizen types (SPEC §4)."""

from __future__ import annotations

from random import Random

import pytest

from tms.applications import references
from tms.applications.lifecycle import Action
from tms.applications.references import ReferenceTypingError
from tms.applications.selectors import ApplicationNotFound, application_get, application_history
from tms.applications.tests.expected_lifecycle import perform
from tms.testing.builders import lodge


def unused_reference(taken: str) -> str:
    rng = Random(1)
    while (ref := references.generate(rng)) == taken:
        pass  # pragma: no cover
    return ref


@pytest.mark.django_db
@pytest.mark.parametrize(
    "typing", [lambda r: r, references.display, lambda r: "-".join(references.display(r).split())]
)
def test_an_application_is_found_however_its_reference_is_typed(typing, service, centre):
    application = lodge(service=service, centre=centre)
    found = application_get(reference=f"  {typing(application.reference)} ")
    assert found.pk == application.pk
    assert found.service == service
    assert found.centre == centre


@pytest.mark.django_db
def test_a_mistyped_reference_is_a_typing_error_not_not_found(service, centre):
    application = lodge(service=service, centre=centre)
    ref = application.reference
    swapped = next(
        ref[:i] + ref[i + 1] + ref[i] + ref[i + 2 :] for i in range(12) if ref[i] != ref[i + 1]
    )
    substituted = ref[:5] + str((int(ref[5]) + 1) % 10) + ref[6:]
    for typo in [swapped, substituted, ref[:-1], ref + "7", "", "my reference", "4821 O730"]:
        with pytest.raises(ReferenceTypingError):
            application_get(reference=typo)


@pytest.mark.django_db
def test_a_well_formed_unknown_reference_is_not_found(service, centre):
    application = lodge(service=service, centre=centre)
    unknown = unused_reference(application.reference)
    with pytest.raises(ApplicationNotFound) as caught:
        application_get(reference=references.display(unknown))
    assert not isinstance(caught.value, ReferenceTypingError)
    assert isinstance(caught.value, LookupError)
    assert caught.value.args == (unknown,)


@pytest.mark.django_db
def test_history_is_in_version_order_and_only_for_that_application(service, centre):
    application = lodge(service=service, centre=centre)
    other = lodge(service=service, centre=centre)
    application = perform(application, Action.START_PROCESSING)
    perform(other, Action.CANCEL)
    application = perform(application, Action.DISPATCH)

    history = list(application_history(application=application))

    assert [(e.version, e.to_status) for e in history] == [
        (1, "lodged"),
        (2, "processing"),
        (3, "dispatched"),
    ]
    assert {e.application_id for e in history} == {application.pk}
