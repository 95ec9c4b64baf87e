PY ?= python3
PORT ?= 8000
HOST ?= 127.0.0.1
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test bench lint migrate demo clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/dxhub migrate
	$(BIN)/dxhub demo --if-empty
	$(BIN)/dxhub run --host $(HOST) --port $(PORT)

test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2 $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

bench: $(DEV_STAMP)
	$(BIN)/python -m bench

migrate: $(STAMP)
	$(BIN)/dxhub migrate

demo: $(STAMP)
	$(BIN)/dxhub demo

clean:
	rm -rf $(VENV) var/*.db var/*.db-*
