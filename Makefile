# konkurs: one command brings the system up (`make run`), one runs every test (`make test`).
# Both create the virtual environment, install what they need and fetch Kafka on first use.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
GEN := build/gen/python
PROTOS := $(shell find schemas -name '*.proto' 2>/dev/null)
# The upcasters that ship with each schema (schemas/README.md) sit beside its generated code.
SCHEMA_PY := $(shell find schemas -name '*.py' 2>/dev/null)
STAMP := $(VENV)/.installed

.PHONY: help venv proto lint audit fmt test test-unit run stop clean logs status bench bench-scale chaos

help:
	@echo "make run    bring Kafka, PostgreSQL and every service up, load the 2017 programme"
	@echo "make stop   stop everything, keep the data"
	@echo "make clean  stop everything and delete the data (.local/) and generated code"
	@echo "make test   run the whole test suite (starts what it needs)"
	@echo "make lint   ruff, mypy --strict, buf lint and buf breaking, the dependency audit"
	@echo "make proto  generate the protobuf code into $(GEN)"
	@echo "make bench  measure throughput and freshness beside raw baselines"
	@echo "make chaos  SIGKILL every process, Kafka and PostgreSQL under load for DURATION s (600); SEED=N replays"
	@echo "make bench-scale  how cost grows (SCALE_ARGS=\"--applications 100000\"; 1,000,000 by default)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# The generated protobuf modules (package `konkurs.*`) live outside the source tree.
	echo "$(CURDIR)/$(GEN)" > $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/konkurs-schemas.pth
	touch $@

proto: $(GEN)/.stamp

$(GEN)/.stamp: $(STAMP) $(PROTOS) $(SCHEMA_PY)
	rm -rf $(GEN) && mkdir -p $(GEN)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grpc_tools.protoc -I schemas --python_out=$(GEN) --mypy_out=$(GEN) $(PROTOS)
	cd schemas && find . -name '*.py' -exec cp --parents {} $(CURDIR)/$(GEN) \;
	touch $@

lint: proto audit
	$(BIN)/ruff check services tests bench chaos schemas scripts
	$(BIN)/ruff format --check services tests bench chaos schemas scripts
	$(BIN)/mypy
	bash schemas/buf.sh lint
	bash schemas/buf.sh breaking

# The pinned dependencies against PyPI's vulnerability database (AUDIT_ARGS=--strict in CI
# that reaches it: then a package that could not be audited fails too).
audit: $(STAMP)
	$(BIN)/python -m konkurs_ops.dependency_audit $(AUDIT_ARGS)

fmt: $(STAMP)
	$(BIN)/ruff format services tests bench chaos schemas scripts
	$(BIN)/ruff check --fix services tests bench chaos schemas scripts

test: proto
	$(BIN)/konkurs stack fetch
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-unit: proto
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

run: proto
	$(BIN)/konkurs up

stop:
	@if [ -x $(BIN)/konkurs ]; then $(BIN)/konkurs down; else echo "nothing to stop"; fi

status: $(STAMP)
	$(BIN)/konkurs status

logs:
	tail -F .local/logs/*.log

bench: proto $(VENV)/.bench-installed
	$(BIN)/python -m bench $(BENCH_ARGS)

DURATION ?= 600

chaos: proto
	$(BIN)/konkurs stack fetch
	$(BIN)/python -m chaos --seconds $(DURATION) $(if $(SEED),--seed $(SEED))

bench-scale: proto $(VENV)/.bench-installed
	$(BIN)/python -m bench.scale $(SCALE_ARGS)

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

clean: stop
	rm -rf .local build

