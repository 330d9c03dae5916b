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
LDLIBS_BPF := -lbpf -lelf -lz -ldeflate

# A failed command leaves no half-written target that would count as built next time; and
# objects and skeletons made on the way stay (make would delete them as intermediates).
.DELETE_ON_ERROR:
.SECONDARY:

# Quiet by default ("CC build/obj/..."); V=1 prints every command.
V ?= 0
ifeq ($(V),0)
Q   := @
msg  = @printf '  %-8s %s\n' '$(1)' '$(2)';
else
Q   :=
msg  =
endif

# --- sources ---
# src/driver: the driver's rules, freestanding (make check-freestanding); src/tune: msmvm-tune's
# engine and the workload generators msmvm-sim shares with it; tools/sim: the model around
# the rules; src/lib (and src/lib/trace): libmsmvm.
DRIVER_SRCS := $(wildcard src/driver/*.c)
WLGEN_SRCS  := src/tune/workload_gen.c
SIM_SRCS    := $(wildcard tools/sim/*.c) $(DRIVER_SRCS) $(WLGEN_SRCS)
SIM_LIB_SRCS := $(filter-out tools/sim/sim_main.c,$(SIM_SRCS))	# the model without its main()
TUNE_SRCS   := src/tune/tune.c $(WLGEN_SRCS) $(DRIVER_SRCS)
LIB_SRCS    := $(wildcard src/lib/*.c src/lib/trace/*.c)
TOOLS       := $(patsubst src/%.c,%,$(wildcard src/msmvm*.c))

# The version every tool prints (--version): VERSION if given (debian/rules passes the
# package's), else BASE_VERSION and the commit (git describe). build/version.h is rewritten
# only when it changes, so only the objects that print it are rebuilt.
BASE_VERSION := 0.1.0
VERSION ?= $(BASE_VERSION)$(shell git rev-parse --git-dir >/dev/null 2>&1 && \
	     printf '+g%s' "$$(git describe --always --dirty --abbrev=7)")
VERSION_USERS := $(wildcard src/msmvm*.c) tools/sim/sim_main.c

$(BUILD)/version.h: FORCE
	@mkdir -p $(@D)
	@printf '#define MSMVM_VERSION "%s"\n' '$(VERSION)' >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
.PHONY: FORCE
FORCE:

# Each source is compiled once per variant into an object beside its path: $(BUILD)/obj/...
# (plain) and $(BUILD)/asan/obj/... (ASan+UBSan, for the tests and the checked model).
# Dependencies on headers come from the compiler (-MMD), so they are exact.
obj      = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
asan_obj = $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(1))

# Include paths by folder: each sees what it may use, and no folder of src/ sees tools/.
inc_for = $(strip \
	$(if $(filter src/lib/%,$(1)),-Isrc/lib) \
	$(if $(filter src/lib/objects.c,$(1)),-I$(BUILD)/bpf) \
	$(if $(filter src/tune/% src/msmvm-tune.c,$(1)),-Isrc/tune -Isrc/driver) \
	$(if $(filter tools/sim/%,$(1)),-Itools/sim -Isrc/driver -Isrc/tune) \
	$(if $(filter tools/btfmerge.c,$(1)),-Isrc/lib) \
	$(if $(filter tests/%,$(1)),-Itests -Isrc/lib -Itools/sim -Isrc/driver -Isrc/tune) \
	$(if $(filter $(VERSION_USERS),$(1)),-I$(BUILD)))

$(BUILD)/obj/%.o: %.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -gdwarf-4 $(call inc_for,$<) -MMD -MP -c $< -o $@

$(BUILD)/asan/obj/%.o: %.c
	$(call msg,CC-ASAN,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) $(call inc_for,$<) -MMD -MP -c $< -o $@

$(call obj,$(VERSION_USERS)) $(call asan_obj,$(VERSION_USERS)): $(BUILD)/version.h

BPF_FLAVORS := kernel_arm64 kernel_x86 kernel_fentry_arm64 kernel_fentry_x86 model test
BPF_OBJS   := $(patsubst %,$(BUILD)/bpf/msmvm_%.bpf.o,$(BPF_FLAVORS))
BPF_SKELS  := $(patsubst %,$(BUILD)/bpf/msmvm_%.skel.h,$(BPF_FLAVORS))

.PHONY: all deps sim run test clean help check-freestanding
.DEFAULT_GOAL := all

all: sim $(BUILD)/tools/btfmerge $(BPF_OBJS) $(BUILD)/libmsmvm.a $(patsubst %,$(BUILD)/%,$(TOOLS))

help:
	@echo "make         build the model and the toolkit into $(BUILD)/ (V=1: show commands)"
	@echo "make run     build and run the main job (against the model without an msm GPU)"
	@echo "make test    install what is missing, build, run the whole suite"
	@echo "make check-freestanding  the driver's rules (src/driver) compile without libc"
	@echo "make guest   fetch the x86 guest's Debian kernel into $(BUILD)/guest (tools/guest/run)"
	@echo "make arm64   cross-build the toolkit and msmvm-sim for arm64 into $(BUILD)/arm64/ (static)"
	@echo "make test-arm64  the arm64 suite: the build under qemu-user, the arm64 guests (real msm.ko, twin)"
	@echo "make kmodel  build the kernel twin $(BUILD)/kmodel/msm_kmodel.ko for the guest's kernel"
	@echo "make kmodel-arm64  the twin cross-built for the arm64 guest's kernel: $(BUILD)/arm64/kmodel/"
	@echo "make bench   msmvm against bpftrace on the model and in the guests; writes build/bench/PERFORMANCE.md; BENCH_UPDATE=1: also docs/PERFORMANCE.md, from a quiet machine (BENCH_GUEST=0: model only; BENCH_ONLY=tune: msmvm-tune's time budget alone; BENCH_ONLY=guest-x86: the x86 guest's part alone)"
	@echo "make fuzz    libFuzzer on the trace reader, config and op parsers (FUZZ_SECS=60)"
	@echo "make soak    the model flat out with three tools attached (SOAK_SECS=600)"
	@echo "make install install the tools, man pages, completion, unit and config (PREFIX=/usr/local, DESTDIR)"
	@echo "make uninstall  remove them again (an edited config stays)"
	@echo "make deb     the Debian package into $(BUILD)/deb/ (dpkg-buildpackage, then lintian)"
	@echo "make clean   remove $(BUILD)/"

deps:
	@tools/deps.sh

# --- the model: msmvm-sim (probed by uprobes: unstripped, real symbols) ---
sim: $(BUILD)/msmvm-sim $(BUILD)/asan/msmvm-sim

# The binary carries its own BTF (pahole -J, from its DWARF 4): the model flavor's CO-RE target.
$(BUILD)/msmvm-sim: $(call obj,$(SIM_SRCS))
	$(call msg,LD+BTF,$@)
	$(Q)$(CC) $(CFLAGS) -o $@.tmp $^ $(LDLIBS_SIM)
	$(Q)$(PAHOLE) -J $@.tmp
	$(Q)mv $@.tmp $@

$(BUILD)/asan/msmvm-sim: $(call asan_obj,$(SIM_SRCS))
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ $(LDLIBS_SIM)

# --- helper tools ---
# The merge code is libmsmvm's (src/lib/btf_merge.c), linked in: the tool needs no skeletons.
$(BUILD)/tools/btfmerge: $(call obj,tools/btfmerge.c src/lib/btf_merge.c)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_BPF)

# --- BPF: the logic once (bpf/logic.bpf.h and what it includes), one thin wrapper per
# attach kind; clang -target bpf, then bpftool gen skeleton ---
# kernel: kprobes, and kernel_fentry: fentry/fexit, each built for arm64 (msm's platform)
# and the host; model: uprobes on msmvm-sim; test: raw_tp programs driven by
# BPF_PROG_TEST_RUN.
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -Wall -Iinclude -Ivmlinux -Ibpf \
	      -idirafter /usr/include/$(shell $(CC) -print-multiarch)
BPF_ARCH_kernel_arm64 := arm64
BPF_ARCH_kernel_x86   := x86
BPF_ARCH_kernel_fentry_arm64 := arm64
BPF_ARCH_kernel_fentry_x86   := x86
BPF_ARCH_model        := $(HOST_ARCH)
BPF_ARCH_test         := $(HOST_ARCH)
BPF_WRAPPER_kernel_arm64 := bpf/msmvm_kprobe.bpf.c
BPF_WRAPPER_kernel_x86   := bpf/msmvm_kprobe.bpf.c
BPF_WRAPPER_kernel_fentry_arm64 := bpf/msmvm_fentry.bpf.c
BPF_WRAPPER_kernel_fentry_x86   := bpf/msmvm_fentry.bpf.c
BPF_WRAPPER_model        := bpf/msmvm_uprobe.bpf.c
BPF_WRAPPER_test         := bpf/msmvm_test.bpf.c

.SECONDEXPANSION:
$(BUILD)/bpf/msmvm_%.bpf.o: $$(BPF_WRAPPER_$$*)
	$(call msg,CLANG,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -D__TARGET_ARCH_$(BPF_ARCH_$*) -MMD -MP -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

# --- libmsmvm and the tools ---
LIB_OBJS   := $(call obj,$(LIB_SRCS))

# Only objects.c includes the skeletons (the rest of the library reaches the BPF objects
# through struct msmvm_bpf): they must exist before it compiles, and it alone is rebuilt when
# a BPF object changes (its -MMD dependencies name them).
$(call obj,src/lib/objects.c): $(BPF_SKELS)

$(BUILD)/libmsmvm.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	@rm -f $@	# ar only adds: a member whose source is gone would stay
	$(Q)$(AR) rcs $@ $^

LDLIBS_TOOL := $(LDLIBS_BPF) -ljson-c -lm
$(BUILD)/msmvmtop: LDLIBS_TOOL += -lncursesw
$(BUILD)/msmvm-alert: LDLIBS_TOOL += -lmicrohttpd -lcap-ng -lpthread
$(BUILD)/msmvm-tune: LDLIBS_TOOL += -lpthread

# msmvm-tune replays workloads through the driver's rules (count, page tables, job run/free).
$(BUILD)/msmvm-tune: $(call obj,$(TUNE_SRCS))

$(BUILD)/msmvm%: $(BUILD)/obj/src/msmvm%.o $(BUILD)/libmsmvm.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(BUILD)/libmsmvm.a $(LDLIBS_TOOL)

# --- tests: one binary per tests/test_*.c, with ASan+UBSan ---
TEST_SRCS  := $(wildcard tests/test_*.c)
TEST_BINS  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

# What each test links beside its own object: by default the model without its main().
TEST_LINK              := $(call asan_obj,$(SIM_LIB_SRCS))
TEST_LINK_tune         := $(call asan_obj,$(TUNE_SRCS))	# the engine alone, no model
TEST_LINK_probes       := $(TEST_LINK) $(BUILD)/libmsmvm.a	# the test flavor on model structs
TEST_LINK_trace        := $(BUILD)/libmsmvm.a	# msmvm-trace's files and the trace checker
# where the trace checker finds trace.proto for what compressed packets inflate to
$(BUILD)/asan/obj/tests/test_trace.o: CFLAGS += -DTC_PROTO_DIR='"$(CURDIR)/tests"'
TEST_LINK_symbols      := $(BUILD)/libmsmvm.a	# start-up in pieces: symbols, probe table, plan
TEST_LINK_btf_merge    := $(BUILD)/libmsmvm.a
TEST_LINK_unload       := $(BUILD)/libmsmvm.a	# the module watch and the alert's carry
TEST_LINK_frame        := $(BUILD)/libmsmvm.a	# the dashboard's frame helpers
test_link = $(if $(filter undefined,$(origin TEST_LINK_$(1))),$(TEST_LINK),$(TEST_LINK_$(1)))

$(BUILD)/tests/test_%: $(BUILD)/asan/obj/tests/test_%.o $$(call test_link,$$*)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ $(LDLIBS_BPF) $(LDLIBS_SIM)

.PHONY: test-bins
test-bins: $$(TEST_BINS)	# with the fuzz replays, listed further down

test: deps
	@$(MAKE) --no-print-directory all test-bins
	@BUILD=$(BUILD) tests/run-tests.sh

# The driver's rules compile with the compiler's own headers only (no libc), so that the
# kernel-module twin can build them: one "ok"/"not ok" line per file (tests/freestanding.sh).
FREESTANDING_SRCS ?= $(DRIVER_SRCS)
FREESTANDING_CFLAGS = -std=gnu11 $(WARN) -Werror=implicit-function-declaration -O2 \
		      -ffreestanding -nostdinc -isystem $(shell $(CC) -print-file-name=include)
check-freestanding:
	@st=0; for f in $(FREESTANDING_SRCS); do \
		if $(CC) $(FREESTANDING_CFLAGS) -c $$f -o /dev/null; then \
			echo "ok freestanding $$f"; \
		else echo "not ok freestanding $$f"; st=1; fi; \
	done; exit $$st

run: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tools/run-demo.sh

clean:
	rm -rf $(BUILD)

# --- make install / make uninstall: PREFIX (default /usr/local) and DESTDIR, FHS layout ---
# The tools that load BPF need root: sbin. msmvm-tune (replays a trace) and msmvm-sim (the
# model) run as anyone: bin. msmvm-sim is installed unstripped: its uprobes bind to its symbols
# and its BTF is the model flavor's CO-RE target. The unit and the example config name the
# installed paths (sed at install time). The config (/etc: the docs name it there) is installed
# only where none exists: a reinstall never overwrites an edited one (debian/ ships it as a
# conffile instead).
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/msmvm
DATADIR     ?= $(PREFIX)/share/msmvm
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR  ?= /etc
INSTALL     ?= install
ROOT_TOOLS  := msmvm-stat msmvmtop msmvm-trace msmvm-alert
USER_TOOLS  := msmvm-tune msmvm-sim
MAN_PAGES   := $(wildcard docs/man/*.[1-8])
COMPLETION  := tools/completion/msmvm
FLEET_FILES := $(wildcard tools/prometheus/*.yml tools/grafana/*.json)
INSTALL_DOCS := README.md $(filter-out docs/PERFORMANCE.md,$(wildcard docs/*.md)) \
		docs/msmvm-alert.conf.example

.PHONY: install uninstall
install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(ROOT_TOOLS)) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0755 $(addprefix $(BUILD)/,$(USER_TOOLS)) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    -e 's|@DOCDIR@|$(DOCDIR)|g' tools/msmvm-alert.service >$(DESTDIR)$(UNITDIR)/msmvm-alert.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/msmvm-alert.service
	test -e $(DESTDIR)$(SYSCONFDIR)/msmvm-alert.conf || \
		$(INSTALL) -m 0644 docs/msmvm-alert.conf.example $(DESTDIR)$(SYSCONFDIR)/msmvm-alert.conf
	set -e; for m in $(MAN_PAGES); do \
		d=$(DESTDIR)$(MANDIR)/man$${m##*.}; $(INSTALL) -d $$d; $(INSTALL) -m 0644 $$m $$d/; done
	set -e; if [ -f $(COMPLETION) ]; then \
		$(INSTALL) -d $(DESTDIR)$(COMPLETIONDIR); \
		$(INSTALL) -m 0644 $(COMPLETION) $(DESTDIR)$(COMPLETIONDIR)/msmvm; \
		for t in $(ROOT_TOOLS) $(USER_TOOLS); do ln -sf msmvm $(DESTDIR)$(COMPLETIONDIR)/$$t; done; fi
	set -e; if [ -n "$(FLEET_FILES)" ]; then $(INSTALL) -d $(DESTDIR)$(DATADIR); \
		$(INSTALL) -m 0644 $(FLEET_FILES) $(DESTDIR)$(DATADIR)/; fi

# Removes what install laid out, except an edited config (like dpkg's remove, not purge).
uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(ROOT_TOOLS)) $(addprefix $(DESTDIR)$(BINDIR)/,$(USER_TOOLS))
	rm -f $(DESTDIR)$(UNITDIR)/msmvm-alert.service
	rm -f $(foreach m,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
	rm -f $(addprefix $(DESTDIR)$(COMPLETIONDIR)/,msmvm $(ROOT_TOOLS) $(USER_TOOLS))
	rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)
	if cmp -s docs/msmvm-alert.conf.example $(DESTDIR)$(SYSCONFDIR)/msmvm-alert.conf; then \
		rm -f $(DESTDIR)$(SYSCONFDIR)/msmvm-alert.conf; fi

# --- make deb: the Debian package from debian/ (dpkg-buildpackage, which builds in
# debian/build, removed after, and leaves build/ alone), collected in $(BUILD)/deb/ (not in the parent of the
# checkout), then lintian: errors fail the target, warnings are shown. tests/deb.sh installs,
# runs and purges it in a bookworm chroot (and runs lintian itself: DEB_LINTIAN=0 here).
DEB_OUT      = $(abspath $(BUILD)/deb)
DEB_VERSION  = $(shell dpkg-parsechangelog -S Version)
DEB_ARCH     = $(shell dpkg-architecture -qDEB_HOST_ARCH)
DEB_CHANGES  = $(DEB_OUT)/msmvm_$(DEB_VERSION)_$(DEB_ARCH).changes

.PHONY: deb
deb: deps
	@rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)
	@# not the make variables of this make (BUILD=, CC=, V=...): debian/rules sets its own
	env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL MSMVM_DEB_DESTDIR=$(DEB_OUT) \
		dpkg-buildpackage -b -us -uc -Jauto --post-clean \
		--buildinfo-option=-u$(DEB_OUT) --changes-option=-u$(DEB_OUT) \
		--buildinfo-file=$(DEB_OUT)/msmvm_$(DEB_VERSION)_$(DEB_ARCH).buildinfo \
		--changes-file=$(DEB_CHANGES)
	$(if $(filter 0,$(DEB_LINTIAN)),,lintian --fail-on error $(DEB_CHANGES))
	@echo "make deb: $(DEB_OUT)/msmvm_$(DEB_VERSION)_$(DEB_ARCH).deb"

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
FUZZ_LIB_SRCS   := $(addprefix src/lib/,alert.c errors.c forget.c numbers.c report.c snapshot.c) \
		   $(addprefix src/lib/trace/,build.c map.c out.c pb.c read.c replay.c workload.c)
FUZZ_SIM_SRCS   := $(SIM_LIB_SRCS)
FUZZ_SRCS_trace  := $(FUZZ_LIB_SRCS)
FUZZ_SRCS_config := $(FUZZ_LIB_SRCS)
FUZZ_SRCS_count  := $(FUZZ_SIM_SRCS)
FUZZ_LDLIBS     := $(LDLIBS_BPF) -ljson-c -lpthread -lm -lrt
# libFuzzer builds (make fuzz only) are one clang command each: they depend on every header
FUZZ_DEPS       := $(wildcard tests/fuzz/*.h include/msmvm/*.h src/lib/*.h src/lib/trace/*.h \
		     tools/sim/*.h src/driver/*.h src/tune/*.h) $(FUZZ_LIB_SRCS) $(FUZZ_SIM_SRCS)
FUZZ_BINS       := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
TEST_BINS       += $(patsubst %,$(BUILD)/tests/test_fuzz_%,$(FUZZ_NAMES))

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS)
	$(call msg,FUZZ,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_INC) -o $@ $< $(FUZZ_SRCS_$*) $(FUZZ_LDLIBS)

# In make test: the replay driver (one per target: FUZZ_NAME) with the same entry point.
$(BUILD)/asan/obj/tests/fuzz/replay-%.o: tests/fuzz/replay.c
	$(call msg,CC-ASAN,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -DFUZZ_NAME='"$*"' -MMD -MP -c $< -o $@

$(BUILD)/tests/test_fuzz_%: $(BUILD)/asan/obj/tests/fuzz/replay-%.o \
		$(BUILD)/asan/obj/tests/fuzz/fuzz_%.o $$(call asan_obj,$$(FUZZ_SRCS_$$*))
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SANITIZE) -o $@ $^ $(FUZZ_LDLIBS)

.PHONY: fuzz soak
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@BUILD=$(BUILD) FUZZ_SECS=$(FUZZ_SECS) tests/fuzz/run-fuzz.sh $(FUZZ_NAMES)

# The model at full rate with msmvm-stat, msmvm-trace --ring and msmvm-alert attached.
SOAK_SECS       ?= 600
soak: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) SOAK_SECS=$(SOAK_SECS) tools/soak.sh

# --- make bench: msmvm against an equivalent bpftrace script and against no tracing, on the
# model, then on the kernel twin in the x86 guest and msm.ko in the arm64 guest (skipped, with
# the reason, where they cannot run; BENCH_GUEST=0 skips them). The report goes to
# build/bench/PERFORMANCE.md; docs/PERFORMANCE.md only with BENCH_UPDATE=1 and a quiet machine
# (tools/bench/bench.sh says when). Timings live here, never in make test.
.PHONY: bench
$(BUILD)/bench/tracesize: tools/bench/tracesize.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $< -lz

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/tracesize
	@BUILD=$(BUILD) BENCH_UPDATE=$(BENCH_UPDATE) bash tools/bench/bench.sh

# The header dependencies the compilers wrote (-MMD): exact, and regenerated with each object.
# (Not under guest*/ and kmodel/: the guests' unpacked Debian trees and Kbuild's own files;
# nor arm64/ and cross/: make arm64's inner make reads its own, the sysroot has none.)
-include $(shell find $(BUILD) \( -path $(BUILD)/guest -o -path '$(BUILD)/guest-*' \
	-o -path $(BUILD)/kmodel -o -path $(BUILD)/arm64 -o -path $(BUILD)/cross \) -prune \
	-o -name '*.d' -type f -print 2>/dev/null)

# === guest and kmodel (tools/guest, tools/kmodel) ===============================================
# make guest    fetch the guest's Debian 6.12 amd64 kernel and headers (tools/guest/fetch) and
#               build the kernel twin: everything tools/guest/run needs
# make kmodel   build $(BUILD)/kmodel/msm_kmodel.ko against the guest kernel's headers
# Kbuild puts objects beside their sources and only under M=, so $(BUILD)/kmodel/ holds symlinks:
# tools/kmodel/* at its top, src/driver/* under driver/. The module is built with the guest
# kernel's own compiler settings (bookworm's gcc-12, the host's), never with this Makefile's
# CC/CFLAGS: MAKEFLAGS is cleared for the kernel's make.
GUEST_ENV    := $(BUILD)/guest/kernel.env
KMODEL_SRC   ?= tools/kmodel
KMODEL_DIR   := $(BUILD)/kmodel
KMODEL_KO    := $(KMODEL_DIR)/msm_kmodel.ko
KMODEL_DEPS   = $(wildcard $(KMODEL_SRC)/Kbuild $(KMODEL_SRC)/*.c $(KMODEL_SRC)/*.h \
			   src/driver/*.c src/driver/*.h)

.PHONY: guest kmodel guest-test kmodel-force
guest: kmodel

$(GUEST_ENV):	# tools/guest/fetch itself redoes what an older version left (its stamp)
	$(call msg,FETCH,guest kernel (tools/guest/fetch))
	$(Q)BUILD=$(BUILD) tools/guest/fetch

kmodel: $(KMODEL_KO)

# The list of sources, rewritten only when it changes: a file added, removed or taken from
# another KMODEL_SRC rebuilds the module even when older than it.
KMODEL_LIST := $(KMODEL_DIR)/sources.list
$(KMODEL_LIST): kmodel-force
	@mkdir -p $(@D)
	@echo '$(abspath $(KMODEL_DEPS))' | cmp -s - $@ || echo '$(abspath $(KMODEL_DEPS))' >$@
kmodel-force: ;

# The twin's Kbuild run, for one kernel: $(1) the output dir, $(2) the guest's kernel.env
# (KDIR), $(3) extra kbuild arguments (ARCH, CROSS_COMPILE), $(4) the make target's name.
# Symlinks to the current sources (links whose source is gone are dropped), then kbuild.
define kmodel_kbuild
	@mkdir -p $(1)/driver
	@find $(1) -maxdepth 2 -type l -delete
	$(Q)for f in $(abspath $(wildcard $(KMODEL_SRC)/Kbuild $(KMODEL_SRC)/*.c $(KMODEL_SRC)/*.h)); do \
		ln -sfn $$f $(1)/; done
	$(Q)for f in $(abspath $(wildcard src/driver/*.c src/driver/*.h)); do \
		ln -sfn $$f $(1)/driver/; done
	$(Q). $(2) && env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL \
		$(MAKE) -C "$$KDIR" M=$(abspath $(1)) $(3) $(if $(filter 0,$(V)),-s,V=1) \
		-j$(shell nproc) modules >$(1)/build.log 2>&1 || \
		{ cat $(1)/build.log >&2; echo "make $(4): the twin failed to build (log: $(1)/build.log)" >&2; exit 1; }
endef

$(KMODEL_KO): $(KMODEL_DEPS) $(GUEST_ENV) $(KMODEL_LIST)
	$(call msg,KBUILD,$@)
	@test -f $(KMODEL_SRC)/Kbuild || { echo "make kmodel: no $(KMODEL_SRC)/Kbuild" >&2; exit 1; }
	$(call kmodel_kbuild,$(KMODEL_DIR),$(GUEST_ENV),,kmodel)
	@cat $(KMODEL_DIR)/build.log >&2
	@touch $@

# The guest suite alone (make test runs it too, through tests/guest.sh).
guest-test: deps
	@BUILD=$(BUILD) bash tests/guest.sh
# === end guest and kmodel ========================================================================

# === kmodel-arm64 (tools/kmodel for the arm64 guest) ==============================================
# make kmodel-arm64  $(BUILD)/arm64/kmodel/msm_kmodel.ko, cross-built (ARCH=arm64, bookworm's
# gcc-12 cross compiler, as Debian built the kernel) against the arm64 guest's kernel headers,
# fetched with `tools/guest/fetch --arch arm64 --kernel twin`; that tree's host tools (fixdep,
# modpost) are amd64 linux-kbuild's. Beside $(BUILD)/arm64/msmvm-sim, which insmods it from
# there. The module's BTF is made against the headers' own vmlinux (BTF only, Debian ships it).
# Same symlink layout and source list as `make kmodel`.
GUEST_ARM64_TWIN_ENV := $(BUILD)/guest-arm64-twin/kernel.env
KMODEL_ARM64_DIR     := $(BUILD)/arm64/kmodel
KMODEL_ARM64_KO      := $(KMODEL_ARM64_DIR)/msm_kmodel.ko
KMODEL_ARM64_LIST    := $(KMODEL_ARM64_DIR)/sources.list
# (the headers' .kernelvariables force the same CROSS_COMPILE)
KMODEL_ARM64_CROSS   := aarch64-linux-gnu-

.PHONY: kmodel-arm64
kmodel-arm64: $(KMODEL_ARM64_KO)

$(GUEST_ARM64_TWIN_ENV):
	$(call msg,FETCH,arm64 guest kernel (tools/guest/fetch --arch arm64 --kernel twin))
	$(Q)BUILD=$(BUILD) tools/guest/fetch --arch arm64 --kernel twin
	@test -f $@ || { echo "make kmodel-arm64: tools/guest/fetch --arch arm64 --kernel twin wrote no $@" >&2; exit 1; }

$(KMODEL_ARM64_LIST): kmodel-force
	@mkdir -p $(@D)
	@echo '$(abspath $(KMODEL_DEPS))' | cmp -s - $@ || echo '$(abspath $(KMODEL_DEPS))' >$@

$(KMODEL_ARM64_KO): $(KMODEL_DEPS) $(GUEST_ARM64_TWIN_ENV) $(KMODEL_ARM64_LIST)
	$(call msg,KBUILD,$@)
	@test -f $(KMODEL_SRC)/Kbuild || { echo "make kmodel-arm64: no $(KMODEL_SRC)/Kbuild" >&2; exit 1; }
	@# Debian's arm64 headers name the compiler gcc-12 (.kernelvariables): bookworm's cross one
	@command -v $(KMODEL_ARM64_CROSS)gcc-12 >/dev/null || { echo "make kmodel-arm64:" \
		"no $(KMODEL_ARM64_CROSS)gcc-12 (apt-get install gcc-aarch64-linux-gnu)" >&2; exit 1; }
	$(call kmodel_kbuild,$(KMODEL_ARM64_DIR),$(GUEST_ARM64_TWIN_ENV),ARCH=arm64 CROSS_COMPILE=$(KMODEL_ARM64_CROSS),kmodel-arm64)
	@cat $(KMODEL_ARM64_DIR)/build.log >&2
	@# a module the guest kernel would refuse: say so here, not at insmod in the guest
	$(Q). $(GUEST_ARM64_TWIN_ENV) && vm=$$(PATH=$$PATH:/sbin:/usr/sbin modinfo -F vermagic $@) && \
		case "$$vm" in "$$KVER "*aarch64*) ;; *) echo "make kmodel-arm64: vermagic '$$vm' is not $$KVER's" >&2; exit 1;; esac
	@touch $@
# === end kmodel-arm64 ============================================================================

# === arm64 (make arm64: tools/cross, docs/arm64.md) ==============================================
# The toolkit cross-built for arm64 boards into $(BUILD)/arm64/<tool>, objects under
# $(BUILD)/arm64/obj/: this Makefile again (BUILD=$(BUILD)/arm64, CC=the cross gcc,
# HOST_ARCH=arm64: the model and test BPF flavors are arm64's, the uprobes read arm64
# registers; the six BPF objects are rebuilt there, a few seconds), linked statically against
# the sysroot tools/cross/sysroot unpacks from bookworm's arm64 -dev packages. The ASan
# variants and the tests are not cross-built.
ARM64_PREFIX  ?= aarch64-linux-gnu-
ARM64_SYSROOT := $(BUILD)/cross/arm64/sysroot
ARM64_TARGETS  = $(patsubst %,$(BUILD)/arm64/%,$(TOOLS) msmvm-sim)

.PHONY: arm64 test-arm64
arm64: deps
	$(Q)BUILD=$(BUILD) tools/cross/sysroot
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/arm64 CC=$(ARM64_PREFIX)gcc AR=$(ARM64_PREFIX)ar \
		HOST_ARCH=arm64 CROSS_PREFIX=$(ARM64_PREFIX) CROSS_SYSROOT=$(abspath $(ARM64_SYSROOT)) $(ARM64_TARGETS)

# Not in make test (minutes more; .ci/run runs both): the arm64 build under qemu-user
# (tests/arm64/*.sh; the host's model is their reference for msmvm-sim's workloads), then the
# arm64 guests (tests/guest-arm64.sh): Debian's 7.2 kernel with the real msm.ko, and 6.12
# with the twin. Ends with "N passed, N failed, N skipped" like make test.
test-arm64: arm64 kmodel-arm64
	@$(MAKE) --no-print-directory $(BUILD)/msmvm-sim
	@BUILD=$(BUILD) tests/run-tests.sh arm64

# In that inner make: headers and archives from the sysroot, glibc from the cross toolchain,
# everything static (one file per tool); the archives' own dependencies appended.
ifdef CROSS_SYSROOT
CFLAGS += -I$(CROSS_SYSROOT)/usr/include -I$(CROSS_SYSROOT)/usr/include/aarch64-linux-gnu \
	  -L$(CROSS_SYSROOT)/usr/lib/aarch64-linux-gnu -static
# pahole -J's llvm-objcopy rejects static binaries: pahole, then the target's objcopy
PAHOLE := PAHOLE=$(PAHOLE) OBJCOPY=$(CROSS_PREFIX)objcopy tools/cross/pahole-static
# The BPF objects are the host clang's: their uapi headers (asm/types.h) the host's own.
BPF_CFLAGS += -idirafter /usr/include/$(shell gcc -print-multiarch)
$(BUILD)/msmvmtop: LDLIBS_TOOL += -ltinfo
# A sysroot redone (other packages: its stamp rewritten) rebuilds every object, hence every link.
$(call obj,$(LIB_SRCS) $(SIM_SRCS) $(TUNE_SRCS) $(wildcard src/msmvm*.c) \
	   tools/cross/p11_kit_absent.c): $(CROSS_SYSROOT).stamp
# msmvm-alert: libmicrohttpd.a needs gnutls and its libraries; p11-kit has no archive in
# Debian: tools/cross/p11_kit_absent.c stands in for it (never called, docs/arm64.md).
$(BUILD)/msmvm-alert: $(call obj,tools/cross/p11_kit_absent.c)
$(BUILD)/msmvm-alert: LDLIBS_TOOL += -lgnutls -lhogweed -lnettle -lgmp -ltasn1 -lidn2 \
	-lunistring -lbrotlienc -lbrotlidec -lbrotlicommon -lzstd -lz -lpthread
endif
# === end arm64 ===================================================================================
