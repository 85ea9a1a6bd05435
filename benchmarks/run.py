"""Run the benchmarks and rewrite BENCHMARKS.md: ``python -m benchmarks.run [--only NAME]``.

``make bench BENCH_ARGS="--applications 10000"`` runs a quick, smaller check.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from benchmarks.registry import MODULES, REGISTRY, Options, Result, Skipped

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
REPORT = ROOT / "BENCHMARKS.md"

HEADER = """# Benchmarks

Written by `make bench` (`python -m benchmarks.run`) from the results stored in
`benchmarks/results/`; do not edit by hand. Run one benchmark with
`make bench BENCH_ARGS="--only NAME"`, a quick smaller check with
`BENCH_ARGS="--applications 10000"` (add `--no-record` to leave this file alone).
Figures are from one run each, on the machine described under each benchmark.
"""


def load_results() -> dict[str, Result]:
    results = {}
    for path in sorted(RESULTS.glob("*.json")):
        result = Result.from_json(json.loads(path.read_text()))
        results[result.name] = result
    return results


def render(results: dict[str, Result]) -> str:
    order = [name for name in REGISTRY if name in results]
    order += sorted(name for name in results if name not in REGISTRY)
    parts = [HEADER]
    for name in order:
        result = results[name]
        machine = result.machine
        parts.append(f"## {result.name}: {result.title}\n")
        parts.append(f"- Command: `{result.command}`")
        parts.append(f"- Date: {result.date}")
        parts.append(
            f"- Machine: {machine.get('nproc')} CPUs ({machine.get('cpu')}), "
            f"{machine.get('memory')} memory, {machine.get('os')}; "
            f"Python {machine.get('python')}, Django {machine.get('django')}, "
            f"{machine.get('database')}\n"
        )
        parts.append("| measure | result |")
        parts.append("|---|---|")
        parts.extend(f"| {label} | {value} |" for label, value in result.rows)
        parts.append("")
        parts.extend(f"{note}\n" for note in result.notes)
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--only", action="append", metavar="NAME", help="Run only NAME.")
    parser.add_argument("--applications", type=int, metavar="N", help="Size (default: each's own).")
    parser.add_argument("--keep", action="store_true", help="Keep temporary databases.")
    parser.add_argument("--no-record", action="store_true", help="Print; change no file.")
    parser.add_argument("--list", action="store_true", help="List the benchmarks and stop.")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tms.settings")
    import django

    django.setup()
    for module in MODULES:
        importlib.import_module(module)
    if args.list:
        for bench in REGISTRY.values():
            print(f"{bench.name}: {bench.description}")
        return 0
    names = args.only or list(REGISTRY)
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    if args.applications is not None and args.applications < 1:
        parser.error("--applications must be at least 1")

    options = Options(applications=args.applications, keep=args.keep)
    for name in names:
        bench = REGISTRY[name]
        print(f"== {bench.name}: {bench.description}", flush=True)
        try:
            result = bench.run(options)
        except Skipped as skipped:
            print(f"  skipped: {skipped}")
            continue
        for label, value in result.rows:
            print(f"  {label}: {value}")
        if not args.no_record:
            RESULTS.mkdir(parents=True, exist_ok=True)
            path = RESULTS / f"{result.name}.json"
            path.write_text(json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
    if not args.no_record:
        REPORT.write_text(render(load_results()))
        print(f"Wrote {REPORT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
