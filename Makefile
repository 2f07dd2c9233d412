# Two commands do all set-up on a fresh Debian/Ubuntu machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH ?=
# `make chaos CHAOS=peak` runs one row; CHAOS_ARGS=--traffic-s 30 scales the traffic time.
CHAOS ?=
CHAOS_ARGS ?=
# Test processes (pytest-xdist): most tests wait on simulated calls or subprocesses, so three
# share two cores well (10 min 36 s against 12 min 3 s with two, on 2026-12-06). The indexing
# wait that once timed out with three was a race in the test, not the load (fixed).
TEST_WORKERS ?= 3
# System packages the product or its tests need; installed by `make` when missing.
# redis-server: tests/test_redis_cluster.py starts a Redis Cluster of its own from it.
# postgresql-15: tests/test_pg_replica.py starts a primary and a streaming replica from its
# binaries (/usr/lib/postgresql/15/bin); the storage tests use the machine's server.
SYSTEM_PACKAGES := espeak-ng sox ffmpeg chromium fonts-wqy-zenhei redis-server postgresql-15
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The real-PBX tier (`make test-pbx`) only: an Asterisk 22 installed at this prefix (not a
# package: see docs/test-pbx.md), SIPp as callers and carrier, baresip as seat softphones.
HOTLINE_TEST_ASTERISK ?= /opt/asterisk-22/sbin/asterisk
PBX_TEST_PACKAGES := sip-tester baresip
PBX_TEST_TMP ?= /tmp/hotline-test-pbx

.PHONY: demo test test-pbx bench chaos lint sysdeps pbxdeps prompts clean graph

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# $(1): Debian packages; installs the missing ones.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing system packages:$$missing (apt-get)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

sysdeps:
	$(call apt_install,$(SYSTEM_PACKAGES))

pbxdeps:
	$(call apt_install,$(PBX_TEST_PACKAGES))

demo: $(STAMP) sysdeps
	$(BIN)/hotline db upgrade
	$(BIN)/python -m hotline.demo

test: $(STAMP) sysdeps
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15

# Scenarios against a real Asterisk (tests_pbx/, not collected by `make test`); one line and
# exit 0 where there is none. Root: every Asterisk runs in a network namespace of its own.
test-pbx:
	@if [ ! -x "$(HOTLINE_TEST_ASTERISK)" ]; then \
	  echo "test-pbx: skipped: no Asterisk at $(HOTLINE_TEST_ASTERISK) (set HOTLINE_TEST_ASTERISK)"; \
	elif [ "$$(id -u)" != 0 ]; then \
	  echo "test-pbx: skipped: needs root for network namespaces (ip netns)"; \
	else \
	  $(MAKE) --no-print-directory $(STAMP) sysdeps pbxdeps && \
	  HOTLINE_TEST_ASTERISK=$(HOTLINE_TEST_ASTERISK) $(BIN)/python -m pytest -p no:cacheprovider \
	    --basetemp=$(PBX_TEST_TMP) --durations=0 tests_pbx; \
	fi

bench: $(STAMP) sysdeps
	$(BIN)/python -m bench $(BENCH)

# Faults injected into peak traffic (chaos/): one `CHAOS <name> lost=.. duplicated=..` line each.
chaos: $(STAMP) sysdeps
	$(BIN)/python -m chaos $(CHAOS) $(CHAOS_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# Mandarin prompts (espeak-ng + sox) from the menu YAML into asterisk_conf/sounds/zh/
prompts: $(STAMP) sysdeps
	$(BIN)/python -m ivr.prompts

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

# The package import graph, its layer violations and cycles, and the long files and functions.
graph: $(STAMP)
	$(BIN)/python -m devtools.structure
