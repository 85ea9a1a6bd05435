# Two commands on a fresh clone: `make demo` and `make test`. Only python3 and make needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ENV := TMS_MODE=demo TMS_DATA_DIR=$(CURDIR)/var/demo
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint bench install clean messages rehearsal

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(DEMO_ENV) $(BIN)/tms demo --bind $(HOST):$(PORT)

test: $(STAMP)
	TMS_MODE=test $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check src benchmarks
	$(BIN)/ruff check src benchmarks
	TMS_MODE=test $(BIN)/mypy src benchmarks
	TMS_MODE=test $(BIN)/tms makemigrations --check --dry-run
	TMS_MODE=test $(BIN)/python -m tms.core.translations --check

# Two web and two worker processes on PostgreSQL and Redis under load, with faults (issue 8).
rehearsal: $(STAMP)
	$(BIN)/python -m tms.testing.rehearsal $(REHEARSAL_ARGS)

bench: $(STAMP)
	@command -v wrk >/dev/null || echo "note: the lookups benchmark needs wrk (apt-get install -y wrk); it is skipped without it"
	TMS_MODE=test $(BIN)/python -m benchmarks.run $(BENCH_ARGS)

messages: $(STAMP)
	cd src/tms && TMS_MODE=test ../../$(BIN)/tms makemessages -l sw --no-obsolete -i "*/tests/*" -i "testing/*" -i "demo/*"
	TMS_MODE=test $(BIN)/python -m tms.core.translations

clean:
	rm -rf $(VENV) var build *.egg-info src/*.egg-info
