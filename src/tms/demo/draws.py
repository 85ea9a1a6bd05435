"""Fast draws from a seeded ``Random``.

``Random.randrange`` and ``Random.choice`` reject-sample from ``getrandbits`` to be
exactly uniform; at millions of draws that is a third of the synthesis time. One
``random()`` scaled to the range is uniform to within 2**-53, plenty for made-up data.
"""

from __future__ import annotations

from collections.abc import Sequence
from random import Random
from typing import TypeVar

T = TypeVar("T")


def whole(rng: Random, low: int, high: int) -> int:
    """An integer in ``[low, high)``, like ``rng.randrange(low, high)``."""
    return low + int(rng.random() * (high - low))


def pick(rng: Random, items: Sequence[T]) -> T:
    """One of ``items``, like ``rng.choice(items)``."""
    return items[int(rng.random() * len(items))]
