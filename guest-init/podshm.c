/* SPDX-License-Identifier: Apache-2.0 */
#include "podshm.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "id.h"
#include "log.h"
#include "mountopt.h"
#include "util.h"

#define TYPE_ANNOTATION    "io.kubernetes.cri.container-type"
#define SANDBOX_ANNOTATION "io.kubernetes.cri.sandbox-id"
#define SHM_OPTS           "mode=1777,size=65536k"

static struct kc_mount *shm_mount(struct kc_spec *spec)
{
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (spec->mounts[i].destination && !strcmp(spec->mounts[i].destination, "/dev/shm"))
			return &spec->mounts[i];
	return NULL;
}

static char *shm_dir(const char *state_dir, const char *sandbox)
{
	return xasprintf("%s/pods/%s/shm", state_dir, sandbox);
}

/* The mount becomes an rbind of dir, keeping its nosuid/nodev/noexec. */
static void bind_from(struct kc_mount *m, const char *dir)
{
	free(m->type);
	free(m->source);
	m->type = xstrdup("bind");
	m->source = xstrdup(dir);
	kc_strv_free(m->options);
	m->options = xcalloc(5, sizeof(char *));
	m->options[0] = xstrdup("rbind");
	m->options[1] = xstrdup("nosuid");
	m->options[2] = xstrdup("nodev");
	m->options[3] = xstrdup("noexec");
}

int kc_podshm_prepare(const char *state_dir, const char *id, struct kc_spec *spec, kc_err **err)
{
	const char *type = kc_spec_annotation(spec, TYPE_ANNOTATION);
	const char *sandbox = kc_spec_annotation(spec, SANDBOX_ANNOTATION);
	struct kc_mount *m = shm_mount(spec);
	_cleanup_free_ char *dir = NULL;

	if (!type || !sandbox || !m)
		return 0;
	/* The id becomes a path component. */
	if (kc_id_check("annotation " SANDBOX_ANNOTATION, sandbox, err) < 0)
		return -1;
	dir = shm_dir(state_dir, sandbox);
	if (!strcmp(type, "sandbox")) {
		if (strcmp(sandbox, id))
			return kc_err_set(err, EINVAL, "sandbox container %s names sandbox %s", id,
					  sandbox);
		if (kc_mkdir_p(dir, 0755, err) < 0)
			return kc_err_wrap(err, "pod shm");
		if (mount("shm", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, SHM_OPTS) < 0 &&
		    errno != EBUSY)
			return kc_err_sys(err, "mount the pod's shm at `%s`", dir);
	} else if (!strcmp(type, "container")) {
		/* No sandbox container in this VM (containerd's sandbox API
		 * runs none; the VM is the pod): the first container makes the
		 * pod's shm, which lives as long as the VM. */
		if (access(dir, F_OK) < 0) {
			if (kc_mkdir_p(dir, 0755, err) < 0)
				return kc_err_wrap(err, "pod shm");
			if (mount("shm", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, SHM_OPTS) <
			    0)
				return kc_err_sys(err, "mount the pod's shm at `%s`", dir);
		}
	} else {
		return 0;
	}
	bind_from(m, dir);
	return 0;
}

void kc_podshm_release(const char *state_dir, const char *id, const struct kc_spec *spec)
{
	const char *type = kc_spec_annotation(spec, TYPE_ANNOTATION);
	const char *sandbox = kc_spec_annotation(spec, SANDBOX_ANNOTATION);
	_cleanup_free_ char *dir = NULL, *pod = NULL;

	if (!type || strcmp(type, "sandbox") || !sandbox || strcmp(sandbox, id) ||
	    kc_id_check("sandbox", sandbox, NULL) < 0)
		return;
	dir = shm_dir(state_dir, sandbox);
	pod = xasprintf("%s/pods/%s", state_dir, sandbox);
	if (umount2(dir, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		log_warn("%s: unmount the pod's shm: %s", id, strerror(errno));
	(void)rmdir(dir);
	(void)rmdir(pod);
}
