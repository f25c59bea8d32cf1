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

.PHONY: install run test unit e2e
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/kontor up --config config.yaml

test: $(STAMP)
	$(PY) -m pytest -q

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
