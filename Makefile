# `make app` starts the dashboard, `make test` runs every test. Both set up .venv first if needed.
VENV ?= .venv
PYTHON := $(VENV)/bin/python

.PHONY: app test

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

app: $(VENV)/.installed
	$(PYTHON) -m streamlit run streamlit_app.py

test: $(VENV)/.installed
	$(PYTHON) -m pytest
