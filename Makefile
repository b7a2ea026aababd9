# The seam between the tools. Two targets matter to newcomers: `make sample` and `make test`;
# both install everything they need first (a virtualenv in .venv, pinned by constraints.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Telemetry is switched off by the code itself (flows/settings.py: silence_telemetry).

.PHONY: install sample test serve status purge report docs bench chaos bi bi-serve

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[test]'
	touch $@

# Run the nightly sync once on the bundled 2019 sample and publish warehouse/pdn.duckdb.
sample: install
	$(BIN)/pdn synchroniser

# The whole test suite (what CI runs).
test: install
	$(BIN)/pytest

# Serve the nightly schedule (needs `prefect server start` and PREFECT_API_URL; see README "Operations").
serve: install
	$(BIN)/pdn planifier

# Last runs; exits 4 when nothing was published within PDN_STATUS_MAX_AGE_HOURS (26 h).
status: install
	$(BIN)/pdn etat

# Apply the retention policy (PDN_RETENTION_YEARS, 3 years) to the private raw history.
purge: install
	$(BIN)/pdn purger

# Write the latest year's bilan (HTML) and the CAF exports into warehouse/rapports/.
report: install
	$(BIN)/pdn rapport

# The data documentation site (dbt docs) of the published warehouse, in warehouse/docs-dbt/.
docs: install
	$(BIN)/pdn documentation

# Benchmark the nightly sync (sample, deployment runs, national network, growth, floors); writes bench/RESULTS.md (~35 min).
bench: install
	$(BIN)/python -m bench.run

# Kill -9 the whole nightly service (Prefect server + pdn planifier + flow) at random moments, 10 rounds (~15 min):
# every next run must publish without a human, with one alert per run that did not (README "Recovery").
chaos: install
	$(BIN)/python -m tests.chaos_unattended --rondes 10

# Apache Superset for the CAF's dashboard, in its own virtualenv (.venv-bi, pinned by bi/constraints-superset.txt),
# with a SECRET_KEY made here once and never committed. Then `make bi-serve` and `pdn bi superset`
# (README "Apache Superset").
BI_VENV := .venv-bi
bi: $(BI_VENV)/.installed

$(BI_VENV)/.installed: bi/requirements-superset.txt bi/constraints-superset.txt
	$(PYTHON) -m venv $(BI_VENV)
	$(BI_VENV)/bin/pip install --quiet --upgrade pip
	$(BI_VENV)/bin/pip install --quiet --constraint bi/constraints-superset.txt --requirement bi/requirements-superset.txt
	test -s $(BI_VENV)/superset-secret-key || (umask 077 && $(BI_VENV)/bin/python -c "import secrets; print(secrets.token_urlsafe(48))" > $(BI_VENV)/superset-secret-key)
	touch $@

# Superset on http://127.0.0.1:8088 (SQLite metadata in $(BI_VENV)/instance; SUPERSET_ADMIN_PASSWORD creates the admin).
bi-serve: bi
	bi/serve-superset.sh
