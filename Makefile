# msmvm: one Makefile, outputs under build/.
#   make          build everything
#   make run      the main job (model + toolkit)      make test   the whole suite
# Both run tools/deps.sh first, which installs missing Debian packages (as root).

BUILD      ?= build
CC         ?= gcc
CLANG      ?= clang
BPFTOOL    ?= bpftool
PAHOLE     ?= pahole
HOST_ARCH  := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

WARN       := -Wall -Wextra -Wno-unused-parameter
CFLAGS     ?= -O2 -g
CFLAGS     += $(WARN) -std=gnu11 -fno-omit-frame-pointer -Iinclude
SANITIZE   := -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDLIBS_SIM := -ljson-c -lpthread -lm -lrt

# src/driver: the driver's rules, freestanding (make check-freestanding); src/tune: msmvm-tune's
# engine and the workload generators msmvm-sim shares with it.
DRIVER_SRCS := $(wildcard src/driver/*.c)
DRIVER_HDRS := $(wildcard src/driver/*.h)
WLGEN_SRCS := src/tune/workload_gen.c
SIM_SRCS   := $(wildcard tools/sim/*.c) $(DRIVER_SRCS) $(WLGEN_SRCS)
SIM_HDRS   := $(wildcard tools/sim/*.h) $(DRIVER_HDRS) src/tune/workload_gen.h
SIM_INC    := -Itools/sim -Isrc/driver -Isrc/tune

BPF_FLAVORS := kernel_arm64 kernel_x86 model test
BPF_OBJS   := $(patsubst %,$(BUILD)/bpf/msmvm_%.bpf.o,$(BPF_FLAVORS))
BPF_SKELS  := $(patsubst %,$(BUILD)/bpf/msmvm_%.skel.h,$(BPF_FLAVORS))
TOOLS      := $(patsubst src/%.c,%,$(wildcard src/msmvm*.c))

.PHONY: all deps sim run test clean help
.DEFAULT_GOAL := all

all: sim $(BUILD)/tools/btfmerge $(BPF_OBJS) $(BUILD)/libmsmvm.a $(patsubst %,$(BUILD)/%,$(TOOLS))

help:
	@echo "make         build the model and the toolkit into $(BUILD)/"
	@echo "make run     build and run the main job (against the model without an msm GPU)"
	@echo "make test    install what is missing, build, run the whole suite"
	@echo "make bench   msmvm against bpftrace on the model; writes docs/PERFORMANCE.md"
	@echo "make fuzz    libFuzzer on the trace reader, config and op parsers (FUZZ_SECS=60)"
	@echo "make soak    the model flat out with three tools attached (SOAK_SECS=600)"
	@echo "make clean   remove $(BUILD)/"

deps:
	@tools/deps.sh

# --- the model: msmvm-sim (probed by uprobes: unstripped, real symbols) ---
sim: $(BUILD)/msmvm-sim $(BUILD)/asan/msmvm-sim

# The binary carries its own BTF (pahole -J): the model flavor's CO-RE target.
$(BUILD)/msmvm-sim: $(SIM_SRCS) $(SIM_HDRS) | $(BUILD)
	$(CC) $(CFLAGS) $(SIM_INC) -gdwarf-4 -o $@.tmp $(SIM_SRCS) $(LDLIBS_SIM)
	$(PAHOLE) -J $@.tmp
	mv $@.tmp $@

$(BUILD)/asan/msmvm-sim: $(SIM_SRCS) $(SIM_HDRS) | $(BUILD)/asan
	$(CC) $(CFLAGS) $(SANITIZE) $(SIM_INC) -o $@ $(SIM_SRCS) $(LDLIBS_SIM)

# --- helper tools ---
# The merge code is libmsmvm's (src/lib/btf_merge.c), compiled in: the tool needs no skeletons.
$(BUILD)/tools/btfmerge: tools/btfmerge.c src/lib/btf_merge.c src/lib/btf_merge.h | $(BUILD)/tools
	$(CC) $(CFLAGS) -Isrc/lib -o $@ tools/btfmerge.c src/lib/btf_merge.c -lbpf -lelf -lz

# --- BPF: the logic once (bpf/logic.bpf.h and what it includes), one thin wrapper per
# attach kind; clang -target bpf, then bpftool gen skeleton ---
# kernel: kprobes, built for arm64 (msm's platform) and the host; model: uprobes on
# msmvm-sim; test: raw_tp programs driven by BPF_PROG_TEST_RUN.
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -Wall -Iinclude -Ivmlinux -Ibpf \
	      -idirafter /usr/include/$(shell $(CC) -print-multiarch)
BPF_DEPS   := bpf/logic.bpf.h bpf/maps.bpf.h bpf/stats.bpf.h bpf/events.bpf.h \
	      bpf/ops_walk.bpf.h bpf/flavor.h include/msmvm/abi.h vmlinux/msmvm_types.h

$(BUILD)/bpf/msmvm_kernel_arm64.bpf.o: bpf/msmvm_kprobe.bpf.c $(BPF_DEPS) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -D__TARGET_ARCH_arm64 -c $< -o $@
$(BUILD)/bpf/msmvm_kernel_x86.bpf.o: bpf/msmvm_kprobe.bpf.c $(BPF_DEPS) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -D__TARGET_ARCH_x86 -c $< -o $@
$(BUILD)/bpf/msmvm_model.bpf.o: bpf/msmvm_uprobe.bpf.c $(BPF_DEPS) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -D__TARGET_ARCH_$(HOST_ARCH) -c $< -o $@
$(BUILD)/bpf/msmvm_test.bpf.o: bpf/msmvm_test.bpf.c $(BPF_DEPS) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -D__TARGET_ARCH_$(HOST_ARCH) -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@

# --- libmsmvm and the tools ---
LIB_SRCS   := $(wildcard src/lib/*.c src/lib/trace/*.c)
LIB_OBJS   := $(patsubst src/lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRCS))
LIB_HDRS   := $(wildcard src/lib/*.h src/lib/trace/*.h include/msmvm/*.h)
LDLIBS_BPF := -lbpf -lelf -lz

$(BUILD)/lib/%.o: src/lib/%.c $(LIB_HDRS) | $(BUILD)/lib
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Isrc/lib -c $< -o $@

# Only objects.c includes the skeletons (the rest of the library reaches the BPF objects
# through struct msmvm_bpf): it alone is rebuilt when a BPF object changes.
$(BUILD)/lib/objects.o: src/lib/objects.c $(LIB_HDRS) $(BPF_SKELS) | $(BUILD)/lib
	$(CC) $(CFLAGS) -Isrc/lib -I$(BUILD)/bpf -c $< -o $@

$(BUILD)/libmsmvm.a: $(LIB_OBJS)
	@rm -f $@	# ar only adds: a member whose source is gone would stay
	$(AR) rcs $@ $^

LDLIBS_TOOL := $(LDLIBS_BPF) -ljson-c -lm
$(BUILD)/msmvmtop: LDLIBS_TOOL += -lncursesw
$(BUILD)/msmvm-alert: LDLIBS_TOOL += -lmicrohttpd -lcap-ng -lpthread

$(BUILD)/msmvm%: src/msmvm%.c $(BUILD)/libmsmvm.a $(LIB_HDRS)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libmsmvm.a $(LDLIBS_TOOL)

# msmvm-tune replays workloads through the driver's rules (count, page tables, job run/free).
TUNE_SRCS  := src/tune/tune.c $(WLGEN_SRCS) $(DRIVER_SRCS)
TUNE_HDRS  := $(wildcard src/tune/*.h) $(DRIVER_HDRS)
TUNE_INC   := -Isrc/tune -Isrc/driver
$(BUILD)/msmvm-tune: src/msmvm-tune.c $(TUNE_SRCS) $(TUNE_HDRS) $(BUILD)/libmsmvm.a $(LIB_HDRS)
	$(CC) $(CFLAGS) $(TUNE_INC) -o $@ $< $(TUNE_SRCS) $(BUILD)/libmsmvm.a \
		$(LDLIBS_TOOL) -lpthread

# --- tests ---
TEST_SRCS  := $(wildcard tests/test_*.c)
TEST_BINS  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

$(BUILD)/tests/test_%: tests/test_%.c tests/harness.h $(SIM_SRCS) $(SIM_HDRS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(SANITIZE) $(SIM_INC) -Itests -o $@ $< \
		$(filter-out tools/sim/sim_main.c,$(SIM_SRCS)) $(LDLIBS_SIM)

# msmvm-tune's engine alone, on the driver's rules (no model).
$(BUILD)/tests/test_tune: tests/test_tune.c tests/harness.h $(TUNE_SRCS) $(TUNE_HDRS) \
		| $(BUILD)/tests
	$(CC) $(CFLAGS) $(SANITIZE) $(TUNE_INC) -Itests -o $@ $< $(TUNE_SRCS) -lm

# Tier 1 of the probes: the test flavor under BPF_PROG_TEST_RUN, on model structs.
$(BUILD)/tests/test_probes: tests/test_probes.c tests/harness.h $(SIM_SRCS) $(SIM_HDRS) \
		$(BUILD)/libmsmvm.a | $(BUILD)/tests
	$(CC) $(CFLAGS) $(SANITIZE) $(SIM_INC) -Itests -o $@ $< \
		$(filter-out tools/sim/sim_main.c,$(SIM_SRCS)) $(BUILD)/libmsmvm.a \
		$(LDLIBS_BPF) $(LDLIBS_SIM)

# msmvm-trace's files: encoder, writer, reader and the trace_processor-style checker,
# on event streams the test builds (also the checker the end-to-end trace scripts call).
$(BUILD)/tests/test_trace: tests/test_trace.c tests/trace_check.h tests/harness.h \
		$(BUILD)/libmsmvm.a $(LIB_HDRS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(SANITIZE) -Isrc/lib -Itests -o $@ $< $(BUILD)/libmsmvm.a \
		$(LDLIBS_BPF) -ljson-c -lm

# libmsmvm's start-up and BTF merging in pieces (symbols, probe table, plan, closure copies).
$(BUILD)/tests/test_symbols $(BUILD)/tests/test_btf_merge: $(BUILD)/tests/test_%: tests/test_%.c \
		tests/harness.h $(BUILD)/libmsmvm.a $(LIB_HDRS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(SANITIZE) -Isrc/lib -Itests -o $@ $< $(BUILD)/libmsmvm.a $(LDLIBS_BPF)

test: deps
	@$(MAKE) --no-print-directory all $(TEST_BINS)
	@BUILD=$(BUILD) tests/run-tests.sh

# The driver's rules compile with the compiler's own headers only (no libc), so that the
# kernel-module twin can build them: one "ok"/"not ok" line per file (tests/freestanding.sh).
FREESTANDING_SRCS ?= $(DRIVER_SRCS)
FREESTANDING_CFLAGS = -std=gnu11 $(WARN) -Werror=implicit-function-declaration -O2 \
		      -ffreestanding -nostdinc -isystem $(shell $(CC) -print-file-name=include)
.PHONY: check-freestanding
check-freestanding:
	@st=0; for f in $(FREESTANDING_SRCS); do \
		if $(CC) $(FREESTANDING_CFLAGS) -c $$f -o /dev/null; then \
			echo "ok freestanding $$f"; \
		else echo "not ok freestanding $$f"; st=1; fi; \
	done; exit $$st

run: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tools/run-demo.sh

$(BUILD) $(BUILD)/asan $(BUILD)/tests $(BUILD)/tools $(BUILD)/bpf $(BUILD)/lib:
	@mkdir -p $@

clean:
	rm -rf $(BUILD)

# --- hardening: fuzzing (make fuzz), the fuzz corpus in make test, soak (make soak) ---
# tests/fuzz/fuzz_NAME.c: LLVMFuzzerTestOneInput over the real code, one per input format:
# trace (msmvm_trace_replay, i.e. msmvm-stat --replay, and msmvm_trace_load_workload, i.e.
# msmvm-tune's input), config (msmvm-alert's config file),
# count (msmvm-sim count's op parser, tools/sim/count.c). `make fuzz` runs each under
# libFuzzer (clang 14) for FUZZ_SECS seconds; `make test` replays each one's committed seed
# corpus and crash inputs (tests/fuzz/NAME/{corpus,crashes}) through the same entry point,
# built with gcc and ASan/UBSan (build/tests/test_fuzz_NAME). See docs/hardening.md.
FUZZ_NAMES      := trace config count
FUZZ_SECS       ?= 60
FUZZ_CC         ?= clang
FUZZ_CFLAGS     := -g -O1 -std=gnu11 -fno-omit-frame-pointer -Wno-unknown-attributes \
		   -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_INC        := -Iinclude -Isrc/lib -Itools/sim -Isrc/driver -Isrc/tune -Itests/fuzz
FUZZ_LIB_SRCS   := $(addprefix src/lib/,alert.c errors.c report.c snapshot.c) \
		   $(addprefix src/lib/trace/,build.c map.c out.c pb.c read.c replay.c workload.c)
FUZZ_SIM_SRCS   := $(filter-out tools/sim/sim_main.c,$(SIM_SRCS))
FUZZ_SRCS_trace  := $(FUZZ_LIB_SRCS)
FUZZ_SRCS_config := $(FUZZ_LIB_SRCS)
FUZZ_SRCS_count  := $(FUZZ_SIM_SRCS)
FUZZ_LDLIBS     := $(LDLIBS_BPF) -ljson-c -lpthread -lm -lrt
FUZZ_DEPS       := tests/fuzz/fuzz.h $(FUZZ_LIB_SRCS) $(FUZZ_SIM_SRCS) $(LIB_HDRS) $(SIM_HDRS)
FUZZ_BINS       := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
TEST_BINS       += $(patsubst %,$(BUILD)/tests/test_fuzz_%,$(FUZZ_NAMES))

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS) | $(BUILD)/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_INC) -o $@ $< $(FUZZ_SRCS_$*) $(FUZZ_LDLIBS)

$(BUILD)/tests/test_fuzz_%: tests/fuzz/replay.c tests/fuzz/fuzz_%.c $(FUZZ_DEPS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(SANITIZE) $(FUZZ_INC) -DFUZZ_NAME='"$*"' -o $@ tests/fuzz/replay.c \
		tests/fuzz/fuzz_$*.c $(FUZZ_SRCS_$*) $(FUZZ_LDLIBS)

.PHONY: fuzz soak
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@BUILD=$(BUILD) FUZZ_SECS=$(FUZZ_SECS) tests/fuzz/run-fuzz.sh $(FUZZ_NAMES)

# The model at full rate with msmvm-stat, msmvm-trace --ring and msmvm-alert attached.
SOAK_SECS       ?= 600
soak: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) SOAK_SECS=$(SOAK_SECS) tools/soak.sh

$(BUILD)/fuzz:
	@mkdir -p $@

# --- make bench: msmvm against an equivalent bpftrace script and against no tracing, on the
# model (docs/PERFORMANCE.md, which it writes). Timings live here, never in make test.
.PHONY: bench
$(BUILD)/bench/tracesize: tools/bench/tracesize.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/tracesize
	@BUILD=$(BUILD) bash tools/bench/bench.sh
