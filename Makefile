# Two commands set a fresh machine up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-server lint bench bench-quick bench-direct clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --progress-bar on -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/cc-analytics run

# The suite runs in PYTEST_WORKERS processes (pytest-xdist; a test file stays in one process, so its module
# fixtures are built once), then the tests that need the machine to themselves (marked solo: tests/conftest.py
# SOLO) run alone. Each run ends with its 15 slowest steps (setup, call or teardown of a test).
PYTEST_WORKERS ?= 3
PYTEST = $(BIN)/python -m pytest --durations=15
test: lint
	$(PYTEST) -n $(PYTEST_WORKERS) --dist loadfile -m 'not solo'
	$(PYTEST) -m solo
	$(MAKE) test-server

# The figures suite again with every store on the ClickHouse server path (storage.dsn=http://… on the test
# server of tests/support/clickhouse_http.py); tests/conftest.py names the suite.
test-server: $(STAMP)
	CC_ANALYTICS_TEST_STORE=server $(PYTEST) -n $(PYTEST_WORKERS) --dist loadfile -m 'not solo'
	CC_ANALYTICS_TEST_STORE=server $(PYTEST) -m solo

# Style and types: the same checks as .pre-commit-config.yaml, and `make test` (hence CI) runs them first.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Benchmarks: prints the table of bench/README.md (~50 min, most of it generating a year of history; QUICK=1 or
# `make bench-quick` for the ~4 min version on a smaller history).
# COLLECTOR_FLAGS='--workers 2': flags of the collectors in the queue.mode=wal rows.
BENCH_FLAGS = $(if $(COLLECTOR_FLAGS),--collector-flags '$(COLLECTOR_FLAGS)',)
bench: $(STAMP)
	$(BIN)/python -m bench.run $(if $(QUICK),--quick,) $(BENCH_FLAGS)

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick $(BENCH_FLAGS)

# Developers connected directly: the capacity search over gRPC and HTTP/protobuf, then a store outage at half
# the gRPC capacity (~25 min; QUICK=1: ~8 min).
bench-direct: $(STAMP)
	$(BIN)/python -m bench.run --only-direct $(if $(QUICK),--quick,) $(BENCH_FLAGS)

clean:
	rm -rf $(VENV) .pytest_cache test-output
