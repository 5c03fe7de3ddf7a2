# `make app` starts the dashboard, `make test` runs every test, `make lint` checks the code's
# style and types (mypy.ini), `make bench` trains the presets and checks the accuracy the README
# states, on MNIST and on drawn digits (bench/bench_drawings.py, about an hour on 2 cores).
# Each sets up .venv first if needed.
VENV ?= .venv
PYTHON := $(VENV)/bin/python

AXE := node_modules/axe-core/axe.min.js

.PHONY: app test lint bench

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

# axe-core, which the browser tests run in each page, from npm (package-lock.json pins it).
$(AXE): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

app: $(VENV)/.installed
	$(PYTHON) -m streamlit run streamlit_app.py

# Three pytest workers (pytest-xdist): the browser tests on one, the Ray tests on one, the rest
# spread over all (tests/conftest.py); the tests mostly wait on servers, browsers and clusters.
test: $(VENV)/.installed $(AXE)
	$(PYTHON) -m pytest -n 3

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(VENV)/.installed
	$(PYTHON) bench/bench_drawings.py
