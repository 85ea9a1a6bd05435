"""Synthesis in a worker process while the main process writes to the database.

Workers are spawned, not forked: a forked child would inherit the parent's open
SQLite connection, which SQLite forbids. This module imports no models, so a
fresh interpreter can load it before Django is set up; ``start`` sets Django up
and then builds the synthesiser from the pickled World.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tms.demo.histories import Batch, HistorySynthesiser

_synthesiser: HistorySynthesiser | None = None


def start(world_pickle: bytes) -> None:
    import django

    django.setup()
    from tms.demo.histories import HistorySynthesiser

    global _synthesiser  # one per process, set once by the pool initializer
    _synthesiser = HistorySynthesiser(pickle.loads(world_pickle))  # noqa: S301 - our own bytes


def batch(seed: str, first_id: int, count: int) -> Batch:
    assert _synthesiser is not None, "start() was not called in this process"
    return _synthesiser.batch(seed=seed, first_id=first_id, count=count)
