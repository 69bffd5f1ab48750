# The two commands:
#   make run    create .venv if missing, install, migrate, serve on http://localhost:8000
#   make test   install the test extras (+ Debian chromium and prometheus when root), ruff, mypy,
#               docs, pytest
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := run

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make run HOST=… PORT=…` override server.host/port; unset, config.toml and APP__SERVER__* decide.
HOST ?=
PORT ?=
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt
CHROMIUM ?= /usr/bin/chromium
PROMETHEUS ?= /usr/bin/prometheus

.PHONY: run test install install-test migrate lint typecheck docs pytest chromium prometheus constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps re-run the install whenever the dependency lists change.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml constraints.txt
	$(PIP) -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## run: serve the app with embedded defaults (SQLite, offline engine unless OPENAI_API_KEY)
run: install migrate
	@if [ -n "$${OPENAI_API_KEY:-}" ] && [ -z "$${APP__LLM__PROVIDER:-}" ]; then \
		echo "OPENAI_API_KEY is set: using the OpenAI provider"; \
		export APP__LLM__PROVIDER=openai; \
	fi; \
	exec $(BIN)/python -m app $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

migrate: install
	$(BIN)/python -m app migrate upgrade

## test: lint, format check, types, the docs site, then the whole test suite (warnings are errors)
test: install-test chromium prometheus lint typecheck docs pytest

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-test
	$(BIN)/mypy

## docs: build the MkDocs site into site/ (--strict: broken links, pages missing from the nav
## and a stale docs/configuration-reference.md fail the build)
docs: install-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# Two processes: the suite mostly waits (real servers, browsers, worker deaths), and
# --dist loadfile keeps each module (and its module-scoped servers) in one process.
PYTEST_WORKERS ?= 2
pytest: install-test
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

# Browser tests use Debian's chromium (Playwright cannot download browsers offline).
chromium:
	@if [ -x "$(CHROMIUM)" ]; then \
		echo "chromium: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "chromium missing and not root: browser tests will be skipped (or fail under CI=true)"; \
	fi

# The metrics test scrapes the service with a real Prometheus server (Debian's package; only
# the binary is used: the test runs it itself, the Debian service is never started).
prometheus:
	@if [ -x "$(PROMETHEUS)" ]; then \
		echo "prometheus: $(PROMETHEUS)"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
	else \
		echo "prometheus missing and not root: the Prometheus test will be skipped (or fail under CI=true)"; \
	fi

## constraints: re-pin every installed version (after changing dependencies)
constraints: install-test
	{ echo "# Exact versions for reproducible installs (pip install -c constraints.txt ...)."; \
	  echo "# Regenerate with: make constraints"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -i '^sustainable'; } > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site
