"""Tracking references (SPEC §4): digits, a check digit that catches typing errors."""

from __future__ import annotations

import itertools
import secrets
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tms.applications import references
from tms.applications.models import Application, ApplicationEvent
from tms.applications.references import ReferenceTypingError
from tms.applications.services import REFERENCE_ATTEMPTS
from tms.testing.builders import lodge

generated_refs = st.builds(references.generate, st.randoms(use_true_random=False))
separators = st.sampled_from(["", " ", "  ", "-", " - ", "\u2013", ".", "\t"])


def test_display_groups_digits_in_fours() -> None:
    assert references.display("4821773091552") == "4821 7730 9155 2"


def test_a_known_reference_has_its_damm_check_digit() -> None:
    # Damm check digit of 572 is 4 (the textbook example).
    assert references.with_check_digit("572") == "5724"
    ref = references.with_check_digit("482177309155")
    assert references.parse(ref) == ref


def test_generated_references_are_13_digits_with_a_non_zero_first_digit() -> None:
    for _ in range(2000):
        ref = references.generate()
        assert len(ref) == 13
        assert ref.isascii() and ref.isdigit()
        assert ref[0] != "0"
        assert references.parse(ref) == ref


@given(ref=generated_refs)
def test_seeded_generation_gives_valid_references(ref: str) -> None:
    assert len(ref) == 13
    assert ref[0] != "0"
    assert references.parse(ref) == ref


@given(ref=generated_refs)
def test_every_single_digit_substitution_is_a_typing_error(ref: str) -> None:
    for position, digit in enumerate(ref):
        for wrong in "0123456789":
            if wrong == digit:
                continue
            typo = ref[:position] + wrong + ref[position + 1 :]
            with pytest.raises(ReferenceTypingError):
                references.parse(typo)


@given(ref=generated_refs)
def test_every_swap_of_two_different_neighbouring_digits_is_a_typing_error(ref: str) -> None:
    for position in range(len(ref) - 1):
        left, right = ref[position], ref[position + 1]
        if left == right:
            continue
        typo = ref[:position] + right + left + ref[position + 2 :]
        with pytest.raises(ReferenceTypingError):
            references.parse(typo)


@given(ref=generated_refs, data=st.data())
def test_any_grouping_with_spaces_and_dashes_is_accepted(ref: str, data: st.DataObject) -> None:
    gaps = data.draw(st.lists(separators, min_size=len(ref) - 1, max_size=len(ref) - 1))
    typed = ref[0] + "".join(gap + digit for gap, digit in zip(gaps, ref[1:], strict=True))
    padding = data.draw(st.sampled_from(["", " ", "\n"]))
    assert references.parse(padding + typed + padding) == ref


@given(ref=generated_refs)
def test_displayed_reference_parses_back(ref: str) -> None:
    shown = references.display(ref)
    assert shown.replace(" ", "") == ref
    assert [len(group) for group in shown.split(" ")] == [4, 4, 4, 1]
    assert references.parse(shown) == ref


@pytest.mark.parametrize(
    "typed",
    [
        "4821 7730 9155 {c}",
        "4821-7730-9155-{c}",
        "4821 7730-9155 {c}",
        "48 21 77 30 91 55 {c}",
        "482177309155-{c}",
        "  4821  7730  9155  {c}  ",
    ],
)
def test_mixed_grouping_examples(typed: str) -> None:
    ref = references.with_check_digit("482177309155")
    assert references.parse(typed.format(c=ref[-1])) == ref


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (" - - ", "empty"),
        ("4821 7730 9155", "length"),
        ("4821 7730 9155 22", "length"),
        ("482177309155", "length"),
        ("48217730915520", "length"),
        ("4821 773O 9155 2", "characters"),
        ("ABCD EFGH IJKL M", "characters"),
        ("4821_7730_9155_2", "characters"),
        ("\uff14\uff18\uff12\uff11773091552", "characters"),  # full-width digits
    ],
)
def test_malformed_input_is_a_typing_error(typed: str, reason: str) -> None:
    with pytest.raises(ReferenceTypingError) as caught:
        references.parse(typed)
    assert caught.value.reason == reason
    assert "typing error" in caught.value.message


def test_none_is_a_typing_error() -> None:
    with pytest.raises(ReferenceTypingError):
        references.parse(None)  # type: ignore[arg-type]


def test_wrong_check_digit_is_a_typing_error() -> None:
    ref = references.with_check_digit("482177309155")
    wrong = str((int(ref[-1]) + 1) % 10)
    with pytest.raises(ReferenceTypingError) as caught:
        references.parse(ref[:-1] + wrong)
    assert caught.value.reason == "check digit"


def test_is_well_formed() -> None:
    ref = references.generate(Random(7))
    assert references.is_well_formed(references.display(ref))
    assert not references.is_well_formed(ref[:-1])
    assert not references.is_well_formed("")


@pytest.mark.django_db
def test_application_shows_its_reference_grouped() -> None:
    application = lodge()
    assert str(application) == references.display(application.reference)


@pytest.mark.django_db
def test_hundreds_of_lodged_applications_get_distinct_references(service, centre) -> None:
    lodged = [lodge(service=service, centre=centre) for _ in range(300)]
    refs = [a.reference for a in lodged]
    assert len(set(refs)) == 300
    assert set(Application.objects.values_list("reference", flat=True)) == set(refs)
    assert all(references.is_well_formed(ref) for ref in refs)
    # Not sequential: the leading digits are spread, not one running counter.
    assert len({ref[0] for ref in refs}) >= 5
    assert len({int(b) - int(a) for a, b in itertools.pairwise(sorted(refs))}) > 1


def _draw_from(monkeypatch: pytest.MonkeyPatch, bodies: list[str]) -> list[str]:
    """Make the random source return these 12-digit bodies, in order."""
    queue = list(bodies)
    drawn: list[str] = []

    def randbelow(upper: int) -> int:
        body = queue.pop(0) if len(queue) > 1 else queue[0]
        drawn.append(body)
        return int(body) - 10 ** (references.RANDOM_DIGITS - 1)

    monkeypatch.setattr(secrets, "randbelow", randbelow)
    return drawn


@pytest.mark.django_db
def test_a_reference_collision_draws_another(monkeypatch, service, centre) -> None:
    taken = lodge(service=service, centre=centre)
    first = "1" if taken.reference[0] != "1" else "2"
    fresh_body = first + taken.reference[1:12]
    drawn = _draw_from(monkeypatch, [taken.reference[:12], fresh_body])

    application = lodge(service=service, centre=centre)

    assert drawn == [taken.reference[:12], fresh_body]
    assert application.reference == references.with_check_digit(fresh_body)
    assert Application.objects.count() == 2
    # The failed attempt left nothing behind.
    assert ApplicationEvent.objects.count() == 2
    assert ApplicationEvent.objects.filter(application=application).count() == 1


@pytest.mark.django_db
def test_giving_up_after_repeated_collisions_leaves_nothing(monkeypatch, service, centre) -> None:
    taken = lodge(service=service, centre=centre)
    drawn = _draw_from(monkeypatch, [taken.reference[:12]])

    with pytest.raises(RuntimeError, match="unused reference"):
        lodge(service=service, centre=centre)

    assert len(drawn) == REFERENCE_ATTEMPTS
    assert Application.objects.count() == 1
    assert ApplicationEvent.objects.count() == 1
