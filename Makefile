# The two commands of the README: `make demo` and `make test`. Both set everything up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo demo-serve test lint typecheck check services clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Debian packages the demo and tests start: redis-server (state store) and chromium (web view test).
services:
	@command -v redis-server >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 || { \
	  echo "installing redis-server and chromium with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server chromium >/dev/null; }

demo: $(STAMP) services
	$(VENV)/bin/correlator demo

# The demo, then its incident API on 127.0.0.1:8080 until Ctrl-C (docs/api-examples.md).
demo-serve: $(STAMP) services
	$(VENV)/bin/correlator demo --serve

test: $(STAMP) services
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) .run demo-incidents.json .pytest_cache .mypy_cache .ruff_cache
