# The containerd end-to-end test (tests/integration/test_containerd_e2e.sh)
# and the README's main job (make demo) need the whole product: binaries,
# the initramfs and the kernel.
test-integration: initramfs

.PHONY: demo
demo:
	@bash scripts/setup-deps.sh all
	@$(MAKE) --no-print-directory all initramfs kernel
	@bash scripts/demo.sh
