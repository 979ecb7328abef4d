# Benchmarks: C drivers built against the test helpers; entry points are the
# executable scripts in bench/ (they print tables, they never fail on targets).
BENCH_BINS := $(O)/bench/container-start

$(O)/bench/container-start: bench/container_start.c $(call hobj,$(TEST_HELPER_SRCS)) $(O)/host/libkc.a
	@mkdir -p $(@D)
	$(call qecho,BENCH,$@)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -Itests/lib $(HOST_LDFLAGS) -o $@ $< \
		$(call hobj,$(TEST_HELPER_SRCS)) $(O)/host/libkc.a -ljansson -lprotobuf-c

.PHONY: bench-bins
bench-bins: $(BENCH_BINS)

# ctr run to exit, kuasar-c vs runc, and shim/sandboxer/VM memory per pod,
# through a private containerd (bench/pod-start; root; exit 77 if it cannot run).
.PHONY: bench-pod-start
bench-pod-start:
	@bash bench/pod-start
