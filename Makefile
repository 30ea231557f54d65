# The two commands a new user needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LINTED := airflow_provider_batch tests $(wildcard benchmarks dags_examples)
# The Airflow compatibility matrix: the newest Airflow runs in .venv, the lowest supported (the floor declared in
# pyproject.toml) in its own venv, made with uv on first use and kept between runs.
AIRFLOW_FLOOR := $(shell sed -n 's/^ *"apache-airflow>=\([0-9][0-9.]*\).*/\1/p' pyproject.toml)
FLOOR_VENV := .venv-airflow$(AIRFLOW_FLOOR)
FLOOR_STAMP := $(FLOOR_VENV)/.installed
# What Airflow's constraints file would pin for it: FastAPI 0.137+ breaks Airflow 3.2's execution API at start.
FLOOR_PINS := "fastapi<0.137"
FLOOR_TESTS := tests/unit tests/e2e/test_dags_test.py

.PHONY: demo test test-airflow-floor lint typecheck unit install protos clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Build isolation, as for any user: pyproject.toml pins the grpcio-tools that generates the protos (the one place for
# its version), so the generated code matches the declared grpcio and protobuf floors.
$(STAMP): $(PY) pyproject.toml setup.py $(shell find protos -name '*.proto')
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

$(FLOOR_STAMP): $(STAMP)
	rm -rf $(FLOOR_VENV)
	$(VENV)/bin/uv venv -q --python $(PY) $(FLOOR_VENV)
	$(VENV)/bin/uv pip install -q --python $(FLOOR_VENV)/bin/python "apache-airflow==$(AIRFLOW_FLOOR)" $(FLOOR_PINS) -e ".[test]"
	touch $(FLOOR_STAMP)

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

test: lint typecheck $(FLOOR_STAMP)
	$(VENV)/bin/pytest -q -ra
	$(MAKE) --no-print-directory test-airflow-floor

# The unit tests and the example DAGs under `airflow dags test` on the lowest supported Airflow.
test-airflow-floor: $(FLOOR_STAMP)
	@echo "Airflow $(AIRFLOW_FLOOR) (the lowest supported), in $(FLOOR_VENV):"
	$(FLOOR_VENV)/bin/pytest -q -ra $(FLOOR_TESTS)

clean:
	rm -rf $(VENV) .venv-airflow* build *.egg-info airflow_provider_batch/_proto/armada airflow_provider_batch/_proto/jobservice
