# The two commands of the README:
#   make demo   installs everything into .venv and runs the main job on built-in demo data
#   make test   installs everything into .venv and runs the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup postgres-server demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip -q
	$(BIN)/pip install -c constraints.txt -e '.[dev]'
	$(BIN)/tempose doctor
	touch $@

demo: setup
	$(BIN)/tempose demo

# The PostgreSQL tests start a throwaway cluster from Debian's server package; install it
# when initdb is nowhere to be found (apt needs root, or sudo).
postgres-server:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  s=""; [ "$$(id -u)" -eq 0 ] || s=sudo; \
	  $$s apt-get update && DEBIAN_FRONTEND=noninteractive $$s apt-get install -y postgresql; }

# pytest exits 5 when it collects no test; make turns any non-zero exit into a failure.
test: setup postgres-server
	$(BIN)/ruff check tempose_cli models store tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) tempose-home .pytest_cache
