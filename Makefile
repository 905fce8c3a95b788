# SPDX-License-Identifier: GPL-2.0
# mmtorture — see README.md. Every target bootstraps what it needs.
#
#   make deps      toolchain + pinned kernel source (into the cache)
#   make kernel    the cached test kernel (no-op when cached)
#   make           mmtorture.ko against KDIR
#   make run       boot the guest, run SCENARIO (default: every selftest)
#   make check     the test command: lint + build + guest selftests (KTAP)
#   make zoo       build a mutated kernel (PATCH=qemu/zoo/...) and run its scenario
#   make zoo-all   every mutation, SEEDS=3 runs each: what detected it, how fast
#   make install   selftests + module as a kselftest tree (INSTALL_PATH=dir)
#   make sweep     benchmark: every scenario over its parameter range (SWEEP_ARGS=)
#   make park-cost benchmark: what the park point costs other mms (PARK_COST_ARGS=)
#   make mix-bench benchmark: long mix runs on the clean kernel (MIX_BENCH_ARGS=)
#   make bench     peer comparison: mmtorture vs selftests/mm vs userspace race drivers (BENCH_ARGS=)
#
# KVER=7.2 (any release in ci/common.sh's table; default 7.3) selects the
# kernel release for every target: its pinned source, its cached tree (KDIR),
# the module built against it, the guest booted, the zoo patch variants.

ifneq ($(KERNELRELEASE),)
include $(src)/Kbuild
else

SHELL := /bin/bash
ROOT ?= $(CURDIR)
LLVM ?= -19
export LIBCLANG_PATH ?= /usr/lib/llvm$(LLVM)/lib
export PATH := $(HOME)/.cargo/bin:$(PATH)
# KVER: the kernel release (ci/common.sh); empty = its default. Exported to
# the ci/ scripts; $(shell) (make 4.3) does not see exports, so it is passed.
KVER ?=
export KVER
# KDIR: a user's own built tree, or the cached one of KVER (computed, not
# built, here).
KDIR ?= $(shell KVER=$(KVER) bash $(ROOT)/ci/kernel.sh --path 2>/dev/null)
KMAKE = $(MAKE) -C $(KDIR) M=$(ROOT) LLVM=$(LLVM)

.PHONY: all module deps kernel run check lint clippy fmt fmt-check shellcheck shard-test zoo-lint actionlint clean zoo zoo-all

all: module

module:
	$(KMAKE) modules

deps:
	bash ci/deps.sh

kernel: deps
	bash ci/kernel.sh

clippy:
	$(KMAKE) CLIPPY=1 W=1 KRUSTFLAGS=-Dwarnings modules

fmt:
	rustfmt --edition 2021 --config-path $(KDIR)/.rustfmt.toml src/*.rs src/ffi/*.rs src/engine/*.rs src/scenarios/*.rs

fmt-check:
	rustfmt --check --edition 2021 --config-path $(KDIR)/.rustfmt.toml src/*.rs src/ffi/*.rs src/engine/*.rs src/scenarios/*.rs

shellcheck:
	shellcheck -x ci/*.sh qemu/*.sh selftests/*.sh .ci/run

# the SHARD=i/n split: disjoint shards whose union is every selftest
shard-test:
	@bash ci/shard.sh --self-test > /dev/null || bash ci/shard.sh --self-test

# the CI workflow (actionlint from the venv, pinned in ci/deps.sh; it runs
# shellcheck on the workflow's run: scripts too)
MMT_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mmtorture
ACTIONLINT = $(MMT_CACHE)/venv/bin/actionlint
actionlint:
	@[ -x $(ACTIONLINT) ] || { echo "no $(ACTIONLINT): run 'make deps'"; exit 1; }
	$(ACTIONLINT) -shellcheck "$$(command -v shellcheck)" .github/workflows/*.yml

# the zoo patches' headers: Scenario:, Applies-to: (known releases), variants
zoo-lint:
	@bash ci/zoo.sh --lint

lint: fmt-check shellcheck shard-test zoo-lint actionlint clippy

run: module
	bash ci/check.sh --run "$(SCENARIO)" "$(ARGS)"

# SCENARIOS=a,b (selftest names without mmtorture_) and SHARD=i/n select
# the selftests (ci/shard.sh); neither: every selftest.
check:
	SCENARIOS="$(SCENARIOS)" SHARD="$(SHARD)" bash ci/check.sh

# SCENARIO= (with ARGS=, or none) replaces the patch's Scenario: line.
ZOO_OPTS = $(if $(SCENARIO),--scenario "$(SCENARIO)" --args "$(ARGS)",$(if $(ARGS),--args "$(ARGS)"))
zoo:
	@bash ci/zoo.sh $(ZOO_OPTS) "$(PATCH)" $(SEED)

# Every mutation (or PATCHES=...), SEEDS runs each (fresh random seeds): one
# line per run, then a table of DETECTED / MISSED / INCONCLUSIVE rows.
SEEDS ?= 3
zoo-all:
	@bash ci/zoo.sh --all --seeds "$(SEEDS)" $(ZOO_OPTS) $(PATCHES)

# The selftests in kselftest form, with the module, under INSTALL_PATH (a tree
# the kernel's run_kselftest.sh runs: see selftests/Makefile).
.PHONY: install sweep park-cost mix-bench bench
ifneq ($(filter install,$(MAKECMDGOALS)),)
ifeq ($(INSTALL_PATH),)
$(error make install: set INSTALL_PATH=dir)
endif
endif
install: module
	$(MAKE) -C selftests install INSTALL_PATH="$(INSTALL_PATH)" MMT_KO=$(ROOT)/mmtorture.ko KDIR=$(KDIR)

# Benchmark, not a test: every scenario over its parameter range, one boot.
sweep:
	bash ci/sweep.sh $(SWEEP_ARGS)

# benchmark: mix on the clean kernel, seeds 1..N (MIX_BENCH_ARGS=, e.g. --runs 20 --duration 60)
mix-bench:
	bash ci/mix-bench.sh $(MIX_BENCH_ARGS)

# benchmark: an unrelated mremap loop's rate with and without the park point
park-cost:
	bash ci/park-cost.sh $(PARK_COST_ARGS)

# peer comparison: the clean kernel and every built zoo kernel, each with its
# patch's scenario, the kernel's own selftests/mm and bench/race_*.c (one
# table; BENCH_ARGS=, e.g. --race-seconds 20 qemu/zoo/001-*.patch)
bench:
	bash ci/bench.sh $(BENCH_ARGS)

clean:
	-$(KMAKE) clean
	rm -f mmtorture.ko

endif
