# Worknode: build, run and test.
#
#   make run  [ARCH=aarch64|riscv64|x86_64]   build the image and boot it under QEMU
#   make test                                  host tests, then QEMU system tests on
#                                              all three arches if the SDK is present
#   make image / test-qemu / test-host / check-nostd / fuzz / clean
#   make iso / run-iso / test-iso   (x86_64) a bootable ISO (GRUB), booted
#                                   under QEMU from its CD drive
#   make repro-check                two fresh clones build byte-identical images
#   make bench-log                             log appends vs raw disk writes
#   make bench-gate                            a gated action vs a raw PPC
#   make bench-net                             messages through the streams vs
#                                              raw frames, between two nodes
#   make cluster [NODES=3]                     cluster nodes on the runner's
#                                              switch, Raft and Strong events
#   make test-cluster                          3 nodes under kills, partitions,
#                                              loss and a wiped disk
#   make bench-cluster                         Strong events on 3 nodes vs
#                                              Local events on one
#   make bite-check                            the crash test must catch a log
#                                              that does not flush
#   make sim [SEEDS=10000]                     Raft cluster simulator (host only)
#   make bench-raft                            our Raft vs openraft and raft-rs
#
# Settings (all optional):
#   ARCH          aarch64 (default), riscv64, x86_64
#   MICROKIT_SDK  the Microkit 2.3.0 SDK; default /opt/microkit-sdk-2.3.0
#   CONFIG        Microkit configuration: debug (default; kernel console on),
#                 release, benchmark
#   PROFILE       Cargo profile of the PDs: release (default), size
#                 (opt-level "z") or dev
#   SYSTEM        system.xml profile: default (what `run` boots), test, bench,
#                 bench-gate, net, bench-net or cluster
#
# Every check that can fail before a long build (unknown ARCH, no SDK, no
# QEMU, no usable Rust toolchain) stops make with one line saying what to do.

ARCH ?= aarch64
MICROKIT_SDK ?= /opt/microkit-sdk-2.3.0
CONFIG ?= debug
PROFILE ?= release
SYSTEM ?= default
QEMU_TIMEOUT ?= 120
# Crash test: kills per run, and a fixed seed to repeat a run (random if empty).
CRASH_KILLS ?= 5
CRASH_SEED ?=

ALL_ARCHES := aarch64 riscv64 x86_64
MICROKIT_VERSION := 2.3.0

board_aarch64 := qemu_virt_aarch64
board_riscv64 := qemu_virt_riscv64
board_x86_64  := x86_64_generic
target_aarch64 := aarch64-unknown-none
target_riscv64 := riscv64gc-unknown-none-elf
target_x86_64  := x86_64-unknown-none
qemu_pkg_aarch64 := qemu-system-arm
qemu_pkg_riscv64 := qemu-system-misc
qemu_pkg_x86_64  := qemu-system-x86

BOARD  := $(board_$(ARCH))
TARGET := $(target_$(ARCH))
ifeq ($(BOARD),)
$(error unknown ARCH '$(ARCH)': use one of $(ALL_ARCHES))
endif
ifeq ($(filter $(PROFILE),release size dev),)
$(error unknown PROFILE '$(PROFILE)': use release, size or dev)
endif
ifeq ($(filter $(CONFIG),debug release benchmark),)
$(error unknown CONFIG '$(CONFIG)': use debug, release or benchmark)
endif

# The PDs are plain bare-metal Rust targets. rust-sel4's `*-sel4-minimal`
# target specs are these builtin targets plus an `.elf` suffix (checked with
# `rustc --print target-spec-json`); the one real difference, on x86_64, is
# a static, non-PIE, no-RELRO link, which the flags below give. Using the
# builtins means no JSON specs to keep in step with rustc.
rustflags_x86_64 := -Crelocation-model=static -Clink-arg=-znorelro
# LLVM's RISC-V machine outliner (run on opt-level "z" code) can tail-call an
# outlined sequence through t1 while t1 still holds a live pointer: in
# seL4_Recv the badge pointer, so the governor stored to its own text and
# faulted at the first receive. LLVM bug llvm/llvm-project#177126, still in
# the LLVM 22 of rustc 1.95/1.96. `make test-qemu ARCH=riscv64 PROFILE=size`
# is the regression test.
rustflags_riscv64 := -Cllvm-args=-enable-machine-outliner=never
TARGET_VAR := $(shell echo $(TARGET) | tr 'a-z-' 'A-Z_')

SDK_BOARD_DIR := $(MICROKIT_SDK)/board/$(BOARD)/$(CONFIG)
# x86_64 boots the 32-bit seL4 ELF through multiboot; the other boards'
# images contain their kernel, and the runner ignores this path.
KERNEL_ELF := $(SDK_BOARD_DIR)/elf/sel4_32.elf

BUILD_DIR := build/$(ARCH)/$(CONFIG)
# VARIANT: an image built with test-only features, kept apart (`bite`).
VARIANT ?=
IMAGE_DIR := $(BUILD_DIR)/$(SYSTEM)$(if $(VARIANT),-$(VARIANT))
SDF       := $(IMAGE_DIR)/worknode.system
# The node's persistent disk (its event log): kept across `make run`s and
# rebuilds; `make clean` removes it with the rest of build/.
DISK      := build/$(ARCH)/disk.img
IMAGE     := $(IMAGE_DIR)/worknode.img
PD_TARGET_DIR := $(abspath $(BUILD_DIR)/target)
PD_OUT_DIR    := $(PD_TARGET_DIR)$(if $(VARIANT),-$(VARIANT))/$(TARGET)/$(if $(filter dev,$(PROFILE)),debug,$(PROFILE))

HOST_BIN := target/debug
WORKNODE := $(HOST_BIN)/worknode
RUNNER   := $(HOST_BIN)/worknode-qemu-runner

# --- toolchain for the PDs ---------------------------------------------------
# -Zbuild-std needs a rustc whose sysroot has the library sources: the pinned
# toolchain with the rust-src component, or Debian's rustc-web + rust-web-src.
has_rust_src = $(shell test -f "$$($(1) --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library/core/Cargo.toml" && echo yes)
PD_RUSTC ?= $(firstword $(foreach r,rustc /usr/bin/rustc,$(if $(call has_rust_src,$(r)),$(r))))
PD_SYSROOT = $(shell $(PD_RUSTC) --print sysroot)
# rust-lld if the toolchain ships it, else LLVM's ld.lld (Debian: lld-19).
PD_LINKER ?= $(firstword $(wildcard $(PD_SYSROOT)/lib/rustlib/*/bin/rust-lld) \
                         $(shell command -v ld.lld ld.lld-19 2>/dev/null) \
                         $(wildcard /usr/lib/llvm-*/bin/ld.lld))

# clippy for the PDs: the clippy-driver of the same toolchain as PD_RUSTC
# (Debian: rust-web-clippy), run as cargo's workspace wrapper.
PD_CLIPPY ?= $(firstword $(wildcard $(dir $(shell command -v $(PD_RUSTC) 2>/dev/null))clippy-driver))

need-sdk = $(if $(wildcard $(MICROKIT_SDK)/bin/microkit),,$(error Microkit SDK not found at '$(MICROKIT_SDK)': set MICROKIT_SDK=<path to microkit-sdk-$(MICROKIT_VERSION)> or install it there (README: "Getting the Microkit SDK")))$(if $(wildcard $(SDK_BOARD_DIR)/include),,$(error the Microkit SDK at '$(MICROKIT_SDK)' has no board $(BOARD) in config $(CONFIG): rebuild it with --boards $(BOARD) --configs $(CONFIG)))$(if $(filter $(MICROKIT_VERSION),$(shell cat $(MICROKIT_SDK)/VERSION 2>/dev/null)),,$(error the Microkit SDK at '$(MICROKIT_SDK)' is not version $(MICROKIT_VERSION)))
need-rustc = $(if $(PD_RUSTC),,$(error no rustc with the standard library sources for -Zbuild-std: run `rustup component add rust-src`, or apt-get install rustc-web rust-web-src))
need-linker = $(if $(PD_LINKER),,$(error no LLVM linker for the PDs: apt-get install lld-19 (or use a rustup toolchain that ships rust-lld)))
need-qemu = $(if $(shell command -v qemu-system-$(ARCH) 2>/dev/null),,$(error qemu-system-$(ARCH) not found: apt-get install --no-install-recommends $(qemu_pkg_$(ARCH))))
need-grub = $(if $(and $(shell command -v grub-mkrescue 2>/dev/null),$(shell command -v xorriso 2>/dev/null),$(wildcard /usr/lib/grub/i386-pc/multiboot.mod)),,$(error make iso needs GRUB for BIOS and xorriso: apt-get install --no-install-recommends grub-pc-bin grub-common xorriso mtools))
grub-present = $(and $(shell command -v grub-mkrescue 2>/dev/null),$(shell command -v xorriso 2>/dev/null),$(wildcard /usr/lib/grub/i386-pc/multiboot.mod))
sdk-present = $(and $(wildcard $(MICROKIT_SDK)/bin/microkit),$(filter $(MICROKIT_VERSION),$(shell cat $(MICROKIT_SDK)/VERSION 2>/dev/null)))

# Reproducible images: the checkout's absolute path (which Cargo passes for
# path dependencies and build scripts' outputs, and which ends up in panic
# locations and debug info) is written as /worknode, so it is not in the
# image's bytes. It still reaches the symbol hashes through Cargo's
# metadata: make repro-check and docs/architecture.md say how far builds
# reproduce.
repro_rustflags := --remap-path-prefix=$(abspath .)=/worknode

# `cargo <args>` in pds/ for the PDs of the rendered description $(1): the
# bare-metal target with build-std, the SDK's libsel4 headers, the board.
pd_cargo = env \
		RUSTC="$(PD_RUSTC)" \
		RUSTC_BOOTSTRAP=1 \
		SEL4_INCLUDE_DIRS="$(abspath $(SDK_BOARD_DIR)/include)" \
		WORKNODE_SDF="$(abspath $(1))" \
		WORKNODE_BOARD="$(BOARD)" \
		CARGO_TARGET_$(TARGET_VAR)_LINKER="$(PD_LINKER)" \
		CARGO_TARGET_$(TARGET_VAR)_RUSTFLAGS="$(rustflags_$(ARCH)) $(repro_rustflags) $(3)" \
		cargo $(2) --quiet --locked \
			-Zbuild-std=core,alloc,compiler_builtins \
			-Zbuild-std-features=compiler-builtins-mem \
			--target $(TARGET)

.PHONY: all help run run-iso iso test-iso repro-check image test test-host test-qemu test-qemu-all test-net test-cluster bite-check-cluster cluster check-nostd lint fuzz host-tools clean bench-log bench-gate bench-net bench-cluster sim bench-raft bite-check

all: image

help:
	@sed -n '1,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

# --- host tools ---------------------------------------------------------------
host-tools:
	cargo build --quiet -p worknode-cli -p worknode-qemu-runner

# --- the system image -----------------------------------------------------------
# 1. render system.xml for the board and profile (and check Worknode's rules);
# 2. build exactly the PD binaries that description names;
# 3. let the SDK's microkit tool assemble the image.
image: host-tools
	$(need-sdk)$(need-rustc)$(need-linker)
	@mkdir -p $(IMAGE_DIR)
	$(WORKNODE) system render system.xml --board $(BOARD) --profile $(SYSTEM) -o $(SDF)
	@programs="$$($(WORKNODE) system programs $(SDF))" && \
	echo "building PDs for $(TARGET) ($(PROFILE)): $$programs" && \
	cd pds && $(call pd_cargo,$(SDF),build --profile $(PROFILE) --target-dir "$(PD_TARGET_DIR)$(if $(VARIANT),-$(VARIANT))" $(pd_features_$(SYSTEM)) $(pd_features_variant_$(VARIANT))) \
			$$(for p in $$programs; do printf -- '--bin %s ' $$p; done) && \
	cd .. && for p in $$programs; do cp "$(PD_OUT_DIR)/$$p" "$(IMAGE_DIR)/$$p.elf"; done
	$(MICROKIT_SDK)/bin/microkit $(SDF) --search-path $(IMAGE_DIR) \
		--board $(BOARD) --config $(CONFIG) \
		-o $(IMAGE) -r $(IMAGE_DIR)/report.txt
	@echo "image: $(IMAGE)"

run:
	$(need-sdk)$(need-qemu)
	$(MAKE) --no-print-directory image
	$(RUNNER) run --arch $(ARCH) --image $(IMAGE) --kernel $(KERNEL_ELF) --disk $(DISK)

# A bootable ISO for x86_64 PCs and virtual machines: GRUB (BIOS) boots the
# seL4 kernel by multiboot with the image as its module
# (qemu/x86_64.grub.cfg). Boot it with `make run-iso`, or write it to a
# virtual machine's CD drive; docs/boards.md.
ISO := $(IMAGE_DIR)/worknode.iso
iso:
	@test "$(ARCH)" = x86_64 || { echo "make iso: an ISO boots x86_64 PCs and virtual machines; use ARCH=x86_64" >&2; exit 2; }
	$(need-sdk)$(need-grub)
	$(MAKE) --no-print-directory image
	rm -rf $(IMAGE_DIR)/iso && mkdir -p $(IMAGE_DIR)/iso/boot/grub
	cp $(KERNEL_ELF) $(IMAGE_DIR)/iso/boot/sel4.elf
	cp $(IMAGE) $(IMAGE_DIR)/iso/boot/worknode.img
	cp qemu/x86_64.grub.cfg $(IMAGE_DIR)/iso/boot/grub/grub.cfg
	grub-mkrescue -o $(ISO) $(IMAGE_DIR)/iso 2>$(IMAGE_DIR)/grub-mkrescue.log || { cat $(IMAGE_DIR)/grub-mkrescue.log >&2; exit 1; }
	@echo "iso: $(ISO)"

run-iso:
	$(need-sdk)$(need-qemu)
	$(MAKE) --no-print-directory iso
	$(RUNNER) run --arch $(ARCH) --iso $(ISO) --image $(IMAGE) --kernel $(KERNEL_ELF) --disk $(DISK)

# Reproducible images: two fresh clones of the committed HEAD, built one
# after the other from scratch at the same path, must give byte-identical
# images (each program ELF is compared too, to say which differs). The
# last line is `arch=.. system=.. image_bytes=N programs=K repro=identical`.
# Clones in different directories still differ: docs/architecture.md says
# why (Cargo hashes the absolute path of path dependencies that lie
# outside the pds workspace into every crate's symbol names).
REPRO_DIR := build/repro
repro_build = rm -rf $(REPRO_DIR)/worknode && git clone -q . $(REPRO_DIR)/worknode && \
	$(MAKE) --no-print-directory -C $(REPRO_DIR)/worknode image ARCH=$(ARCH) SYSTEM=$(SYSTEM) CONFIG=$(CONFIG) PROFILE=$(PROFILE) \
		>$(REPRO_DIR)/$(1).log 2>&1 || { tail -20 $(REPRO_DIR)/$(1).log; exit 1; }; \
	mkdir -p $(REPRO_DIR)/$(1) && cp $(REPRO_DIR)/worknode/$(IMAGE_DIR)/*.elf $(REPRO_DIR)/worknode/$(IMAGE) $(REPRO_DIR)/$(1)/
repro-check:
	$(need-sdk)$(need-rustc)$(need-linker)
	rm -rf $(REPRO_DIR) && mkdir -p $(REPRO_DIR)
	@$(call repro_build,first)
	@$(call repro_build,second)
	@a=$(REPRO_DIR)/first; b=$(REPRO_DIR)/second; \
	programs=0; differ=""; \
	for elf in $$a/*.elf; do \
		programs=$$((programs + 1)); \
		cmp -s $$elf $$b/$$(basename $$elf) || differ="$$differ $$(basename $$elf)"; \
	done; \
	if [ -n "$$differ" ] || ! cmp -s $$a/worknode.img $$b/worknode.img; then \
		echo "arch=$(ARCH) system=$(SYSTEM) programs=$$programs differ=$${differ# } repro=differ"; exit 1; \
	fi; \
	echo "arch=$(ARCH) system=$(SYSTEM) image_bytes=$$(wc -c <$$a/worknode.img) programs=$$programs repro=identical"

# --- tests ----------------------------------------------------------------------
test: test-host sim test-qemu-all

test-host: host-tools
	cargo test --workspace --quiet
	$(WORKNODE) system check system.xml
	@# The shared rings' memory ordering under loom's model checker (its
	@# own target dir: --cfg loom rebuilds everything): the frame rings and
	@# the block queue.
	RUSTFLAGS="--cfg loom" cargo test --quiet --release -p worknode-netq -p worknode-blkq --test loom --target-dir target/loom

# The Raft cluster simulator: SEEDS seeds from SEED_FROM, every check on.
# Its last line is `seeds=N violations=0 ops=...`; a failing seed prints the
# command that replays it. 10,000 seeds by default (about two minutes on two
# cores), in `make test` too: 300 seeds once missed a liveness failure that
# 10,000 found twice (docs/raft.md, "Learners").
SEEDS ?= 10000
SEED_FROM ?= 0
sim:
	cargo run --quiet --release -p worknode-raft-sim -- --seeds $(SEEDS) --from $(SEED_FROM)

# Our Raft against openraft and raft-rs on the same in-memory workload, in
# one process, each run as its own benchmarks run it, at 32- and 256-byte
# payloads; the last line is `ours_vs_openraft_32=<r> ours_vs_raftrs_32=<r>
# ours_vs_openraft_256=<r> ours_vs_raftrs_256=<r>`.
bench-raft:
	cargo bench --quiet -p worknode-raft-bench --bench cluster

# Boots the test-profile image (system.xml plus `profiles="test"` elements)
# headless and checks it against its own description.
test-qemu:
	$(need-sdk)$(need-qemu)
	$(MAKE) --no-print-directory image SYSTEM=test
	rm -f $(BUILD_DIR)/test/disk.img
	$(RUNNER) test --arch $(ARCH) --image $(BUILD_DIR)/test/worknode.img \
		--kernel $(KERNEL_ELF) --system $(BUILD_DIR)/test/worknode.system \
		--disk $(BUILD_DIR)/test/disk.img \
		--transcript $(BUILD_DIR)/test/serial.log --timeout $(QEMU_TIMEOUT)
	@# The power-cut crash test, on systems with an event log: cut the
	@# power CRASH_KILLS times while events are recorded (the runner's disk
	@# loses or tears what was not flushed), check every acknowledged
	@# record is recovered and verify the disk. A 256 KiB disk, so the
	@# ring wraps and reclaims during the test.
	@if grep -q 'name="log"' $(BUILD_DIR)/test/worknode.system; then \
		rm -f $(BUILD_DIR)/test/crash-disk.img; \
		echo "$(RUNNER) crash --arch $(ARCH) --kills $(CRASH_KILLS) $(if $(CRASH_SEED),--seed $(CRASH_SEED))"; \
		$(RUNNER) crash --arch $(ARCH) --image $(BUILD_DIR)/test/worknode.img \
			--kernel $(KERNEL_ELF) --disk $(BUILD_DIR)/test/crash-disk.img --disk-kib 256 \
			--kills $(CRASH_KILLS) $(if $(CRASH_SEED),--seed $(CRASH_SEED)) \
			--transcripts $(BUILD_DIR)/test/crash --timeout $(QEMU_TIMEOUT); \
	else \
		echo "crash test: SKIPPED on $(ARCH): this system has no event log yet"; \
	fi

# The crash test's bite check: the same test on an image whose log PD
# acknowledges before its flush must see acknowledged records lost (it
# passes only then). Not part of `make test`: it shows the test can fail.
pd_features_variant_bite := --features worknode-pd-log/bite-unflushed
bite-check:
	$(need-sdk)$(need-qemu)
	$(MAKE) --no-print-directory image SYSTEM=test VARIANT=bite
	rm -f $(BUILD_DIR)/test-bite/crash-disk.img
	$(RUNNER) crash --arch $(ARCH) --image $(BUILD_DIR)/test-bite/worknode.img \
		--kernel $(KERNEL_ELF) --disk $(BUILD_DIR)/test-bite/crash-disk.img --disk-kib 256 \
		--kills $(CRASH_KILLS) $(if $(CRASH_SEED),--seed $(CRASH_SEED)) \
		--transcripts $(BUILD_DIR)/test-bite/crash --timeout $(QEMU_TIMEOUT) --expect-loss

test-qemu-all:
ifeq ($(sdk-present),)
	@echo "************************************************************************"
	@echo "* QEMU system tests SKIPPED: no Microkit SDK $(MICROKIT_VERSION) at '$(MICROKIT_SDK)'."
	@echo "* Set MICROKIT_SDK or install the SDK there (README: Getting the SDK)."
	@echo "************************************************************************"
else
	@for arch in $(ALL_ARCHES); do \
		$(MAKE) --no-print-directory test-qemu ARCH=$$arch || exit 1; \
	done
	@# Regression test for the riscv64 outliner miscompile (rustflags_riscv64).
	$(MAKE) --no-print-directory test-qemu ARCH=riscv64 PROFILE=size
	@for arch in $(NET_ARCHES); do \
		$(MAKE) --no-print-directory test-net ARCH=$$arch || exit 1; \
	done
	@for arch in $(CLUSTER_ARCHES); do \
		$(MAKE) --no-print-directory test-cluster ARCH=$$arch || exit 1; \
	done
ifeq ($(grub-present),)
	@echo "************************************************************************"
	@echo "* make test-iso SKIPPED: no GRUB for BIOS or no xorriso."
	@echo "* apt-get install --no-install-recommends grub-pc-bin grub-common xorriso mtools"
	@echo "************************************************************************"
else
	$(MAKE) --no-print-directory test-iso
endif
endif

# The boot session of test-qemu on x86_64, booted from the ISO of `make
# iso` (GRUB, multiboot) with the usual virtio disk: how Worknode runs on a
# virtual machine in a cloud.
test-iso:
ifneq ($(ARCH),x86_64)
	$(MAKE) --no-print-directory test-iso ARCH=x86_64
else
	$(need-sdk)$(need-qemu)$(need-grub)
	$(MAKE) --no-print-directory iso SYSTEM=test
	rm -f $(BUILD_DIR)/test/iso-disk.img
	$(RUNNER) test --arch $(ARCH) --iso $(BUILD_DIR)/test/worknode.iso --image $(BUILD_DIR)/test/worknode.img \
		--kernel $(KERNEL_ELF) --system $(BUILD_DIR)/test/worknode.system \
		--disk $(BUILD_DIR)/test/iso-disk.img \
		--transcript $(BUILD_DIR)/test/iso-serial.log --timeout $(QEMU_TIMEOUT)
endif

# The network test (net profile): NODES nodes on the runner's switch
# exchange numbered messages, then the switch drops, duplicates, reorders
# and injects garbage, then a node is killed and restarted; last line
# `arch=.. nodes=3 sent=N delivered=N duplicated=0 reordered=0 ... result=pass`.
NET_ARCHES := $(ALL_ARCHES)
test-net:
	$(need-sdk)$(need-qemu)
	$(MAKE) --no-print-directory image SYSTEM=net
	$(RUNNER) net --arch $(ARCH) --image $(BUILD_DIR)/net/worknode.img \
		--kernel $(KERNEL_ELF) --system $(BUILD_DIR)/net/worknode.system \
		--dir $(BUILD_DIR)/net --disk-kib 16384 --timeout $(QEMU_TIMEOUT)

# The cluster test (cluster profile): three nodes replicate a ledger with
# Raft (pds/raft) while the runner kills the leader, partitions, cuts a
# link one way, drops frames and wipes a follower's disk; last line
# `arch=.. nodes=3 kills=3 partitions=2 acked=N replicated=N lost=0 diverged=0 ... result=pass`.
CLUSTER_ARCHES := $(ALL_ARCHES)
test-cluster:
	$(need-sdk)$(need-qemu)
	$(MAKE) --no-print-directory image SYSTEM=cluster
	$(RUNNER) cluster-test --arch $(ARCH) --image $(BUILD_DIR)/cluster/worknode.img \
		--kernel $(KERNEL_ELF) --system $(BUILD_DIR)/cluster/worknode.system \
		--dir $(BUILD_DIR)/cluster --disk-kib 65536 --timeout $(QEMU_TIMEOUT)

# The cluster test's bite checks: the same test on images that break it
# two ways must see acknowledged proposals lost (`lost` > 0), and passes
# only then: proposers that go on after a restart without a linearizable
# read (bite-cluster), and proposers that acknowledge a proposal as soon as
# it is proposed, before a majority has it durable (bite-cluster-ack). Not
# part of `make test`: they show the test can fail. The second loses
# something only when a kill lands between a leader's proposal and a
# follower's write of it (1 run in 2 on aarch64), so each variant gets up
# to 3 runs and must be caught in one.
pd_features_variant_bite-cluster := --features worknode-pd-raft/bite-no-resume-read
pd_features_variant_bite-cluster-ack := --features worknode-pd-raft/bite-ack-on-propose
BITES_CLUSTER := bite-cluster bite-cluster-ack
bite-check-cluster:
	$(need-sdk)$(need-qemu)
	@for v in $(BITES_CLUSTER); do \
		$(MAKE) --no-print-directory image SYSTEM=cluster VARIANT=$$v || exit 1; \
		caught=0; \
		for run in 1 2 3; do \
			echo "bite check: $$v, run $$run"; \
			if $(RUNNER) cluster-test --arch $(ARCH) --image $(BUILD_DIR)/cluster-$$v/worknode.img \
				--kernel $(KERNEL_ELF) --system $(BUILD_DIR)/cluster-$$v/worknode.system \
				--dir $(BUILD_DIR)/cluster-$$v --disk-kib 65536 --timeout $(QEMU_TIMEOUT) --expect-loss; \
			then caught=1; break; fi; \
		done; \
		[ $$caught = 1 ] || { echo "bite check: $$v lost nothing in 3 runs"; exit 1; }; \
	done

# NODES nodes of the cluster profile (Raft, and a worknode recording
# Strong events on each) on the runner's switch, each with its own 64 MiB
# disk under build/<arch>/cluster/node<K>/ (kept between runs: a node
# restarts on its disk); node 0's console on this terminal, the others' in
# build/<arch>/cluster/node<K>/serial.log. Ctrl-C stops them all.
NODES ?= 3
cluster:
	$(need-sdk)$(need-qemu)
	$(MAKE) --no-print-directory image SYSTEM=cluster
	$(RUNNER) cluster --arch $(ARCH) --image $(BUILD_DIR)/cluster/worknode.img \
		--kernel $(KERNEL_ELF) --system $(BUILD_DIR)/cluster/worknode.system \
		--dir build/$(ARCH)/cluster --disk-kib 65536 --nodes $(NODES)

# --- benchmarks -------------------------------------------------------------------
# Raw record-size virtio-blk writes against durable log appends with group
# commit, in one QEMU run (pds/log-bench); last line `log_vs_raw=<ratio>`.
bench-log:
	$(need-sdk)$(need-qemu)
	$(MAKE) --no-print-directory image SYSTEM=bench
	rm -f $(BUILD_DIR)/bench/disk.img
	$(RUNNER) bench --arch $(ARCH) --image $(BUILD_DIR)/bench/worknode.img \
		--kernel $(KERNEL_ELF) --disk $(BUILD_DIR)/bench/disk.img \
		--transcript $(BUILD_DIR)/bench/serial.log

# A worknode action through the gate (check and in-memory audit record)
# against a raw protected call to the governor, in one QEMU run counting
# instructions (-icount shift=0; pds/gate-bench); last line
# `gate_vs_ppc=<ratio>`. The profile's governor is built with the
# `gate-bench` feature, which no other profile has.
pd_features_bench-gate := --features worknode-pd-governor/gate-bench
bench-gate:
	$(need-sdk)$(need-qemu)
	$(MAKE) --no-print-directory image SYSTEM=bench-gate
	rm -f $(BUILD_DIR)/bench-gate/disk.img
	$(RUNNER) bench-gate --arch $(ARCH) --image $(BUILD_DIR)/bench-gate/worknode.img \
		--kernel $(KERNEL_ELF) --disk $(BUILD_DIR)/bench-gate/disk.img \
		--transcript $(BUILD_DIR)/bench-gate/serial.log

# Messages through the streams (smoltcp) against raw frames through the
# rings, between two nodes on the switch, in one run counting instructions
# (-icount shift=0; pds/net's raw phase, pds/netbench); last line
# `stream_vs_raw=<ratio>`. The profile's network PD is built with the
# `bench` feature, which no other profile has.
pd_features_bench-net := --features worknode-pd-net/bench
# Strong events on three nodes (the cluster's rate, and node 0's latency
# from queue to outcome) against Local events on one node, in one run of
# the cluster image (its worknode built to record 2,000 Local events
# first) with no faults; last line `strong_vs_local=<ratio>`.
pd_features_variant_bench := --features worknode-pd-strong/bench
bench-cluster:
	$(need-sdk)$(need-qemu)
	$(MAKE) --no-print-directory image SYSTEM=cluster VARIANT=bench
	$(RUNNER) bench-cluster --arch $(ARCH) --image $(BUILD_DIR)/cluster-bench/worknode.img \
		--kernel $(KERNEL_ELF) --system $(BUILD_DIR)/cluster-bench/worknode.system \
		--dir $(BUILD_DIR)/bench-cluster --disk-kib 65536 --timeout 600

bench-net:
	$(need-sdk)$(need-qemu)
	$(MAKE) --no-print-directory image SYSTEM=bench-net
	$(RUNNER) bench-net --arch $(ARCH) --image $(BUILD_DIR)/bench-net/worknode.img \
		--kernel $(KERNEL_ELF) --system $(BUILD_DIR)/bench-net/worknode.system \
		--dir $(BUILD_DIR)/bench-net --disk-kib 1024

# Every runtime crate must build for the bare-metal targets the PDs use.
check-nostd:
	$(need-rustc)
	@for target in $(target_aarch64) $(target_riscv64) $(target_x86_64); do \
		echo "no_std build of runtime/ for $$target"; \
		RUSTC="$(PD_RUSTC)" RUSTC_BOOTSTRAP=1 cargo build --quiet --locked \
			-Zbuild-std=core,alloc,compiler_builtins \
			-Zbuild-std-features=compiler-builtins-mem \
			--target $$target --target-dir target/nostd \
			$$(for d in runtime/*/; do printf -- '-p %s ' "$$(sed -n 's/^name = "\(.*\)"/\1/p' $$d/Cargo.toml | head -1)"; done) \
			|| exit 1; \
	done

# Formatting and clippy, warnings as errors, on the three workspaces: the
# host crates, the fuzz targets, and the PDs of every profile on every arch
# (drivers differ per board; needs the SDK's libsel4 headers: skipped,
# loudly, without the SDK).
PROFILES := default test bench bench-gate net bench-net cluster
lint: host-tools
	cargo fmt --all --check
	cd pds && cargo fmt --all --check
	cd fuzz && cargo fmt --all --check
	cargo clippy --quiet --workspace --all-targets -- -D warnings
	cd fuzz && cargo clippy --quiet --bins -- -D warnings
ifeq ($(sdk-present),)
	@echo "clippy of the PDs SKIPPED: no Microkit SDK $(MICROKIT_VERSION) at '$(MICROKIT_SDK)'"
else
	@for arch in $(ALL_ARCHES); do for profile in $(PROFILES); do \
		$(MAKE) --no-print-directory lint-pds-$$profile ARCH=$$arch || exit 1; \
	done; done
endif

# clippy on the PDs of one profile.
lint-pds-%: host-tools
	$(need-sdk)$(need-rustc)$(need-linker)$(if $(PD_CLIPPY),,$(error no clippy-driver next to $(PD_RUSTC): apt-get install rust-web-clippy, or rustup component add clippy))
	@mkdir -p $(BUILD_DIR)/lint
	@$(WORKNODE) system render system.xml --board $(BOARD) --profile $* -o $(BUILD_DIR)/lint/$*.system
	@echo "clippy: the PDs of the $* profile for $(TARGET)"
	@cd pds && RUSTC_WORKSPACE_WRAPPER="$(PD_CLIPPY)" \
		$(call pd_cargo,$(BUILD_DIR)/lint/$*.system,check --profile $(PROFILE) --target-dir "$(abspath $(BUILD_DIR))/lint/target" $(pd_features_$*),-Dwarnings) \
		$$(for p in $$($(abspath $(WORKNODE)) system programs $(abspath $(BUILD_DIR))/lint/$*.system); do printf -- '--bin %s ' $$p; done)

# Each fuzz target for FUZZ_SECONDS (cargo-fuzz on a nightly toolchain).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := frame governor log_record log_superblock log_recover blkq netq netq_messages netmsg raft_message cluster_state control
fuzz:
	@command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz not found: cargo install cargo-fuzz"; exit 1; }
	@mkdir -p build
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t for $(FUZZ_SECONDS)s"; \
		(cd fuzz && cargo +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS)) > build/fuzz-$$t.log 2>&1; \
		rc=$$?; grep -E '^Done|panicked|SUMMARY' build/fuzz-$$t.log; \
		[ $$rc = 0 ] || { echo "fuzz target $$t failed (exit $$rc): see build/fuzz-$$t.log"; exit 1; }; \
	done

clean:
	rm -rf build target fuzz/target
