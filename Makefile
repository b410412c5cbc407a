# The two commands of the README:
#   make demo   installs everything into .venv and runs the main job on built-in demo data
#   make test   installs everything into .venv and runs the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip -q
	$(BIN)/pip install -c constraints.txt -e '.[dev]'
	$(BIN)/tempose doctor
	touch $@

demo: setup
	$(BIN)/tempose demo

# pytest exits 5 when it collects no test; make turns any non-zero exit into a failure.
test: setup
	$(BIN)/ruff check tempose_cli models store tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) tempose-home .pytest_cache
