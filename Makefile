# The seam between the tools. Two targets matter to newcomers: `make sample` and `make test`;
# both install everything they need first (a virtualenv in .venv, pinned by constraints.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Telemetry is switched off by the code itself (flows/settings.py: silence_telemetry).

.PHONY: install sample test serve status purge report docs bench

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

# Serve the nightly schedule (needs `prefect server start` and PREFECT_API_URL; see README "Operations").
serve: install
	$(BIN)/pdn serve

# Last runs; exits 4 when nothing was published within PDN_STATUS_MAX_AGE_HOURS (26 h).
status: install
	$(BIN)/pdn status

# Apply the retention policy (PDN_RETENTION_YEARS, 3 years) to the private raw history.
purge: install
	$(BIN)/pdn purge

# Write the latest year's bilan (HTML) and the CAF exports into warehouse/rapports/.
report: install
	$(BIN)/pdn report

# The data documentation site (dbt docs) of the published warehouse, in warehouse/docs-dbt/.
docs: install
	$(BIN)/pdn docs

# Benchmark the nightly sync (sample, national network, growth, SQL floor); writes bench/RESULTS.md (~11-13 min).
bench: install
	$(BIN)/python -m bench.run
