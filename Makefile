# Every target sets up .venv itself (python3 -m venv, then pip install -e '.[test]').
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KRR := $(VENV)/bin/krr
STAMP := $(VENV)/.installed

.PHONY: all setup test test-cluster demo lint format sample clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

# a scheduler and two workers started as commands on 127.0.0.1 (also part of `make test`)
test-cluster: $(STAMP)
	$(PY) -m pytest -q tests/test_cluster_processes.py

lint: $(STAMP)
	$(VENV)/bin/ruff check krrcli tests sample_data benchmarks
	$(VENV)/bin/ruff format --check krrcli tests sample_data benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format krrcli tests sample_data benchmarks

demo: $(STAMP)
	@mkdir -p demo_out
	$(KRR) fit sample_data/demo.csv --gamma 1 --alpha 0.001 -o demo_out/demo.joblib
	$(KRR) predict demo_out/demo.joblib sample_data/demo.csv --float-format %.4f
	$(KRR) predict demo_out/demo.joblib sample_data/demo_new.csv --float-format %.4f
	$(KRR) inspect demo_out/demo.joblib
	$(KRR) cv sample_data/energy.csv --standardize --gamma 0.03,0.1,0.3 --alpha 1e-4:1e-1:4 -o demo_out/energy.joblib
	$(KRR) predict demo_out/energy.joblib sample_data/energy_new.csv --with-input -o demo_out/energy_pred.csv
	head -4 demo_out/energy_pred.csv

sample:
	$(PY) sample_data/make_sample.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache .hypothesis

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

.PHONY: bench bench-quick
bench: $(BENCH_STAMP)
	$(PY) benchmarks/run.py

bench-quick: $(BENCH_STAMP)
	$(PY) benchmarks/run.py --quick
