# make test / make demo work on a fresh machine with Python 3.11 and make:
# they create .venv when missing, install the project (editable, with its
# test extras; make demo: the runtime dependencies only) when pyproject.toml is newer than the
# last install, then run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-runtime

.PHONY: test demo bench install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP) $(RUN_STAMP)

# make demo needs the runtime dependencies only (no test or benchmark extras)
$(RUN_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $(RUN_STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests

demo: $(RUN_STAMP)
	$(VENV)/bin/ttc demo

bench: $(STAMP)
	$(PY) tools/bench/protocol.py --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
