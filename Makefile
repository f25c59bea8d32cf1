# The two commands a newcomer needs: `make run` (Kontor locally, embedded defaults) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

.PHONY: install run test lint unit e2e test-future
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/kontor up --config config.yaml

# lint first: ruff (lint and format) and mypy (strict on dialogs/ and storage/), then every test
test: lint
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# the whole suite with Kontor's clock a year ahead (every process the tests start inherits the shift)
test-future: $(STAMP)
	KONTOR_CLOCK_SHIFT_DAYS=365 $(PY) -m pytest -q

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

e2e: $(STAMP)
	$(PY) -m pytest -q tests/integration tests/e2e

# `make bench`: the load benchmark of issue 5 (a benchmark, not a test): one table, figures appended to
# bench/results.jsonl. Real redis-server, gunicorn, RQ and wrk on loopback; about 3 minutes. See bench/README.md.
.PHONY: bench
bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

.PHONY: faults
faults: $(STAMP)
	$(PY) -m pytest -q -m faults tests/faults
