# make install [PREFIX=/usr/local] [DESTDIR=]
#   PREFIX/bin                vmm-sandboxer, containerd-shim-kuasar-vmm-v2
#   PREFIX/share/kuasar-c     vmm-task, initramfs.cpio.gz, vmlinux, bzImage,
#                             vhost-device-vsock, config.toml.sample
#   PREFIX/share/doc/kuasar-c docs
#   /var/lib/kuasar/config.toml   the sample, pointing at the files above,
#                                 only if there is no config yet
#   /lib/systemd/system/vmm-sandboxer.service
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(PREFIX)/bin
DATADIR := $(PREFIX)/share/kuasar-c
DOCDIR := $(PREFIX)/share/doc/kuasar-c
UNITDIR ?= /lib/systemd/system
CONFDIR ?= /var/lib/kuasar

.PHONY: install
install: all initramfs kernel
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(CONFDIR)
	install -m 0755 $(O)/bin/vmm-sandboxer $(O)/bin/containerd-shim-kuasar-vmm-v2 \
		$(DESTDIR)$(BINDIR)/
	install -m 0755 $(O)/bin/vmm-task $(DESTDIR)$(DATADIR)/vmm-task
	install -m 0644 $(BUILD)/initramfs.cpio.gz $(DESTDIR)$(DATADIR)/initramfs.cpio.gz
	install -m 0644 $(BUILD)/kernel/vmlinux $(BUILD)/kernel/bzImage $(DESTDIR)$(DATADIR)/
	@# QEMU without kernel vhost-vsock needs vhost-device-vsock; Debian has it only in
	@# newer suites, so setup-deps fetched it: ship it with the guest files.
	@if [ -x "$(VHOST_DEVICE_VSOCK)" ]; then \
	  echo install -m 0755 $(VHOST_DEVICE_VSOCK) $(DESTDIR)$(DATADIR)/vhost-device-vsock; \
	  install -m 0755 $(VHOST_DEVICE_VSOCK) $(DESTDIR)$(DATADIR)/vhost-device-vsock; \
	else echo "install: no vhost-device-vsock (scripts/setup-deps.sh vm); QEMU needs kernel vhost-vsock then"; fi
	sed -e 's|@DATADIR@|$(DATADIR)|g' host/sandboxer/config.toml.in \
		> $(DESTDIR)$(DATADIR)/config.toml.sample
	[ -e $(DESTDIR)$(CONFDIR)/config.toml ] || \
		install -m 0644 $(DESTDIR)$(DATADIR)/config.toml.sample $(DESTDIR)$(CONFDIR)/config.toml
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
		host/systemd/vmm-sandboxer.service.in > $(DESTDIR)$(UNITDIR)/vmm-sandboxer.service
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	@echo "installed into $(DESTDIR)$(PREFIX); see $(DOCDIR)/containerd.md"
