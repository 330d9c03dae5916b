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

SIM_SRCS   := $(wildcard tools/sim/*.c)
SIM_HDRS   := $(wildcard tools/sim/*.h)

.PHONY: all deps sim run test clean help
.DEFAULT_GOAL := all

all: sim $(BUILD)/tools/btfmerge

help:
	@echo "make         build the model and the toolkit into $(BUILD)/"
	@echo "make run     build and run the main job (against the model without an msm GPU)"
	@echo "make test    install what is missing, build, run the whole suite"
	@echo "make clean   remove $(BUILD)/"

deps:
	@tools/deps.sh

# --- the model: msmvm-sim (probed by uprobes: unstripped, real symbols) ---
sim: $(BUILD)/msmvm-sim $(BUILD)/asan/msmvm-sim

$(BUILD)/msmvm-sim: $(SIM_SRCS) $(SIM_HDRS) | $(BUILD)
	$(CC) $(CFLAGS) -o $@ $(SIM_SRCS) $(LDLIBS_SIM)

$(BUILD)/asan/msmvm-sim: $(SIM_SRCS) $(SIM_HDRS) | $(BUILD)/asan
	$(CC) $(CFLAGS) $(SANITIZE) -o $@ $(SIM_SRCS) $(LDLIBS_SIM)

# --- helper tools ---
$(BUILD)/tools/btfmerge: tools/btfmerge.c | $(BUILD)/tools
	$(CC) $(CFLAGS) -o $@ $< -lbpf -lelf -lz

# --- BPF: clang -target bpf, then bpftool gen skeleton (rules used by the toolkit) ---
$(BUILD)/vmlinux.h: | $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h include/msmvm/*.h) | $(BUILD)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(HOST_ARCH) -Iinclude -Ivmlinux -I$(BUILD) \
		-c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

# --- tests ---
TEST_SRCS  := $(wildcard tests/test_*.c)
TEST_BINS  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

$(BUILD)/tests/test_%: tests/test_%.c tests/harness.h $(SIM_SRCS) $(SIM_HDRS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(SANITIZE) -Itools/sim -Itests -o $@ $< \
		$(filter-out tools/sim/sim_main.c,$(SIM_SRCS)) $(LDLIBS_SIM)

test: deps
	@$(MAKE) --no-print-directory all $(TEST_BINS)
	@BUILD=$(BUILD) tests/run-tests.sh

run: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tools/run-demo.sh

$(BUILD) $(BUILD)/asan $(BUILD)/tests $(BUILD)/tools:
	@mkdir -p $@

clean:
	rm -rf $(BUILD)
