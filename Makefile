# kuasar-c build. Non-recursive: one Makefile builds the musl-static guest agent
# and the glibc host binaries from the same shared runtime (lib/) and the
# protobuf-c code generated from proto/ at build time.
#
#   make              build everything (installs missing build deps first)
#   make test         install test deps, build, run every test tier
#   make test-asan    unit + host-mode tests with ASan/UBSan builds
#   make format-check / format
#   make initramfs kernel install ... (see README)

SHELL := /bin/bash
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SUFFIXES:

VERSION := 0.1.0
KC_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kuasar-c
export KC_CACHE
BUILD ?= build
O := $(BUILD)

# Paths of the musl sysroot etc. are written by scripts/setup-deps.sh.
-include $(KC_CACHE)/env.mk
MUSL_SYSROOT ?= $(KC_CACHE)/musl-sysroot
MUSL_KINC ?= $(KC_CACHE)/musl-kinc

SAN ?=
# V=1 shows full compiler command lines.
Q := $(if $(V),,@)
qecho = $(if $(V),,@echo '  $(1)	$(2)')
HOST_CC ?= gcc
GUEST_CC ?= musl-gcc
PROTOC_C ?= protoc-c

WARN := -Wall -Wextra -Werror -Wformat=2 -Wno-unused-parameter -Wshadow=local
BASE_CFLAGS := -std=gnu11 -g -D_GNU_SOURCE -DKC_VERSION='"$(VERSION)"' $(WARN) \
	-fno-strict-aliasing -ffunction-sections -fdata-sections
HOST_OPT ?= -O2
GUEST_OPT ?= -Os
HOST_CFLAGS := $(BASE_CFLAGS) $(HOST_OPT) -fstack-protector-strong -I$(O)/gen -Ilib
GUEST_CFLAGS := $(BASE_CFLAGS) $(GUEST_OPT) -fno-asynchronous-unwind-tables -fno-stack-protector \
	-I$(O)/gen -Ilib -I$(MUSL_SYSROOT)/include -I$(MUSL_KINC)
GUEST_LDFLAGS := -static -Wl,--gc-sections -L$(MUSL_SYSROOT)/lib
HOST_LDFLAGS := -Wl,--gc-sections
# Criterion registers tests in a linker section that --gc-sections would drop.
TEST_LDFLAGS :=
ifneq ($(SAN),)
HOST_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
HOST_LDFLAGS += -fsanitize=address,undefined
TEST_LDFLAGS += -fsanitize=address,undefined
O := $(BUILD)/san
endif

# ------------------------------------------------------------------ protos
PROTOS := $(shell find proto -name '*.proto' | sort)
PB_C := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PB_H := $(PB_C:.c=.h)

$(BUILD)/gen/.stamp: $(PROTOS) | deps
	@mkdir -p $(BUILD)/gen
	$(call qecho,PROTOC,proto/)
	$(Q)$(PROTOC_C) -Iproto --c_out=$(BUILD)/gen $(PROTOS)
	@touch $@
$(PB_C) $(PB_H): $(BUILD)/gen/.stamp ;

# ------------------------------------------------------------------ sources
LIB_SRCS := $(wildcard lib/*.c)
# gRPC (nghttp2) is for the host's sandboxer only: the guest never builds it.
HOST_ONLY_LIB_SRCS := $(wildcard lib/grpc_*.c)
GUEST_SRCS := $(wildcard guest-init/*.c)
SANDBOXER_SRCS := $(wildcard host/sandboxer/*.c)
SHIM_SRCS := $(wildcard host/shim/*.c)
# One pod's Task API (containerd.task.v2/v3.Task): the shim's and vmm-sandboxer's.
TASKAPI_SRCS := $(wildcard host/taskapi/*.c)

gobj = $(patsubst %.c,$(O)/guest/%.o,$(1))
hobj = $(patsubst %.c,$(O)/host/%.o,$(1))
# Generated code lives under $(BUILD)/gen; objects mirror that path.
gen_gobj = $(patsubst $(BUILD)/gen/%.c,$(O)/guest/gen/%.o,$(1))
gen_hobj = $(patsubst $(BUILD)/gen/%.c,$(O)/host/gen/%.o,$(1))

PB_GOBJS := $(call gen_gobj,$(PB_C))
PB_HOBJS := $(call gen_hobj,$(PB_C))
LIB_GOBJS := $(call gobj,$(filter-out $(HOST_ONLY_LIB_SRCS),$(LIB_SRCS)))
LIB_HOBJS := $(call hobj,$(LIB_SRCS))

$(O)/guest/gen/%.o: $(BUILD)/gen/%.c $(BUILD)/gen/.stamp
	@mkdir -p $(@D)
	$(call qecho,GUESTCC,$<)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@
$(O)/host/gen/%.o: $(BUILD)/gen/%.c $(BUILD)/gen/.stamp
	@mkdir -p $(@D)
	$(call qecho,HOSTCC,$<)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -MMD -MP -c $< -o $@
$(O)/guest/%.o: %.c $(BUILD)/gen/.stamp
	@mkdir -p $(@D)
	$(call qecho,GUESTCC,$<)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@
$(O)/host/%.o: %.c $(BUILD)/gen/.stamp
	@mkdir -p $(@D)
	$(call qecho,HOSTCC,$<)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -MMD -MP -c $< -o $@
# The daemons that serve the Task API use its headers.
$(call hobj,$(SANDBOXER_SRCS) $(SHIM_SRCS)): HOST_CFLAGS += -Ihost/taskapi

$(O)/guest/libkc.a: $(LIB_GOBJS) $(PB_GOBJS)
	@mkdir -p $(@D); rm -f $@; ar rcs $@ $^
$(O)/host/libkc.a: $(LIB_HOBJS) $(PB_HOBJS)
	@mkdir -p $(@D); rm -f $@; ar rcs $@ $^

# ------------------------------------------------------------------ binaries
# libblkid: only the agent probes disks (guest-init/blkdev.c).
GUEST_LIBS := $(O)/guest/libkc.a -ljansson -lprotobuf-c -lseccomp -lblkid
HOST_LIBS := $(O)/host/libkc.a -ljansson -lprotobuf-c
# Only the agent enforces seccomp profiles (guest-init/seccomp.c) and probes disks.
AGENT_HOST_LIBS := $(HOST_LIBS) -lseccomp -lblkid
# Only the sandboxer sets up pod networks over rtnetlink (host/sandboxer/podnet*.c)
# and serves gRPC besides ttrpc (lib/grpc_server.c, HTTP/2 by nghttp2).
SANDBOXER_LIBS := $(HOST_LIBS) -lmnl -lnghttp2

BINS := $(O)/bin/vmm-task
$(O)/bin/vmm-task: $(call gobj,$(GUEST_SRCS)) $(O)/guest/libkc.a
	@mkdir -p $(@D)
	$(call qecho,LD,$@)
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^) $(GUEST_LIBS)

# A glibc build of the agent for host-mode tests under sanitizers.
$(O)/bin/vmm-task-host: $(call hobj,$(GUEST_SRCS)) $(O)/host/libkc.a
	@mkdir -p $(@D)
	$(call qecho,LD,$@)
	$(Q)$(HOST_CC) $(HOST_LDFLAGS) -o $@ $(filter %.o,$^) $(AGENT_HOST_LIBS)

ifneq ($(SANDBOXER_SRCS),)
BINS += $(O)/bin/vmm-sandboxer
$(O)/bin/vmm-sandboxer: $(call hobj,$(SANDBOXER_SRCS) $(TASKAPI_SRCS)) $(O)/host/libkc.a
	@mkdir -p $(@D)
	$(call qecho,LD,$@)
	$(Q)$(HOST_CC) $(HOST_LDFLAGS) -o $@ $(filter %.o,$^) $(SANDBOXER_LIBS)
endif
ifneq ($(SHIM_SRCS),)
BINS += $(O)/bin/containerd-shim-kuasar-vmm-v2
$(O)/bin/containerd-shim-kuasar-vmm-v2: $(call hobj,$(SHIM_SRCS) $(TASKAPI_SRCS)) $(O)/host/libkc.a
	@mkdir -p $(@D)
	$(call qecho,LD,$@)
	$(Q)$(HOST_CC) $(HOST_LDFLAGS) -o $@ $(filter %.o,$^) $(HOST_LIBS)
endif

# The guest's link libraries (tests/integration/test_linked_libs.sh checks each is called).
.PHONY: print-guest-libs
print-guest-libs:
	@echo $(filter -l%,$(GUEST_LIBS))

.PHONY: all deps
all: $(BINS)
	@size_k=$$(($$(stat -c %s $(O)/bin/vmm-task) / 1024)); \
	echo "built: $(BINS) (vmm-task $${size_k} KiB unstripped)"

# Installing/building dependencies is idempotent and takes well under a
# second when everything is already there.
deps:
	@bash scripts/setup-deps.sh build

# Each concern keeps its rules in mk/*.mk (tests, interop, image, kernel, ...).
# tests.mk first: it defines the test helper objects the bench rules link.
include mk/tests.mk
include $(filter-out mk/tests.mk,$(sort $(wildcard mk/*.mk)))
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ------------------------------------------------------------------ style
FORMAT_SRCS = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null)
.PHONY: format format-check clean
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	@bad=0; for f in $(FORMAT_SRCS); do \
	  if ! clang-format --dry-run --Werror "$$f" >/dev/null 2>&1; then echo "needs formatting: $$f"; bad=1; fi; \
	done; if [ $$bad = 1 ]; then echo "run 'make format'"; exit 1; fi; echo "format-check: ok"

clean:
	rm -rf $(BUILD)
