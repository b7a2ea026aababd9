# The seam between the tools. Two targets matter to newcomers: `make sample` and `make test`;
# both install everything they need first (a virtualenv in .venv, pinned by constraints.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := false

.PHONY: install sample test

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[test]'
	touch $@

# Run the nightly sync once on the bundled 2019 sample and publish warehouse/pdn.duckdb.
sample: install
	$(BIN)/pdn sync

# The whole test suite (what CI runs).
test: install
	$(BIN)/pytest
