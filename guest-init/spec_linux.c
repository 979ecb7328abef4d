/* SPDX-License-Identifier: Apache-2.0 */
/* The "linux" section of config.json: namespaces, id maps, devices, masked
 * and read-only paths, sysctls, cgroup resources, propagation; seccomp (seccomp.c). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "seccomp.h"
#include "spec_json.h"
#include "spec_linux.h"
#include "util.h"

int spec_parse_resources(json_t *r, struct kc_resources *res, kc_err **err)
{
	json_t *o;
	int64_t v;
	int got;

	if (spec_get_obj(r, "memory", "linux.resources.memory", &o, err) < 0)
		return -EINVAL;
	if (o) {
		if ((got = spec_get_int(o, "limit", "linux.resources.memory.limit", -1, INT64_MAX,
					&v, err)) < 0)
			return -EINVAL;
		if (got)
			res->has_mem_limit = true, res->mem_limit = v;
		if ((got = spec_get_int(o, "reservation", "linux.resources.memory.reservation", -1,
					INT64_MAX, &v, err)) < 0)
			return -EINVAL;
		if (got)
			res->has_mem_reservation = true, res->mem_reservation = v;
		if ((got = spec_get_int(o, "swap", "linux.resources.memory.swap", -1, INT64_MAX, &v,
					err)) < 0)
			return -EINVAL;
		if (got)
			res->has_mem_swap = true, res->mem_swap = v;
	}
	if (spec_get_obj(r, "cpu", "linux.resources.cpu", &o, err) < 0)
		return -EINVAL;
	if (o) {
		if ((got = spec_get_int(o, "shares", "linux.resources.cpu.shares", 0, 262144, &v,
					err)) < 0)
			return -EINVAL;
		if (got && v > 0)
			res->has_cpu_shares = true, res->cpu_shares = (uint64_t)v;
		if ((got = spec_get_int(o, "quota", "linux.resources.cpu.quota", -1, INT64_MAX, &v,
					err)) < 0)
			return -EINVAL;
		if (got && v != 0)
			res->has_cpu_quota = true, res->cpu_quota = v;
		if ((got = spec_get_int(o, "period", "linux.resources.cpu.period", 0, 1000000, &v,
					err)) < 0)
			return -EINVAL;
		if (got && v > 0)
			res->has_cpu_period = true, res->cpu_period = (uint64_t)v;
		if (spec_get_str(o, "cpus", "linux.resources.cpu.cpus", &res->cpus, err) < 0 ||
		    spec_get_str(o, "mems", "linux.resources.cpu.mems", &res->mems, err) < 0)
			return -EINVAL;
		/* An empty cpuset means "no restriction" (Kuasar issue #245). */
		if (res->cpus && !res->cpus[strspn(res->cpus, " \t")])
			kc_freep(&res->cpus);
		if (res->mems && !res->mems[strspn(res->mems, " \t")])
			kc_freep(&res->mems);
	}
	if (spec_get_obj(r, "pids", "linux.resources.pids", &o, err) < 0)
		return -EINVAL;
	if (o) {
		if ((got = spec_get_int(o, "limit", "linux.resources.pids.limit", -1, INT64_MAX, &v,
					err)) < 0)
			return -EINVAL;
		if (got && v != 0)
			res->has_pids_limit = true, res->pids_limit = v;
	}
	if (spec_get_obj(r, "unified", "linux.resources.unified", &o, err) < 0)
		return -EINVAL;
	if (o) {
		const char *k;
		json_t *val;
		size_t n = json_object_size(o), i = 0;
		res->unified_keys = xcalloc(n + 1, sizeof(char *));
		res->unified_vals = xcalloc(n + 1, sizeof(char *));
		json_object_foreach(o, k, val)
		{
			if (!json_is_string(val))
				return kc_err_set(err, EINVAL,
						  "linux.resources.unified.%s: expected a string",
						  k);
			if (strchr(k, '/') || k[0] == '.' || !strchr(k, '.'))
				return kc_err_set(err, EINVAL,
						  "linux.resources.unified: invalid file name `%s`",
						  k);
			res->unified_keys[i] = xstrdup(k);
			res->unified_vals[i] = xstrdup(json_string_value(val));
			i++;
		}
		res->n_unified = n;
	}
	/* blockIO, hugepageLimits, network, rdma, devices: the VM is the device
	 * boundary; refuse limits we would otherwise silently not enforce. */
	{
		static const char *const unsupported[] = {"blockIO", "hugepageLimits", "network",
							  "rdma"};
		for (size_t i = 0; i < KC_ARRAY_SIZE(unsupported); i++) {
			json_t *x = json_object_get(r, unsupported[i]);
			if (x && !json_is_null(x) &&
			    !(json_is_object(x) && json_object_size(x) == 0) &&
			    !(json_is_array(x) && json_array_size(x) == 0))
				return kc_err_set(err, EOPNOTSUPP,
						  "linux.resources.%s: not supported by vmm-task",
						  unsupported[i]);
		}
	}
	return 0;
}

static const struct {
	const char *name;
	int flag;
} ns_names[] = {
    {"pid", CLONE_NEWPID},       {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS},     {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

static int parse_idmaps(json_t *l, const char *key, struct kc_idmap **ret, size_t *n, kc_err **err)
{
	json_t *a, *v;
	size_t i;
	char path[64];

	snprintf(path, sizeof(path), "linux.%s", key);
	if (spec_get_arr(l, key, path, &a, err) < 0)
		return -EINVAL;
	if (!a)
		return 0;
	*ret = xcalloc(json_array_size(a) + 1, sizeof(**ret));
	json_array_foreach(a, i, v)
	{
		if (!json_is_object(v) ||
		    spec_get_u32(v, "containerID", path, &(*ret)[i].container_id, err) < 0 ||
		    spec_get_u32(v, "hostID", path, &(*ret)[i].host_id, err) < 0 ||
		    spec_get_u32(v, "size", path, &(*ret)[i].size, err) < 0)
			return kc_err_set(err, EINVAL, "%s[%zu]: bad id mapping", path, i);
	}
	*n = json_array_size(a);
	return 0;
}

int spec_parse_linux(json_t *l, struct kc_spec *s, kc_err **err)
{
	json_t *a, *v, *o;
	size_t i;
	char *prop = NULL;
	int r;

	if (spec_get_arr(l, "namespaces", "linux.namespaces", &a, err) < 0)
		return -EINVAL;
	if (a) {
		s->namespaces = xcalloc(json_array_size(a) + 1, sizeof(*s->namespaces));
		json_array_foreach(a, i, v)
		{
			char *type = NULL;
			int flag = 0;
			if (!json_is_object(v) ||
			    spec_get_str(v, "type", "linux.namespaces[].type", &type, err) < 0)
				return kc_err_set(err, EINVAL, "linux.namespaces[%zu]: bad entry",
						  i);
			for (size_t k = 0; type && k < KC_ARRAY_SIZE(ns_names); k++)
				if (!strcmp(type, ns_names[k].name))
					flag = ns_names[k].flag;
			if (!flag) {
				kc_err_set(err, EINVAL, "linux.namespaces[%zu]: unknown type `%s`",
					   i, type ? type : "");
				free(type);
				return -EINVAL;
			}
			free(type);
			for (size_t k = 0; k < s->n_namespaces; k++)
				if (s->namespaces[k].type == flag)
					return kc_err_set(err, EINVAL,
							  "linux.namespaces[%zu]: duplicate type",
							  i);
			s->namespaces[s->n_namespaces].type = flag;
			if (spec_get_str(v, "path", "linux.namespaces[].path",
					 &s->namespaces[s->n_namespaces].path, err) < 0)
				return -EINVAL;
			if (s->namespaces[s->n_namespaces].path &&
			    !*s->namespaces[s->n_namespaces].path)
				kc_freep(&s->namespaces[s->n_namespaces].path);
			s->n_namespaces++;
		}
	}
	if (parse_idmaps(l, "uidMappings", &s->uid_mappings, &s->n_uid_mappings, err) < 0 ||
	    parse_idmaps(l, "gidMappings", &s->gid_mappings, &s->n_gid_mappings, err) < 0)
		return -EINVAL;
	if (spec_get_arr(l, "devices", "linux.devices", &a, err) < 0)
		return -EINVAL;
	if (a) {
		s->devices = xcalloc(json_array_size(a) + 1, sizeof(*s->devices));
		json_array_foreach(a, i, v)
		{
			struct kc_device *d = &s->devices[i];
			char *type = NULL;
			if (!json_is_object(v) ||
			    spec_get_str(v, "type", "linux.devices[].type", &type, err) < 0 ||
			    spec_get_str(v, "path", "linux.devices[].path", &d->path, err) < 0 ||
			    spec_get_int(v, "major", "linux.devices[].major", 0, UINT32_MAX,
					 &d->major, err) < 0 ||
			    spec_get_int(v, "minor", "linux.devices[].minor", 0, UINT32_MAX,
					 &d->minor, err) < 0) {
				free(type);
				return kc_err_set(err, EINVAL, "linux.devices[%zu]: bad entry", i);
			}
			s->n_devices = i + 1;
			if (!type || strlen(type) != 1 || !strchr("cbup", type[0]) || !d->path ||
			    d->path[0] != '/') {
				kc_err_set(err, EINVAL,
					   "linux.devices[%zu]: needs type c|b|u|p and an absolute "
					   "path",
					   i);
				free(type);
				return -EINVAL;
			}
			d->type = type[0];
			free(type);
			/* A wrong fileMode, uid or gid is an error, not a default. */
			if ((r = spec_get_u32(v, "fileMode", "linux.devices[].fileMode", &d->mode,
					      err)) < 0)
				return -EINVAL;
			d->has_mode = r > 0;
			if ((r = spec_get_u32(v, "uid", "linux.devices[].uid", &d->uid, err)) < 0)
				return -EINVAL;
			d->has_uid = r > 0;
			if ((r = spec_get_u32(v, "gid", "linux.devices[].gid", &d->gid, err)) < 0)
				return -EINVAL;
			d->has_gid = r > 0;
		}
	}
	if (spec_get_strv(l, "maskedPaths", "linux.maskedPaths", &s->masked_paths, err) < 0 ||
	    spec_get_strv(l, "readonlyPaths", "linux.readonlyPaths", &s->readonly_paths, err) < 0 ||
	    spec_get_str(l, "cgroupsPath", "linux.cgroupsPath", &s->cgroups_path, err) < 0)
		return -EINVAL;
	if (spec_get_obj(l, "sysctl", "linux.sysctl", &o, err) < 0)
		return -EINVAL;
	if (o) {
		const char *k;
		size_t n = json_object_size(o), j = 0;
		s->sysctl_keys = xcalloc(n + 1, sizeof(char *));
		s->sysctl_vals = xcalloc(n + 1, sizeof(char *));
		json_object_foreach(o, k, v)
		{
			if (!json_is_string(v))
				return kc_err_set(err, EINVAL, "linux.sysctl.%s: expected a string",
						  k);
			if (strstr(k, "..") || strchr(k, '/') == k)
				return kc_err_set(err, EINVAL, "linux.sysctl: invalid key `%s`", k);
			s->sysctl_keys[j] = xstrdup(k);
			s->sysctl_vals[j] = xstrdup(json_string_value(v));
			j++;
		}
		s->n_sysctl = n;
	}
	if (spec_get_obj(l, "resources", "linux.resources", &o, err) < 0)
		return -EINVAL;
	if (o && spec_parse_resources(o, &s->resources, err) < 0)
		return -EINVAL;
	if (spec_get_str(l, "rootfsPropagation", "linux.rootfsPropagation", &prop, err) < 0)
		return -EINVAL;
	if (prop) {
		static const struct {
			const char *n;
			unsigned long f;
		} props[] = {{"shared", MS_SHARED},
			     {"slave", MS_SLAVE},
			     {"private", MS_PRIVATE},
			     {"unbindable", MS_UNBINDABLE},
			     {"rshared", MS_SHARED | MS_REC},
			     {"rslave", MS_SLAVE | MS_REC},
			     {"rprivate", MS_PRIVATE | MS_REC},
			     {"runbindable", MS_UNBINDABLE | MS_REC}};
		for (i = 0; i < KC_ARRAY_SIZE(props); i++)
			if (!strcmp(prop, props[i].n))
				s->rootfs_propagation = props[i].f;
		if (!s->rootfs_propagation && *prop) {
			kc_err_set(err, EINVAL, "linux.rootfsPropagation: unknown value `%s`",
				   prop);
			free(prop);
			return -EINVAL;
		}
		free(prop);
	}
	return kc_seccomp_parse(json_object_get(l, "seccomp"), &s->seccomp, err);
}
