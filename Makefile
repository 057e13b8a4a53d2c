# The two commands of the README. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test venv dev-venv bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed
dev-venv: $(VENV)/.installed-dev

## make run: start the hub on the embedded default (SQLite + embedded broker) with the example routes
run: venv
	$(BIN)/hub run --demo-erp

## make test: the whole pytest suite (needs RabbitMQ and PostgreSQL, see DEVELOPERS.md), in
## TEST_WORKERS processes (pytest-xdist; a file's tests stay in one process, sharing its fixtures).
## Three on two cores: much of the suite waits on workers, brokers and subprocesses (DEVELOPERS.md)
TEST_WORKERS ?= 3
test: dev-venv
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: dev-venv
	$(BIN)/python benchmarks/e2e.py

clean:
	rm -rf $(VENV) .pytest_cache .hub
