/* SPDX-License-Identifier: Apache-2.0 */
/* vmm-sandboxer's config loader (host/sandboxer/config.c) on top of its TOML
 * parser: the input is the file sbx_config_load reads (through a memfd, so
 * nothing is written to disk). A loaded config must hold what the schema
 * promises: absolute paths without commas, sizes in range. */
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

#define FUZZ_MAX_INPUT (1u << 20)

static void check_path(const char *p, bool may_be_empty)
{
	FUZZ_CHECK(p);
	if (may_be_empty && !*p)
		return;
	FUZZ_CHECK(p[0] == '/' && !strpbrk(p, ",\n"));
}

static void check_config(const struct sbx_config *c)
{
	FUZZ_CHECK(c->vcpus >= 1 && c->vcpus <= 255);
	FUZZ_CHECK(c->memory_in_mb >= 64 && c->memory_in_mb <= (1 << 20));
	FUZZ_CHECK(c->start_timeout_secs >= 1 && c->stop_timeout_secs >= 1);
	FUZZ_CHECK(c->vfs_thread_pool_size >= 0 && c->vfs_thread_pool_size <= 1024);
	check_path(c->path, false);
	check_path(c->kernel_path, false);
	check_path(c->image_path, true);
	check_path(c->initrd_path, true);
	check_path(c->entropy_source, true);
	check_path(c->vfs_path, false);
	check_path(c->vhost_device_vsock, false);
	FUZZ_CHECK(*c->initrd_path || *c->image_path);
	FUZZ_CHECK(strlen(c->kernel_params) <= 2048 && !strpbrk(c->kernel_params, "\r\n\""));
	FUZZ_CHECK(c->log_level && c->vfs_log_level && c->vfs_cache);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64];
	struct sbx_config c;
	kc_err *err = NULL;
	int r;

	if (size > FUZZ_MAX_INPUT)
		return -1;
	if (fd < 0 && (fd = memfd_create("fuzz-config", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = sbx_config_load(path, &c, &err);
	fuzz_check_err(r, err);
	if (r == 0) {
		check_config(&c);
		sbx_config_free(&c);
	}
	kc_err_free(err);
	return 0;
}
