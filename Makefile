# SPDX-License-Identifier: GPL-2.0
#
# rust-ckpt. The two commands a person needs:
#   make demo    boot the CI kernel in QEMU, load the module, run the demo
#   make check   build everything and run every test (host and guest)
#
# Other targets: setup (packages, bindgen, kernel source), kernel (the CI
# kernel, cached), module, tests, tool, header, golden, rust-analyzer,
# clippy, bench (the benchmark: its own kernel without the debug options,
# not part of check), clean.
# `make fuzz` fuzzes the image decoder for FUZZ_SECONDS (default 3600;
# make check runs it for 60 s).
# `make module KDIR=/path/to/rust/enabled/kernel/build` builds against
# another kernel build tree (its source must be at $(KDIR)/source or KSRC=).

SHELL := /bin/bash
TOP := $(CURDIR)
CACHE := $(or $(CKPT_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rust-ckpt)
# The CI kernel build directory, recorded by scripts/build-kernel.
KDIR ?= $(shell cat $(CACHE)/kbuild.path 2>/dev/null)
KSRC ?= $(shell if [ -e "$(KDIR)/source" ]; then readlink -f $(KDIR)/source; else cat $(CACHE)/ksrc.path 2>/dev/null; fi)
BINDGEN ?= $(shell ls -d $(CACHE)/bindgen-*/bin/bindgen 2>/dev/null | sort -V | tail -n1)
KMAKE = $(MAKE) -C $(KSRC) O=$(KDIR) M=$(TOP) LLVM=-19 RUSTC=/usr/bin/rustc BINDGEN=$(BINDGEN)

.PHONY: all setup kernel module tests tool header golden layout-break rust-analyzer clippy check demo bench clean

all: module

setup:
	scripts/setup

kernel: setup
	scripts/build-kernel

module:
	@test -n "$(KDIR)" -a -d "$(KDIR)" || { echo "no kernel build: run 'make kernel' or pass KDIR=" >&2; exit 1; }
	$(KMAKE) modules

clippy:
	$(KMAKE) CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver modules

rust-analyzer:
	$(KMAKE) rust-analyzer

tests:
	$(MAKE) -C tests KSRC=$(KSRC)

tool:
	cd tools/ckpt && cargo build --release --locked --quiet

header:
	scripts/gen-header

# Regenerate the golden images the tool's tests decode, from the real module.
golden: module tool
	scripts/vm-run -- scripts/capture-golden

# Build a SCHEDSTATS=n kernel and show the module refuse to load on it.
layout-break:
	scripts/layout-break

check:
	scripts/check

# The ioctl against a /proc walk, trees of 100 to 10,000 processes: a table,
# and a CSV whose path is the last line (README.md, "Benchmark").
bench:
	scripts/bench

demo:
	scripts/demo

# The decoder fuzz target (tools/ckpt/fuzz), a long run; corpus and crash
# inputs in the cache (scripts/fuzz).
FUZZ_SECONDS ?= 3600
.PHONY: fuzz
fuzz: setup
	scripts/fuzz $(FUZZ_SECONDS)

clean:
	-$(KMAKE) clean
	$(MAKE) -C tests clean
	rm -rf tools/ckpt/target
