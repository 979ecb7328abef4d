/* SPDX-License-Identifier: Apache-2.0 */
/* vmm-sandboxer's sandbox.json (host/sandboxer/state.c), read back when the
 * daemon restarts and adopts its VMs: sbx_state_decode on arbitrary text, into
 * a sandbox made as sbx_state_load makes it. A decoded state must be one the
 * recovery code can trust: sizes, pids and times in range. */
#include "fuzz.h"
#include "sandbox.h"
#include "state.h"

#define FUZZ_MAX_INPUT SBX_STATE_MAX

static struct sbx_daemon D;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	D.dir = "/nonexistent/fuzz-state"; /* only names paths; nothing is opened */
	sbx_config_defaults(&D.cfg, SBX_HV_QEMU);
	kc_list_init(&D.sandboxes);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sandbox *s;
	kc_err *err = NULL;
	int r;

	if (size > FUZZ_MAX_INPUT)
		return -1;
	s = sbx_new(&D, "pod-1");
	r = sbx_state_decode(s, (const char *)data, size, "sandbox.json", &err);
	fuzz_check_err(r, err);
	if (r == 0) {
		FUZZ_CHECK(!strcmp(s->id, "pod-1"));
		FUZZ_CHECK(s->vcpus <= 255 && s->memory_mb <= (1u << 20));
		FUZZ_CHECK(s->netns && s->hostname && s->address);
		FUZZ_CHECK(s->state <= SBX_STOPPED);
		for (int i = 0; i < SBX_PROC_MAX; i++)
			FUZZ_CHECK(s->procs[i].pid >= 0);
		FUZZ_CHECK(s->created_at <= INT64_MAX && s->exited_at <= INT64_MAX);
		FUZZ_CHECK(s->disks.n <= SBX_DISK_MAX);
		for (int i = 0; i < SBX_DISK_MAX; i++)
			FUZZ_CHECK(!s->disks.d[i] ||
				   (s->disks.d[i]->path && *s->disks.d[i]->path &&
				    strlen(s->disks.d[i]->path) < SBX_DISK_PATH_MAX));
	}
	sbx_free(s);
	kc_err_free(err);
	return 0;
}
