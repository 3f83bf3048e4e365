# modax — the two commands are `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lab lint format firmware-test wokwi clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev,lab,scale]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/modax demo

test: firmware-test $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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

lab: $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name modax --display-name "modax (.venv)"
	$(BIN)/jupyter lab --notebook-dir=notebooks

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data/lake .pytest_cache
