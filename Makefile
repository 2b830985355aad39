# Roster's quick start: `make run` imports the bundled sample, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench dev clean

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

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/run.py

# The Dagster UI and daemon on this project's code location and instance.
dev: install
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/.roster/dagster} $(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf $(VENV) .roster
