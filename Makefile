# Two commands do the whole set-up on a fresh machine (Python 3.11 + pip):
#   make run   - create .venv, install corridor, run the default scenario into out/baseline
#   make test  - same set-up, then the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-quick clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/corridor run baseline --out out/baseline --cbp-csv out/baseline/cbp.csv
	@echo "results in $(CURDIR)/out/baseline (monthly.csv, daily.parquet, summary.json, cbp.csv)"

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	bash benchmarks/run.sh full

bench-quick: $(STAMP)
	bash benchmarks/run.sh quick

clean:
	rm -rf out .pytest_cache
