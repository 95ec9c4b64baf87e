PY ?= python3
PORT ?= 8000
HOST ?= 127.0.0.1
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test bench lint migrate demo clean i18n-extract i18n-update i18n-compile

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

# Translations (Babel). Each catalogue app/<domain>/translations/ko.po is a domain: the core (with the
# base templates and macros), the platform, and one per module (its package and its templates).
I18N_DOMAINS := $(patsubst app/%/translations/ko.po,%,$(sort $(wildcard app/*/translations/ko.po app/*/*/translations/ko.po)))
I18N_BUILD := build/i18n
i18n_sources = app/$(1) $(if $(filter core,$(1)),templates/base.html templates/error.html templates/macros,$(wildcard templates/$(1)))

# Messages marked in code and templates, one template (.pot) per domain.
i18n-extract: $(DEV_STAMP)
	mkdir -p $(I18N_BUILD)
	$(foreach d,$(I18N_DOMAINS),$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output \
		-o $(I18N_BUILD)/$(subst /,.,$(d)).pot $(call i18n_sources,$(d)) &&) true

# Add new messages, untranslated, to the Korean catalogues (tests/core/test_i18n.py fails until translated).
# Not `pybabel update`: it would mark obsolete the messages whose English comes from data (see the module).
i18n-update: i18n-extract
	$(BIN)/python -m app.core.i18n_update $(I18N_BUILD)

# Compiled catalogues (.mo) for tools, and Babel's checks of each catalogue; the app itself compiles the
# .po files in memory at start-up. Every catalogue is compiled even when one fails its checks.
i18n-compile: $(DEV_STAMP)
	status=0; $(foreach d,$(I18N_DOMAINS),mkdir -p $(I18N_BUILD)/$(subst /,.,$(d)) && $(BIN)/pybabel compile --statistics -l ko \
		-i app/$(d)/translations/ko.po -o $(I18N_BUILD)/$(subst /,.,$(d))/ko.mo || status=1;) exit $$status

clean:
	rm -rf $(VENV) var/*.db var/*.db-*
