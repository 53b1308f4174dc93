# ferry: `make test` and `make demo` do all the set-up on a fresh Debian machine (as root).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system servers lint test demo bench chaos chaos-report stop clean

system:
	@bash scripts/bootstrap.sh

$(STAMP): pyproject.toml | system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Bytecode for ferry's own modules (an editable install has none, and PYTHONDONTWRITEBYTECODE may be set):
# compiling them afresh costs every `ferry` command about 50 ms.
install: $(STAMP)
	@$(BIN)/python -m compileall -q src/ferry >/dev/null

servers: system
	@bash scripts/rgw.sh install
	@bash scripts/rgw.sh start >/dev/null
	@bash scripts/nginx.sh install
	@bash scripts/nginx.sh start >/dev/null
	@bash scripts/gcs-emulator.sh install
	@bash scripts/gcs-emulator.sh start >/dev/null
	@bash scripts/azurite.sh install
	@bash scripts/azurite.sh start >/dev/null
	@bash scripts/postgres.sh install
	@bash scripts/postgres.sh start >/dev/null

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: install servers lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

# A seeded chaos campaign (docs/reliability.md): faults until CHAOS_FAULTS were injected or CHAOS_MINUTES
# passed; one JSON line per run in CHAOS_OUT. The storage-server restart fault uses a radosgw of its own.
CHAOS_SEED ?= 1
CHAOS_FAULTS ?= 1000
CHAOS_MINUTES ?= 35
CHAOS_OUT ?= chaos-results.jsonl
chaos: install servers
	$(BIN)/python -m tests.chaos --seed $(CHAOS_SEED) --faults $(CHAOS_FAULTS) --minutes $(CHAOS_MINUTES) \
		--private-rgw $(CURDIR)/.run/chaos-rgw:7580 --out $(CHAOS_OUT)

chaos-report: install
	$(BIN)/python -m pip install -q -e '.[chaos]'
	$(BIN)/python -m tests.chaos.report $(CHAOS_OUT) --png chaos-results.png

demo: install servers
	@PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

bench: install servers
	@PATH="$(CURDIR)/$(BIN):$$PATH" bash bench/run.sh

stop:
	@bash scripts/rgw.sh stop
	@bash scripts/nginx.sh stop
	@bash scripts/gcs-emulator.sh stop
	@bash scripts/azurite.sh stop
	@bash scripts/postgres.sh stop

clean: stop
	rm -rf $(VENV) .run
