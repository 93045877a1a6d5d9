# Two commands matter: `make demo` and `make test`.  Both set up what a fresh
# Debian 12 machine lacks: the system packages (when root) and .venv.
SHELL      := /bin/bash
PYTHON     ?= python3
VENV       := .venv
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.hpcval-installed
SYS_PKGS   := openmpi-bin libopenmpi-dev gcc make python3-venv chromium git \
              charliecloud charliecloud-builders debootstrap squashfs-tools squashfuse python3-lark \
              slurm-wlm munge iproute2
PYTEST_OPTS ?=

.PHONY: setup sysdeps demo test test-unit test-integration test-system clean distclean

setup: sysdeps $(STAMP)

sysdeps:
	@scripts/sysdeps.sh $(SYS_PKGS)

# --clear: a .venv without the stamp is an install that was cut off (pip
# killed mid-way leaves a package that imports nothing and that a second pip
# run takes for installed), so it is rebuilt whole; the stamp is written only
# once the packages import
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -c 'import hpcval, reframe, pandas, scipy, matplotlib, mpi4py, tensorflow' 2>/dev/null \
	    || { echo "hpcval setup: $(VENV) does not import its packages; run make again to rebuild it" >&2; exit 1; }
	@touch $@

demo: setup
	@scripts/demo.sh

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest $(PYTEST_OPTS)

test-unit: setup
	$(BIN)/pytest -m unit $(PYTEST_OPTS)

test-integration: setup
	$(BIN)/pytest -m integration $(PYTEST_OPTS)

test-system: setup
	$(BIN)/pytest -m system $(PYTEST_OPTS)

clean:
	rm -rf runs/ reports/*/ stage/ output/ .pytest_cache

distclean: clean
	rm -rf $(VENV)
