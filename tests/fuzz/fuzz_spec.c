/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI spec parser of vmm-task (guest-init/spec*.c, seccomp.c): every input
 * goes through the three entry points the agent exposes to a Task API client,
 * each used the way the agent uses it:
 *  - kc_spec_parse: config.json of Create (with linux.seccomp compiled), then
 *    the mount options of each mount as the rootfs code splits them;
 *  - kc_process_parse: Exec's process spec;
 *  - kc_resources_parse: Update's linux.resources, into an uninitialised
 *    struct that is cleared afterwards whatever the result (svc_task_update).
 */
#include "fuzz.h"
#include "log.h"
#include "mountopt.h"
#include "spec.h"
#include "util.h"

#define FUZZ_MAX_INPUT (256u << 10)

static void check_process(const struct kc_process *p)
{
	FUZZ_CHECK(p->args && p->args[0]);
	FUZZ_CHECK(p->cwd && p->cwd[0] == '/');
	FUZZ_CHECK(p->user.umask >= -1 && p->user.umask <= 0777);
	FUZZ_CHECK(!p->user.n_gids || p->user.gids);
	FUZZ_CHECK(!p->n_rlimits || p->rlimits);
	FUZZ_CHECK(p->oom_score_adj >= -1000 && p->oom_score_adj <= 1000);
}

static void spec_case(const uint8_t *data, size_t size)
{
	struct kc_spec *s = NULL;
	kc_err *err = NULL;
	int r = kc_spec_parse((const char *)data, size, &s, &err);

	fuzz_check_err(r, err);
	kc_err_freep(&err);
	if (r < 0) {
		FUZZ_CHECK(!s);
		return;
	}
	check_process(&s->process);
	for (size_t i = 0; i < s->n_mounts; i++) {
		struct kc_mount_opts o;
		FUZZ_CHECK(s->mounts[i].destination && s->mounts[i].destination[0] == '/');
		r = kc_mount_opts_parse(s->mounts[i].options, kc_strv_len(s->mounts[i].options), &o,
					&err);
		fuzz_check_err(r, err);
		kc_err_freep(&err);
		kc_mount_opts_clear(&o);
	}
	for (size_t i = 0; i < s->n_annotations; i++)
		FUZZ_CHECK(kc_spec_annotation(s, s->annotation_keys[i]));
	kc_spec_free(s);
}

static void process_case(const uint8_t *data, size_t size)
{
	struct kc_process p = {0}; /* the agent's process objects are calloc'd */
	kc_err *err = NULL;
	int r = kc_process_parse((const char *)data, size, &p, &err);

	fuzz_check_err(r, err);
	kc_err_free(err);
	if (r == 0)
		check_process(&p);
	kc_process_clear(&p);
}

static void resources_case(const uint8_t *data, size_t size)
{
	struct kc_resources res;
	kc_err *err = NULL;
	int r;

	memset(&res, 0xa5, sizeof(res)); /* what the agent's stack holds */
	r = kc_resources_parse((const char *)data, size, &res, &err);
	fuzz_check_err(r, err);
	kc_err_free(err);
	if (r == 0)
		FUZZ_CHECK(!res.n_unified || (res.unified_keys && res.unified_vals));
	kc_resources_clear(&res);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kc_log_set_level(KC_LOG_ERROR); /* "names unknown to libseccomp" on every run */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_INPUT)
		return -1;
	spec_case(data, size);
	process_case(data, size);
	resources_case(data, size);
	return 0;
}
