# vmm-sandboxer (host/sandboxer/*.c, built by the top Makefile): its VM tests
# and its memory benchmark.
#
#   make test-integration   runs tests/integration/test_sandboxer (QEMU TCG guests)
#   bench/sandboxer-mem     Pss of vmm-sandboxer with 1, 5, 10 running sandboxes

# The VM tests boot build/initramfs.cpio.gz: repack it around the current agent
# (milliseconds). The kernel (make kernel) is not built here: without it the
# VM tests skip and say so.
test-integration: initramfs

# (tests.mk, which defines TEST_HELPER_SRCS, is read after this file.)
SBX_BENCH_HELPERS := $(call hobj,$(wildcard tests/lib/*.c))
$(O)/bench/sandboxer-mem: bench/sandboxer_mem.c $(SBX_BENCH_HELPERS) $(O)/host/libkc.a
	@mkdir -p $(@D)
	$(call qecho,BENCH,$@)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -Itests/lib $(HOST_LDFLAGS) -o $@ $< \
		$(SBX_BENCH_HELPERS) $(O)/host/libkc.a -ljansson -lprotobuf-c

.PHONY: bench-sandboxer-mem
bench-sandboxer-mem:
	@bash bench/sandboxer-mem
