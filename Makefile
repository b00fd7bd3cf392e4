# Two commands on a fresh clone: `make demo` and `make test`. Both build .venv first.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/faceanalytics demo --data data

# Two worker processes (CI has 2 cores), each test file on one worker: a file's module fixtures
# (a Spark session, a moto server, a landed review) are built once.  Serial:
#   make test PYTEST_ARGS=
PYTEST_ARGS ?= -n 2 --dist loadfile

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_fetch.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
