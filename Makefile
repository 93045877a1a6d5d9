# Two commands matter: `make demo` and `make test`.  Both set up what a fresh
# Debian 12 machine lacks: the system packages (when root) and .venv.
SHELL      := /bin/bash
PYTHON     ?= python3
VENV       := .venv
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.hpcval-installed
SYS_PKGS   := openmpi-bin libopenmpi-dev gcc make python3-venv chromium git \
              charliecloud charliecloud-builders debootstrap squashfs-tools squashfuse python3-lark \
              slurm-wlm munge iproute2 lammps lammps-examples hpcc likwid lmod \
              podman fuse-overlayfs inotify-tools libc6-dev zlib1g-dev liblz4-dev dpkg-dev
PYTEST_OPTS ?=

.PHONY: setup sysdeps demo test test-unit test-integration test-system clean distclean

setup: sysdeps $(STAMP)

sysdeps:
	@scripts/sysdeps.sh $(SYS_PKGS)

# the stamp is written only once the packages import (scripts/venv.sh says why
# the venv is rebuilt whole when it is missing)
$(STAMP): requirements.txt pyproject.toml scripts/venv.sh
	@scripts/venv.sh $(PYTHON) $(VENV)
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
