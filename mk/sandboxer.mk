# vmm-sandboxer (host/sandboxer/*.c, built by the top Makefile): its VM tests
# and its memory benchmark.
#
#   make test-integration   runs tests/integration/test_sandboxer (QEMU TCG guests)
#   bench/sandboxer-mem     Pss of vmm-sandboxer with 1, 5, 10 running sandboxes

# The VM tests boot build/initramfs.cpio.gz: repack it around the current agent
# (milliseconds). The kernel (make kernel) is not built here: without it the
# VM tests skip and say so.
test-integration: initramfs

# bench/sandboxer-mem's driver is built by mk/bench.mk.
.PHONY: bench-sandboxer-mem
bench-sandboxer-mem:
	@bash bench/sandboxer-mem
