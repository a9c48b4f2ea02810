# xdptcp — see README.md. Every target installs what it needs first (deploy/install-deps.sh).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo

.PHONY: help deps build test lint unit-test sim-test bench soak clean

help:
	@echo "make test   install dependencies, check formatting and lints, run every test"
	@echo "make bench  criterion benchmarks (frame parse, checksum, TCP cost per segment)"
	@echo "make soak   the lossy-network property test over 20,000 more seeds"
	@echo "make build  release build"

deps:
	@./deploy/install-deps.sh

build: deps
	$(CARGO) build --release --all-targets

lint: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# The property test prints its summary (transfers, bytes, mismatches), so it runs apart
# with its output shown.
unit-test: deps
	$(CARGO) test --lib --bins --tests -- --skip lossy_transfers_deliver_every_byte_once_in_order
	$(CARGO) test --benches
	$(CARGO) test --doc

sim-test: deps
	$(CARGO) test --test netsim -- --nocapture

test: lint unit-test sim-test

bench: deps
	$(CARGO) bench --bench wire --bench tcp

soak: deps
	XDPTCP_SIM_FIRST_SEED=100000 XDPTCP_SIM_SEEDS=20000 $(CARGO) test --test netsim -- --nocapture

clean:
	$(CARGO) clean
