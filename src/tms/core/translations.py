"""Compile the Swahili catalogue with polib (no GNU gettext needed), or check it.

python -m tms.core.translations          # write the .mo files
python -m tms.core.translations --check  # fail if a .po is incomplete or a .mo is stale
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def catalogues() -> list[Path]:
    return sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))


def problems(po_path: Path) -> list[str]:
    po = polib.pofile(str(po_path))
    found = [f"untranslated: {e.msgid!r}" for e in po.untranslated_entries()]
    found += [f"fuzzy: {e.msgid!r}" for e in po.fuzzy_entries()]
    return found


def compiled(po_path: Path) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "out.mo"
        polib.pofile(str(po_path)).save_as_mofile(str(target))
        return target.read_bytes()


def main(argv: list[str]) -> int:
    check = "--check" in argv
    failures = []
    for po_path in catalogues():
        mo_path = po_path.with_suffix(".mo")
        failures += [f"{po_path}: {p}" for p in problems(po_path)]
        data = compiled(po_path)
        if check:
            if not mo_path.exists() or mo_path.read_bytes() != data:
                failures.append(f"{mo_path} is stale: run `make messages`")
        else:
            mo_path.write_bytes(data)
    for failure in failures:
        print(failure, file=sys.stderr)  # noqa: T201
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
