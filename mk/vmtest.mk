# The guest end to end under QEMU (tests/integration/test_vm_qemu.c, docs/guest.md):
# it boots build/initramfs.cpio.gz with our kernel and build/initramfs-cloud.cpio.gz
# with Debian's cloud kernel, so both are built before the integration tier.
#
# A failure here does not stop `make test`: whatever could not be built or installed
# is removed, and the test skips that kernel, naming it. Images that exist but are
# out of date would test the wrong thing, hence the removal.

.PHONY: vm-test-images
vm-test-images: $(MKCPIO) $(O)/bin/vmm-task
	@bash scripts/setup-deps.sh vm || \
	  echo "vm-test: scripts/setup-deps.sh vm failed; the VM test will skip what is missing" >&2
	@$(MAKE) --no-print-directory kernel || { \
	  echo "vm-test: make kernel failed (log: $(KC_CACHE)/logs/kernel.log); the VM test skips our kernel" >&2; \
	  rm -f $(BUILD)/kernel/bzImage $(BUILD)/kernel/vmlinux; }
	@$(MAKE) --no-print-directory initramfs INITRAMFS_COMPRESS=gzip \
	  INITRAMFS_OUT=$(BUILD)/initramfs.cpio.gz INITRAMFS_INIT=$(O)/bin/vmm-task
	@$(MAKE) --no-print-directory initramfs-cloud INITRAMFS_COMPRESS=gzip \
	  INITRAMFS_INIT=$(O)/bin/vmm-task || { \
	  echo "vm-test: make initramfs-cloud failed; the VM test skips Debian's cloud kernel" >&2; \
	  rm -f $(BUILD)/initramfs-cloud.cpio.gz; }
	@# Test only: the cloud kernel with its vsock loopback transport loaded, so a
	@# container can dial the agent and the agent's own peer check is what stops it.
	@mods=$$(bash scripts/setup-deps.sh --print-env vm 2>/dev/null | sed -n 's/^CLOUD_KERNEL_MODULES=//p'); \
	  [ -n "$$mods" ] && bash scripts/mkinitramfs.sh --mkcpio $(MKCPIO) --init $(O)/bin/vmm-task \
	    --out $(BUILD)/initramfs-cloud-vsockloop.cpio.gz --compress gzip --modules "$$mods" \
	    --extra-module vsock_loopback || { \
	  echo "vm-test: no vsock_loopback initramfs; the VM test skips the agent's peer check" >&2; \
	  rm -f $(BUILD)/initramfs-cloud-vsockloop.cpio.gz; }

# An extra prerequisite of the target in tests.mk (make merges them).
test-integration: vm-test-images

# A static musl program the VM test runs inside a container: what a container
# process reaches over AF_VSOCK (tests/integration/vsockprobe.c).
$(O)/tests/vsockprobe: tests/integration/vsockprobe.c
	@mkdir -p $(@D)
	$(call qecho,GUESTCC,$@)
	$(Q)$(GUEST_CC) $(BASE_CFLAGS) -O2 -static -I$(MUSL_KINC) -o $@ $<
$(O)/tests/test_vm_qemu: $(O)/tests/vsockprobe

# The VM test's attack, load and disk cases live in their own files (vm.h).
VM_TEST_OBJS := $(O)/tests/vm_attacks.o $(O)/tests/vm_block.o
$(VM_TEST_OBJS): $(O)/tests/%.o: tests/integration/%.c tests/integration/vm.h $(TEST_DEPS)
	@mkdir -p $(@D)
	$(call qecho,CC,$@)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(TEST_INCLUDES) -c -o $@ $<
$(O)/tests/test_vm_qemu: $(VM_TEST_OBJS) tests/integration/vm.h
$(O)/tests/test_vm_qemu: TEST_LDFLAGS += $(VM_TEST_OBJS)
