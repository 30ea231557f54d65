# The two commands a new user needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LINTED := airflow_provider_batch tests $(wildcard benchmarks dags_examples)

.PHONY: demo test lint typecheck unit install protos clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Installed in two steps so the protos are generated with the grpcio-tools that matches the venv's grpcio.
$(STAMP): $(PY) pyproject.toml setup.py $(shell find protos -name '*.proto')
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q "grpcio-tools==1.84.0" "grpcio==1.84.0"
	$(PY) -m pip install -q --no-build-isolation -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

protos: $(STAMP)
	$(PY) setup.py generate

demo: install
	$(PY) -m airflow_provider_batch.demo

lint: install
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

typecheck: install
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest -q -ra

clean:
	rm -rf $(VENV) build *.egg-info airflow_provider_batch/_proto/armada airflow_provider_batch/_proto/jobservice
