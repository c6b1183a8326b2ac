PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo bench clean

$(STAMP): pyproject.toml examples/winback-hello/pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e examples/winback-hello --no-deps
	touch $(STAMP)

install: $(STAMP)

# Two pytest-xdist workers; tests/conftest.py groups and orders the tests (see its xdist notes).
# PYTEST_XDIST= (empty) runs the suite in one process.
PYTEST_XDIST ?= -n 2 --dist loadfile --no-loadscope-reorder

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_XDIST) $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/winback demo

bench: $(STAMP)
	$(BIN)/python bench/connectors.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
