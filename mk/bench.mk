# Benchmarks: C drivers linked like the tests (product clients + test helpers,
# no Criterion); entry points are the executable scripts in bench/ (they print
# tables, they never fail on targets). Each builds on a fresh checkout.
BENCH_BINS := $(O)/bench/container-start $(O)/bench/sandboxer-mem $(O)/bench/boot_probe

# bench/foo_bar.c builds $(O)/bench/foo-bar (boot_probe keeps its name).
bench_src = bench/$(subst -,_,$(notdir $(1))).c
.SECONDEXPANSION:
$(BENCH_BINS): $$(call bench_src,$$@) $(TEST_DEPS)
	@mkdir -p $(@D)
	$(call qecho,BENCH,$@)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(TEST_INCLUDES) $(HOST_LDFLAGS) -o $@ $< $(TEST_LINK)

.PHONY: bench-bins
bench-bins: $(BENCH_BINS)

# ctr run to exit, kuasar-c vs runc, and shim/sandboxer/VM memory per pod,
# through a private containerd (bench/pod-start; root; exit 77 if it cannot run).
.PHONY: bench-pod-start
bench-pod-start:
	@bash bench/pod-start

# bench/pod-net's TCP peer: static (musl), it runs in the pods (bound in) and on the node.
$(O)/bench/pod-net-io: bench/pod_net_io.c | $(BUILD)/gen/.stamp
	@mkdir -p $(@D)
	$(call qecho,GUESTCC,$@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $<

# Pod networking, kuasar-vmm's tap path vs runc's veth (bench/pod-net; root; exit 77 if it
# cannot run).
.PHONY: bench-pod-net
bench-pod-net:
	@bash bench/pod-net

.PHONY: bench-native-vs-shim
bench-native-vs-shim:
	@bash bench/native-vs-shim

# bench/rootfs-io's reader: static (musl), the whole image it reads from.
$(O)/bench/rootfs-io: bench/rootfs_io.c | $(BUILD)/gen/.stamp
	@mkdir -p $(@D)
	$(call qecho,GUESTCC,$@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $<

# Reads of a file in the container image, rootfs on virtio-blk (blockfile
# snapshotter) vs virtio-fs (overlayfs), QEMU pc (bench/rootfs-io; root; exit 77
# if it cannot run).
.PHONY: bench-rootfs-io
bench-rootfs-io:
	@bash bench/rootfs-io
