# ClassCast: `make demo` and `make test` each do all the set-up they need on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= var/demo

.PHONY: demo test lint system-deps venv clean

demo: venv system-deps
	$(BIN)/classcast-controller demo --panels 3 --data-dir $(DATA)

test: venv system-deps lint
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) scripts/check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The kiosk browser: Debian's Chromium (root installs it; anyone else is told what to install).
system-deps:
	@scripts/system-deps

clean:
	rm -rf $(VENV) var .pytest_cache
