# ClassCast: `make demo` and `make test` each do all the set-up they need on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= var/demo

MO     := controller/translations/en/LC_MESSAGES/messages.mo

.PHONY: demo test lint check-appliance system-deps venv clean translations messages browser-libs

demo: venv system-deps translations browser-libs
	$(BIN)/classcast-controller demo --panels 3 --data-dir $(DATA)

test: venv system-deps translations browser-libs lint check-appliance
	$(BIN)/pytest -q

# The appliance: shellcheck on the scripts, systemd-analyze verify on the units, the installers' plans.
check-appliance: system-deps
	scripts/check-appliance

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

# The UI catalogue: .po files are the source, compiled .mo files are build output (not committed).
translations: $(MO)

$(MO): controller/translations/en/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel -q compile -d controller/translations

# The browser libraries the pages load (Chart.js, the Socket.IO client), pinned and hash-checked, from the npm registry
# into controller/static/vendor/ (not committed); nothing is fetched when they are already there.
browser-libs:
	$(PYTHON) scripts/browser-libs

# Gather the messages marked in code, templates and the staff pages' scripts (babel.cfg) into the one
# catalogue (run after adding or changing messages), then translate the new entries in the .po files.
messages: venv
	$(BIN)/pybabel -q extract -F babel.cfg -k N_ -k _ -o controller/translations/messages.pot .
	$(BIN)/pybabel -q update -i controller/translations/messages.pot -d controller/translations

# Debian's Chromium (the kiosk browser), systemd and shellcheck (the appliance checks): root installs
# them; anyone else is told what to install.
system-deps:
	@scripts/system-deps

clean:
	rm -rf $(VENV) var .pytest_cache
