# Roster's quick start: `make run` imports the bundled sample, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test check lint types format bench dev clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Sets everything up (virtual env, embedded PostgreSQL, migrations, Dagster home under .roster/)
# and imports examples/contacts.csv, printing the finished import with its counts.
run: install
	$(BIN)/roster import examples/contacts.csv --column-map @examples/contacts.column_map.json --team example

# Three workers (pytest-xdist), on 2 cores: most of the suite's time is waiting on servers, runs and
# recoveries, not computing, so a third worker still shortens it; tests/conftest.py says how tests
# are handed out. The fast layer below stays on two: it computes more than it waits.
test: install
	$(BIN)/python -m pytest -n 3

# The fast layer, for after every change: lint, the type check, then the tests that need only
# PostgreSQL (the `slow` ones, which start servers or processes, are left to `make test`).
check: lint types
	$(BIN)/python -m pytest -n 2 -m "not slow" -q

# ruff: the lint rules and the format in pyproject.toml, checked by CI (`make format` applies them).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy, as configured in pyproject.toml: strict on schemas/ and all of roster/ (the SDK included);
# in pipelines/, assets/ and resources/ every function has full type hints.
types: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The bench in one table (bench/table.py: idle CPU, HTTP and small imports, fixed cost, 1M and 10M
# rows against the raw-SQL floor, dry run and undo costs), recorded in bench/history.jsonl and
# bench/RESULTS.md. About an hour on 2 cores; `bench/table.py --quick` checks it in minutes.
bench: install
	$(BIN)/python bench/table.py

# The Dagster UI and daemon on this project's code location and instance.
dev: install
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/.roster/dagster} $(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf $(VENV) .roster
