# modax — the two commands are `make demo` and `make test`.
# Every install takes the versions in requirements.lock (what CI passed with); `make lock`
# refreshes it after a change to pyproject.toml, `make lock-upgrade` moves to the newest allowed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
PIP_INSTALL := $(BIN)/python -m pip install --quiet -c $(LOCK)
# What `make demo` needs (dashboards, and amqtt when mosquitto is absent); `make test`: all.
DEMO_STAMP := $(VENV)/.installed-demo
STAMP := $(VENV)/.installed

.PHONY: demo test lab lint format firmware-test wokwi clean venv lock lock-upgrade docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEMO_STAMP): $(BIN)/python pyproject.toml $(LOCK)
	$(PIP_INSTALL) -e ".[dashboards,broker]"
	touch $(DEMO_STAMP)

$(STAMP): $(BIN)/python pyproject.toml $(LOCK)
	$(PIP_INSTALL) -e ".[dashboards,broker,dev,docs,lab,scale]"
	touch $(STAMP) $(DEMO_STAMP)

venv: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/modax demo

test: firmware-test $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The lock: every extra, any platform, Python 3.11+, resolved by uv. Pins already in the file are
# kept while they still satisfy pyproject.toml; lock-upgrade takes the newest allowed.
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
	--quiet -o $(LOCK)

$(BIN)/uv: $(BIN)/python
	$(PIP_INSTALL) uv

lock: $(BIN)/uv
	$(UV_COMPILE)

lock-upgrade: $(BIN)/uv
	$(UV_COMPILE) --upgrade

# The firmware's portable C++ core and its vectors, built and run with the system g++.
firmware-test:
	$(MAKE) -C firmware test

# The Wokwi runner's own virtual environment (its client needs websockets<13; amqtt pins 15).
WOKWI_VENV := firmware/.wokwi-venv
wokwi: $(WOKWI_VENV)/.installed

$(WOKWI_VENV)/.installed: firmware/wokwi/requirements.txt
	$(PYTHON) -m venv $(WOKWI_VENV) || python3 -m venv $(WOKWI_VENV)
	$(WOKWI_VENV)/bin/python -m pip install --quiet -r firmware/wokwi/requirements.txt
	touch $@

# The documentation site (mkdocs.yml) into site/: warnings are errors; nothing is fetched.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lab: $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name modax --display-name "modax (.venv)"
	$(BIN)/jupyter lab --notebook-dir=notebooks

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data/lake .pytest_cache site .cache
