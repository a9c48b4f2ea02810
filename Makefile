# xdptcp — see README.md. Every target installs what it needs first (deploy/install-deps.sh).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo

.PHONY: help demo deps deps-guest build test test-guest bench-scale lint unit-test fuzz fuzz-smoke bench micro instructions soak clean

help:
	@echo "make demo   xdptcp vs the Linux kernel: echo servers under the same load, reports, ratio, chart"
	@echo "make test   install dependencies, check formatting and lints, run every test"
	@echo "make bench  xdptcp vs Linux TCP vs the bare AF_XDP floor, 5 reps each (~12 min, root);"
	@echo "            table and charts in bench/results/ and the README"
	@echo "make micro  criterion benchmarks only (frame parse, checksum, TCP cost per segment)"
	@echo "make instructions  instructions per TCP operation (callgrind); CHECKOUTS=\"/tmp/base .\" compares"
	@echo "make soak   the lossy-network property test over 10,000 more seeds, 25% reordering"
	@echo "make bench-scale  a million established connections on one server: memory per connection, echo p99, setup rate"
	@echo "make fuzz   every cargo fuzz target for FUZZ_SECONDS each (default 1800), executions per target"
	@echo "make test-guest  xdptcp in a qemu guest on virtio-net, native XDP (deploy/guest-lab.sh; root, ~10 min under TCG)"
	@echo "make build  release build"

deps:
	@./deploy/install-deps.sh

deps-guest:
	@./deploy/install-deps.sh guest

# xdptcp in a qemu guest (TCG) on virtio-net with 2 queues, native XDP, against Linux peers
# on the host side (tests/guest/run.sh says what it checks). Not part of `make test`; .ci/run runs it after.
# BUILD_LOCK prefixes the build (e.g. "flock /tmp/build.lock" where builds share a machine).
BUILD_LOCK ?=
test-guest: deps-guest
	$(BUILD_LOCK) $(CARGO) build --release --bin xdptcp
	./tests/guest/run.sh

# The README's first command: installs, builds, runs the lab comparison (root needed).
demo:
	@./deploy/install-deps.sh build
	$(CARGO) build --release --bin xdptcp
	./deploy/demo.sh

build: deps
	$(CARGO) build --release --all-targets

lint: deps
	$(CARGO) fmt --check
	$(CARGO) fmt --check --manifest-path fuzz/Cargo.toml
	$(CARGO) clippy --all-targets -- -D warnings

# Tests print only their summaries (the property test's transfers and mismatches, the
# interop tests' wrk, sockperf and nc results), so output is shown. The interop tests need
# root: they build network namespaces, load XDP and open AF_XDP sockets. `cargo test
# --examples` builds the examples as test harnesses, so the runnable example binaries
# that the interop tests start are built first — in the test profile, which shares its
# build of the library with the tests (the dev profile would build it once more).
unit-test: deps
	$(CARGO) build --profile test --examples
	$(CARGO) test --lib --bins --tests --examples -- --nocapture
	$(CARGO) test --benches
	$(CARGO) test --doc

test: lint unit-test fuzz-smoke

# cargo fuzz (nightly, installed by deps): each target of fuzz/ for FUZZ_SECONDS, then its
# executions; a crash stops it with the input in fuzz/artifacts/ (fuzz/run.sh says what next).
# The smoke run, part of `make test`, gives each target FUZZ_SMOKE_SECONDS.
FUZZ_SECONDS ?= 1800
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_TARGETS := wire_parsers connection stack_frames

fuzz: deps
	./fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: deps
	./fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

# Criterion first (its medians feed the per-segment row), then the side-by-side runs on a
# lab of their own; `xdptcp bench --help` lists the knobs (--reps, --only, ...).
micro: deps
	$(CARGO) bench --bench wire --bench tcp -- --warm-up-time 1 --measurement-time 3

# Instructions per operation of the TCP micro-benchmark cases, counted with callgrind
# (repeatable where timings are not); CHECKOUTS lists checkouts to compare side by side.
instructions: deps
	./bench/instructions.sh $(CHECKOUTS)

bench: micro
	$(CARGO) build --release --bin xdptcp
	./target/release/xdptcp bench --readme README.md $(BENCH_ARGS)

# A million concurrent connections held by one server (bench/scale.sh; root; HOLD, ACTIVE,
# SECONDS_OF_LOAD and OUT change it). Not part of `make test`.
bench-scale: deps
	$(CARGO) build --release --bin xdptcp
	./bench/scale.sh

soak: deps
	XDPTCP_SIM_FIRST_SEED=100000 XDPTCP_SIM_SEEDS=10000 XDPTCP_SIM_REORDER=0.25 $(CARGO) test --test netsim -- --nocapture

clean:
	$(CARGO) clean
	rm -rf fuzz/target
