"""docs/OPERATIONS.md and deploy/ keep up with the code: every TMS_* variable the code reads
is in the configuration reference and in the example environment file, and the systemd
units start the real commands with a graceful stop."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
SRC = ROOT / "src" / "tms"
OPERATIONS = ROOT / "docs" / "OPERATIONS.md"
DEPLOY = ROOT / "deploy"
VARIABLE = re.compile(r"\bTMS_[A-Z0-9_]*[A-Z0-9]\b")
# Read by tests only (crash tests, the test database's file), never by a deployment.
TEST_ONLY = re.compile(r"^TMS_(CRASH_[A-Z_]+|TEST_DB)$")


def is_test_code(path: Path) -> bool:
    parts = path.relative_to(SRC).parts
    return "tests" in parts or parts[0] == "testing" or path.name == "conftest.py"


def variables_in_code(*, tests: bool) -> set[str]:
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        if tests or not is_test_code(path):
            found.update(VARIABLE.findall(path.read_text(encoding="utf-8")))
    return found


def production_variables() -> set[str]:
    return {name for name in variables_in_code(tests=False) if not TEST_ONLY.match(name)}


def reference_section() -> str:
    text = OPERATIONS.read_text(encoding="utf-8")
    match = re.search(r"^## Configuration reference\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, "docs/OPERATIONS.md has no '## Configuration reference' section"
    return match.group(1)


def test_the_scan_finds_the_variables_it_should():
    # A scan that found nothing would make the next tests pass vacuously.
    found = production_variables()
    assert {"TMS_SECRET_KEY", "TMS_DATABASE_URL", "TMS_CACHE_URL", "TMS_QUIET_HOURS"} <= found
    assert "TMS_CRASH_KILLS" not in found


def test_every_variable_the_code_reads_is_in_the_configuration_reference():
    # A row of its own in a table, not a passing mention.
    documented = set(re.findall(r"^\| `(TMS_[A-Z0-9_]+)` \|", reference_section(), re.M))
    missing = sorted(production_variables() - documented)
    assert not missing, f"add these to the configuration reference in OPERATIONS.md: {missing}"


def test_the_reference_names_no_variable_the_code_does_not_read():
    documented = set(VARIABLE.findall(reference_section()))
    stale = sorted(documented - variables_in_code(tests=True))
    assert not stale, f"OPERATIONS.md documents variables nothing reads: {stale}"


def test_the_example_environment_file_has_every_variable():
    example = (DEPLOY / "tms.env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#?\s*(TMS_[A-Z0-9_]+)=", example, re.M))
    missing = sorted(production_variables() - listed)
    assert not missing, f"add these to deploy/tms.env.example: {missing}"


@pytest.mark.parametrize(
    ("unit", "command"),
    [("tms-web.service", "tms serve"), ("tms-worker@.service", "tms worker")],
)
def test_the_systemd_units_run_the_commands_and_stop_gracefully(unit: str, command: str):
    text = (DEPLOY / unit).read_text(encoding="utf-8")
    settings = dict(
        line.split("=", 1) for line in text.splitlines() if re.match(r"^[A-Za-z]+=", line)
    )
    program, verb = command.split()
    assert re.search(rf"/{program}\s+{verb}\b", settings.get("ExecStart", "")), (
        f"{unit}: ExecStart must run `{command}`"
    )
    assert settings.get("Restart") == "on-failure"
    assert settings.get("KillSignal") == "SIGTERM"
    assert int(settings.get("TimeoutStopSec", "0")) >= 30
    assert settings.get("User") == "tms"
    assert settings.get("EnvironmentFile") == "/etc/tms/tms.env"


def test_every_service_file_starts_a_tms_command():
    units = sorted(DEPLOY.glob("*.service"))
    assert units, "deploy/ has no systemd units"
    for unit in units:
        exec_start = re.search(r"^ExecStart=(.*)$", unit.read_text(encoding="utf-8"), re.M)
        assert exec_start, f"{unit.name} has no ExecStart"
        assert re.search(r"/tms\s+(serve|worker)\b", exec_start.group(1)), unit.name
