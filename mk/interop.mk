# ttrpc interop with containerd's own Go ttrpc, and the ttrpc round-trip benchmark.
#   $(O)/tests/ttrpc-peer  C peer of tests/integration/test_go_interop.sh
#   $(O)/bench/ttrpc-rtt   C half of bench/ttrpc-rtt
# The Go peers are built by those scripts (tests/interop/go-build.sh), not here:
# the test has to be able to skip, with a reason, where Go cannot be installed.

INTEROP_PEER := $(O)/tests/ttrpc-peer
BENCH_TTRPC_RTT := $(O)/bench/ttrpc-rtt

# Both serve through tests/lib/serve.c.
$(call hobj,tests/interop/ttrpc_peer.c bench/ttrpc_rtt.c): HOST_CFLAGS += -Itests/lib

$(INTEROP_PEER): $(call hobj,tests/interop/ttrpc_peer.c tests/lib/serve.c) $(O)/host/libkc.a
	@mkdir -p $(@D)
	$(call qecho,LD,$@)
	$(Q)$(HOST_CC) $(HOST_LDFLAGS) -o $@ $(filter %.o,$^) $(HOST_LIBS)

$(BENCH_TTRPC_RTT): $(call hobj,bench/ttrpc_rtt.c tests/lib/serve.c) $(O)/host/libkc.a
	@mkdir -p $(@D)
	$(call qecho,LD,$@)
	$(Q)$(HOST_CC) $(HOST_LDFLAGS) -o $@ $(filter %.o,$^) $(HOST_LIBS)

.PHONY: interop-bins bench-ttrpc-rtt
interop-bins: $(INTEROP_PEER)
bench-ttrpc-rtt: $(BENCH_TTRPC_RTT)

# Built before the integration tier runs (extra prerequisites of a target
# defined in tests.mk: make merges them).
TEST_PREREQS += $(INTEROP_PEER)
test-integration: $(INTEROP_PEER)
