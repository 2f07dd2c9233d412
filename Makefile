# Two commands do all set-up on a fresh Debian/Ubuntu machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH ?=
# Test processes (pytest-xdist): many tests wait on simulated calls, so two share two cores well.
TEST_WORKERS ?= 2
# System packages the product or its tests need; installed by `make` when missing.
SYSTEM_PACKAGES := espeak-ng sox ffmpeg chromium fonts-wqy-zenhei
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test bench lint sysdeps prompts clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

sysdeps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing system packages:$$missing (apt-get)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: $(STAMP) sysdeps
	$(BIN)/hotline db upgrade
	$(BIN)/python -m hotline.demo

test: $(STAMP) sysdeps
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15

bench: $(STAMP) sysdeps
	$(BIN)/python -m bench $(BENCH)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# Mandarin prompts (espeak-ng + sox) from the menu YAML into asterisk_conf/sounds/zh/
prompts: $(STAMP) sysdeps
	$(BIN)/python -m ivr.prompts

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
