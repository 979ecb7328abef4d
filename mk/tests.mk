# Test tiers:
#   unit         Criterion tests of single modules (tests/unit/test_*.c)
#   integration  black-box tests driving the real binaries, sockets, namespaces
#                (tests/integration/*), VMs under QEMU TCG and containerd.
# Every test that needs something this machine lacks prints why it skipped.

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))
IT_SRCS := $(wildcard tests/integration/test_*.c)
IT_BINS := $(patsubst tests/integration/%.c,$(O)/tests/%,$(IT_SRCS))
TEST_HELPER_SRCS := $(wildcard tests/lib/*.c)

# Modules of the agent and host daemons, linkable into tests (no main()).
GUEST_MOD_HOBJS := $(call hobj,$(filter-out guest-init/main.c,$(GUEST_SRCS)))
HOST_MOD_HOBJS := $(call hobj,$(filter-out host/sandboxer/main.c,$(SANDBOXER_SRCS)) \
	$(filter-out host/shim/main.c,$(SHIM_SRCS)) $(TASKAPI_SRCS))

$(O)/host/libguest-mods.a: $(GUEST_MOD_HOBJS)
	@mkdir -p $(@D); rm -f $@; ar rcs $@ $^
$(O)/host/libhost-mods.a: $(HOST_MOD_HOBJS)
	@mkdir -p $(@D); rm -f $@; ar rcs $@ $^

TEST_HELPER_OBJS := $(call hobj,$(TEST_HELPER_SRCS))
TEST_INCLUDES := -Itests/lib -Iguest-init -Ihost/sandboxer -Ihost/shim -Ihost/taskapi
# Helpers drive product modules (the sandboxer's QMP client, ...).
$(TEST_HELPER_OBJS): HOST_CFLAGS += $(TEST_INCLUDES)
# What a test or bench driver links: helpers, product modules, the runtime lib.
TEST_DEPS := $(TEST_HELPER_OBJS) $(O)/host/libguest-mods.a $(O)/host/libhost-mods.a $(O)/host/libkc.a
TEST_LINK := $(TEST_DEPS) -ljansson -lprotobuf-c -lseccomp -lblkid -lmnl -lnghttp2 -lpthread
TEST_LIBS := $(TEST_LINK) -lcriterion

$(O)/tests/%: tests/unit/%.c $(TEST_DEPS)
	@mkdir -p $(@D)
	$(call qecho,TEST,$@)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(TEST_INCLUDES) $(TEST_LDFLAGS) -o $@ $< $(TEST_LIBS)
$(O)/tests/%: tests/integration/%.c $(TEST_DEPS)
	@mkdir -p $(@D)
	$(call qecho,TEST,$@)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(TEST_INCLUDES) $(TEST_LDFLAGS) -o $@ $< $(TEST_LIBS)

# A static program the seccomp tests run inside containers (any runtime).
SECCOMP_PROBE := $(O)/tests/seccomp-probe
$(SECCOMP_PROBE): tests/integration/seccomp_probe.c | $(BUILD)/gen/.stamp
	@mkdir -p $(@D)
	$(call qecho,GUESTCC,$@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $<
$(O)/tests/test_agent_seccomp: $(SECCOMP_PROBE)

# The CRI suite's pause image binary: static, like Kubernetes' pause.
$(O)/tests/cri-pause: tests/cri/pause.c | $(BUILD)/gen/.stamp
	@mkdir -p $(@D)
	$(call qecho,GUESTCC,$@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $<

.PHONY: test test-deps test-unit test-integration test-asan unit-bins
test-deps:
	@bash scripts/setup-deps.sh build test vm kernel containerd containerd2 cri bench
unit-bins: $(UNIT_BINS)

test-unit: test-deps $(UNIT_BINS)
	@bash tests/run-tests.sh unit $(UNIT_BINS)

test-integration: test-deps all $(IT_BINS) $(O)/bin/vmm-task-host $(O)/tests/cri-pause
	@KC_BIN=$(abspath $(O)/bin) KC_BUILD=$(abspath $(BUILD)) KC_TOP=$(CURDIR) \
	  bash tests/run-tests.sh integration $(IT_BINS) $(wildcard tests/integration/*.sh)

# The README's test command: every tier, each reporting what it skipped.
test:
	@$(MAKE) --no-print-directory test-deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(IT_BINS)
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory test-integration
	@$(MAKE) --no-print-directory test-asan

# Same unit tests with ASan + UBSan builds, and the host-mode agent tests
# against an ASan + UBSan build of vmm-task (glibc; musl has no sanitizers).
test-asan:
	@$(MAKE) --no-print-directory SAN=1 unit-bins $(BUILD)/san/bin/vmm-task-host \
	  $(BUILD)/san/bin/vmm-sandboxer $(BUILD)/san/bin/containerd-shim-kuasar-vmm-v2 \
	  $(BUILD)/san/tests/test_podnet
	@KC_SAN=1 bash tests/run-tests.sh unit $(patsubst $(O)/%,$(BUILD)/san/%,$(UNIT_BINS))
	@# The pod network code runs inside its test binary: that one, sanitized.
	@ASAN_OPTIONS=detect_leaks=1 bash tests/run-tests.sh asan-integration \
	  $(BUILD)/san/tests/test_podnet
	@KC_AGENT=$(abspath $(BUILD)/san/bin/vmm-task-host) ASAN_OPTIONS=detect_leaks=1 \
	  KC_SANDBOXER=$(abspath $(BUILD)/san/bin/vmm-sandboxer) \
	  bash tests/run-tests.sh asan-integration $(O)/tests/test_agent_host \
	  $(O)/tests/test_agent_seccomp $(O)/tests/test_agent_security $(O)/tests/test_agent_load \
	  $(O)/tests/test_runc_diff $(O)/tests/test_guest_net $(O)/tests/test_agent_streaming \
	  $(O)/tests/test_sandboxer $(O)/tests/test_sandboxer_net $(O)/tests/test_sandboxer_native \
	  $(O)/tests/test_sandboxer_grpc $(O)/tests/test_sandboxer_disk $(O)/tests/test_sandboxer_native_disk
	@# The containerd end-to-end checks (containerd 1.6 only), containerd 2.x as a
	@# gRPC client of the sandboxer, and block-backed rootfs and volumes, with
	@# sanitized host daemons.
	@KC_BIN_DIR=$(abspath $(BUILD)/san/bin) ASAN_OPTIONS=detect_leaks=1 \
	  bash tests/run-tests.sh asan-integration tests/integration/test_containerd_e2e.sh \
	  tests/integration/test_ctr_net.sh tests/integration/test_containerd_grpc.sh \
	  tests/integration/test_ctr_block.sh
