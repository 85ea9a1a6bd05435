"""The benchmark registry: each module registers its benchmarks with ``@benchmark``.

A benchmark is a function taking ``Options`` and returning a ``Result``; the runner
stores each result as JSON in ``benchmarks/results/`` and rebuilds BENCHMARKS.md
from all stored results, so running one benchmark keeps the others' figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


class Skipped(Exception):
    """The benchmark cannot run here (say why); the runner goes on with the next."""


@dataclass(frozen=True)
class Options:
    applications: int | None = None  # None: the benchmark's own default size
    keep: bool = False  # keep temporary databases for inspection


@dataclass
class Result:
    name: str
    title: str
    command: str
    date: str
    machine: dict[str, str]
    rows: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        return cls(**{**data, "rows": [tuple(row) for row in data["rows"]]})


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    run: Callable[[Options], Result]


REGISTRY: dict[str, Benchmark] = {}

# Modules that register benchmarks; add new ones here.
MODULES = [
    "benchmarks.generate",
    "benchmarks.generate_postgres",
    "benchmarks.sms_dispatch",
    "benchmarks.sms_campaign",
    "benchmarks.lookups",
    "benchmarks.serve_processes",
    "benchmarks.status_updates",
    "benchmarks.scanning",
    "benchmarks.manifests",
    "benchmarks.reports",
]


def benchmark(
    name: str, description: str
) -> Callable[[Callable[[Options], Result]], Callable[[Options], Result]]:
    def register(function: Callable[[Options], Result]) -> Callable[[Options], Result]:
        if name in REGISTRY:
            raise ValueError(f"benchmark {name!r} is registered twice")
        REGISTRY[name] = Benchmark(name, description, function)
        return function

    return register
