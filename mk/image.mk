# Guest image: initramfs (our own cpio writer, no root needed) and kernel.
#
#   make initramfs        build/initramfs.cpio.gz with /init = vmm-task
#     INITRAMFS_COMPRESS=gzip|lz4|none   (.cpio.gz / .cpio.lz4 / .cpio)
#     KERNEL_MODULES=/lib/modules/<ver>  add a distro kernel's virtio/vsock/fs modules
#     DEBUG_SHELL=1                      add static busybox as /bin/sh
#     INITRAMFS_INIT=path                another /init (benchmarks, smoke tests)
#     INITRAMFS_OUT=path                 another output file
#   make initramfs-cloud  build/initramfs-cloud.cpio.gz for Debian's cloud kernel
#   make kernel           build/kernel/{vmlinux,bzImage,config} (cached in $KC_CACHE/kernel)
#   make bench-boot       boot time: vmm-task vs a trivial init under QEMU (bench/boot)

HOST_TOOLS := $(BUILD)/host-tools
MKCPIO := $(HOST_TOOLS)/mkcpio
MKCPIO_SRCS := initramfs/mkcpio.c initramfs/cpio.c lib/err.c lib/util.c

# A build tool: host gcc, never sanitized, independent of $(O).
$(MKCPIO): $(MKCPIO_SRCS) initramfs/cpio.h lib/err.h lib/util.h
	@mkdir -p $(@D)
	$(call qecho,HOSTCC,$@)
	$(Q)$(HOST_CC) $(BASE_CFLAGS) -O2 -Ilib -Iinitramfs -o $@ $(MKCPIO_SRCS)

# The unit test compiles against the writer's core (initramfs/cpio.c).
$(O)/tests/test_mkcpio: $(O)/host/initramfs/cpio.o
$(O)/tests/test_mkcpio: HOST_CFLAGS += -Iinitramfs
$(O)/tests/test_mkcpio: TEST_LDFLAGS += $(O)/host/initramfs/cpio.o

INITRAMFS_COMPRESS ?= gzip
INITRAMFS_EXT := $(or $(if $(filter gzip,$(INITRAMFS_COMPRESS)),.cpio.gz), \
	$(if $(filter lz4,$(INITRAMFS_COMPRESS)),.cpio.lz4), \
	$(if $(filter none,$(INITRAMFS_COMPRESS)),.cpio), \
	$(error INITRAMFS_COMPRESS must be gzip, lz4 or none))
INITRAMFS_OUT ?= $(BUILD)/initramfs$(INITRAMFS_EXT)
INITRAMFS_INIT ?= $(O)/bin/vmm-task
KERNEL_MODULES ?=
DEBUG_SHELL ?=
BUSYBOX_STATIC ?= /bin/busybox
# vmm-task alone must stay small; modules and busybox are opt-in extras.
INITRAMFS_MAX_KIB := $(if $(KERNEL_MODULES)$(DEBUG_SHELL),,$(if $(filter gzip,$(INITRAMFS_COMPRESS)),300))

mkinitramfs = bash scripts/mkinitramfs.sh --mkcpio $(MKCPIO) --init $(1) --out $(2) \
	--compress $(3) $(if $(4),--modules $(4)) $(if $(5),--busybox $(BUSYBOX_STATIC)) \
	$(if $(6),--max-kib $(6))

.PHONY: initramfs initramfs-cloud kernel
# Always repacked: it takes milliseconds and the inputs include a directory of modules.
initramfs: $(MKCPIO) $(INITRAMFS_INIT)
	@$(call mkinitramfs,$(INITRAMFS_INIT),$(INITRAMFS_OUT),$(INITRAMFS_COMPRESS),$(KERNEL_MODULES),$(DEBUG_SHELL),$(INITRAMFS_MAX_KIB))

initramfs-cloud: $(MKCPIO) $(INITRAMFS_INIT)
	@bash scripts/setup-deps.sh vm
	@mods=$$(bash scripts/setup-deps.sh --print-env vm 2>/dev/null | sed -n 's/^CLOUD_KERNEL_MODULES=//p'); \
	  [ -n "$$mods" ] || { echo "initramfs: no Debian cloud kernel modules (setup-deps.sh vm)" >&2; exit 1; }; \
	  $(call mkinitramfs,$(INITRAMFS_INIT),$(BUILD)/initramfs-cloud$(INITRAMFS_EXT),$(INITRAMFS_COMPRESS),$$mods,$(DEBUG_SHELL))

kernel:
	@bash scripts/setup-deps.sh kernel
	@$(if $(LINUX_SOURCE_TARBALL),LINUX_SOURCE_TARBALL=$(LINUX_SOURCE_TARBALL)) \
	  bash scripts/build-kernel.sh --out $(BUILD)/kernel

# ------------------------------------------------------------------ boot benchmark
# trivial_init: the baseline PID 1 (musl static, like vmm-task); boot_probe: the
# host-side readiness probe (hybrid vsock handshake, or a ttrpc Check).
$(O)/bench/trivial_init: bench/trivial_init.c | $(BUILD)/gen/.stamp
	@mkdir -p $(@D)
	$(call qecho,GUESTCC,$@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $<
# boot_probe is built by mk/bench.mk.
BENCH_BOOT_BINS := $(O)/bench/trivial_init $(O)/bench/boot_probe
.PHONY: bench-boot bench-boot-bins
bench-boot-bins: $(BENCH_BOOT_BINS) $(MKCPIO) $(O)/bin/vmm-task
bench-boot: bench-boot-bins
	@bash scripts/setup-deps.sh vm
	@bash bench/boot
