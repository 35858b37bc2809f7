# Kite Logik. Two commands on a fresh machine with Python 3.11 and make: `make demo`, `make test`.
SHELL := /bin/bash
export UV_PYTHON ?= python3.11
export CREWAI_DISABLE_TELEMETRY := true
export OTEL_SDK_DISABLED := true
export HAYSTACK_TELEMETRY_ENABLED := False
export PATH := $(CURDIR)/.tools/bin:$(PATH)

UV := $(CURDIR)/scripts/uv.sh
BENCH ?=

.PHONY: help install demo test test-core test-plugins lint bench build clean

help:
	@echo "make demo | test | test-core | test-plugins | test-plugin-<name> | lint | bench [BENCH=pattern] | build"

install:
	@$(UV) sync --locked

demo: install
	@$(UV) run --no-sync kitelogik demo

test: install
	@scripts/test.sh

test-core: install
	@scripts/test-core.sh

test-plugins: install
	@scripts/test-plugins.sh

test-plugin-%: install
	@scripts/test-plugins.sh $*

lint: install
	@$(UV) run --no-sync ruff check .
	@$(UV) run --no-sync ruff format --check .
	@$(UV) run --no-sync pyright

bench: install
	@$(UV) run --no-sync python benchmarks/run.py $(if $(BENCH),--filter '$(BENCH)') || [ $$? -eq 2 ]
	@scripts/bench-plugins.sh '$(BENCH)'

build: install
	@rm -rf dist
	@# Every package, workspace member or not (plugins whose frameworks conflict are not members).
	@for p in packages/kitelogik-*/; do $(UV) build "$$p" --sdist --wheel -o dist -q || exit 1; done
	@ls dist

clean:
	rm -rf dist .venvs .pytest_cache .ruff_cache
