/* SPDX-License-Identifier: Apache-2.0 */
#include "spec.h"

#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "util.h"

/* config.json is written by containerd; anything near this size is hostile. */
#define SPEC_MAX (4u << 20)

static int type_err(kc_err **err, const char *path, const char *want)
{
	return kc_err_set(err, EINVAL, "%s: expected %s", path, want);
}

/* Each getter: absent (or null) -> 0 and output untouched; wrong type -> error. */
static int get_str(json_t *o, const char *key, const char *path, char **ret, kc_err **err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return type_err(err, path, "a string");
	free(*ret);
	*ret = xstrdup(json_string_value(v));
	return 1;
}

static int get_bool(json_t *o, const char *key, const char *path, bool *ret, kc_err **err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return type_err(err, path, "a boolean");
	*ret = json_is_true(v);
	return 1;
}

static int get_int(json_t *o, const char *key, const char *path, int64_t min, int64_t max,
		   int64_t *ret, kc_err **err)
{
	json_t *v = json_object_get(o, key);
	json_int_t i;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return type_err(err, path, "an integer");
	i = json_integer_value(v);
	if (i < min || i > max)
		return kc_err_set(err, ERANGE, "%s: %lld out of range [%lld, %lld]", path,
				  (long long)i, (long long)min, (long long)max);
	*ret = i;
	return 1;
}

/* uint64 fields (cpu shares, period) may exceed json_int_t in theory; jansson
 * parses up to INT64_MAX which covers every sane value. */
static int get_u32(json_t *o, const char *key, const char *path, uint32_t *ret, kc_err **err)
{
	int64_t v;
	int r = get_int(o, key, path, 0, UINT32_MAX, &v, err);
	if (r > 0)
		*ret = (uint32_t)v;
	return r;
}

static int get_obj(json_t *o, const char *key, const char *path, json_t **ret, kc_err **err)
{
	json_t *v = json_object_get(o, key);
	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return type_err(err, path, "an object");
	*ret = v;
	return 1;
}

static int get_arr(json_t *o, const char *key, const char *path, json_t **ret, kc_err **err)
{
	json_t *v = json_object_get(o, key);
	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return type_err(err, path, "an array");
	*ret = v;
	return 1;
}

static int get_strv(json_t *o, const char *key, const char *path, char ***ret, kc_err **err)
{
	json_t *a, *v;
	size_t i;
	char **out;
	int r = get_arr(o, key, path, &a, err);

	if (r <= 0)
		return r;
	out = xcalloc(json_array_size(a) + 1, sizeof(char *));
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v)) {
			kc_strv_free(out);
			return kc_err_set(err, EINVAL, "%s[%zu]: expected a string", path, i);
		}
		out[i] = xstrdup(json_string_value(v));
	}
	kc_strv_free(*ret);
	*ret = out;
	return 1;
}

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int kc_cap_from_name(const char *name)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(cap_names); i++)
		if (!strcmp(name, cap_names[i]))
			return (int)i;
	return -1;
}

int kc_cap_last(void)
{
	static int last = -1;
	if (last < 0) {
		char *s = NULL;
		int64_t v;
		if (kc_read_file("/proc/sys/kernel/cap_last_cap", 64, &s, NULL, NULL) == 0) {
			s[strcspn(s, "\n")] = '\0';
			if (kc_parse_i64(s, 0, 63, &v) == 0)
				last = (int)v;
		}
		free(s);
		if (last < 0)
			last = (int)KC_ARRAY_SIZE(cap_names) - 1;
	}
	return last;
}

static const struct {
	const char *name;
	int res;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

int kc_rlimit_from_name(const char *name)
{
	for (size_t i = 0; i < KC_ARRAY_SIZE(rlimit_names); i++)
		if (!strcmp(name, rlimit_names[i].name))
			return rlimit_names[i].res;
	return -1;
}

static int parse_capset(json_t *caps, const char *key, uint64_t *ret, kc_err **err)
{
	json_t *a, *v;
	size_t i;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "process.capabilities.%s", key);
	r = get_arr(caps, key, path, &a, err);
	if (r <= 0)
		return r;
	*ret = 0;
	json_array_foreach(a, i, v)
	{
		int c;
		if (!json_is_string(v))
			return kc_err_set(err, EINVAL, "%s[%zu]: expected a string", path, i);
		c = kc_cap_from_name(json_string_value(v));
		if (c < 0)
			return kc_err_set(err, EINVAL, "%s: unknown capability `%s`", path,
					  json_string_value(v));
		/* Capabilities newer than this kernel cannot be granted; runc and
		 * crun skip them the same way. */
		if (c <= kc_cap_last())
			*ret |= 1ULL << c;
	}
	return 0;
}

static int parse_user(json_t *u, struct kc_user *user, kc_err **err)
{
	json_t *a, *v;
	size_t i;
	int64_t um;

	if (get_u32(u, "uid", "process.user.uid", &user->uid, err) < 0 ||
	    get_u32(u, "gid", "process.user.gid", &user->gid, err) < 0)
		return -EINVAL;
	if (get_int(u, "umask", "process.user.umask", 0, 0777, &um, err) < 0)
		return -EINVAL;
	if (json_object_get(u, "umask") && json_is_integer(json_object_get(u, "umask")))
		user->umask = (int)um;
	if (json_object_get(u, "username") && json_is_string(json_object_get(u, "username")) &&
	    !json_object_get(u, "uid"))
		return kc_err_set(err, EINVAL,
				  "process.user.username `%s`: user names must be resolved to "
				  "a uid by the caller",
				  json_string_value(json_object_get(u, "username")));
	if (get_arr(u, "additionalGids", "process.user.additionalGids", &a, err) < 0)
		return -EINVAL;
	if (a) {
		user->gids = xcalloc(json_array_size(a) + 1, sizeof(uint32_t));
		json_array_foreach(a, i, v)
		{
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > UINT32_MAX)
				return kc_err_set(err, EINVAL,
						  "process.user.additionalGids[%zu]: expected a "
						  "gid",
						  i);
			user->gids[i] = (uint32_t)json_integer_value(v);
		}
		user->n_gids = json_array_size(a);
	}
	return 0;
}

static int parse_process(json_t *p, struct kc_process *proc, kc_err **err)
{
	json_t *o, *a, *v;
	size_t i;
	int64_t n;

	proc->user.umask = -1;
	if (get_bool(p, "terminal", "process.terminal", &proc->terminal, err) < 0)
		return -EINVAL;
	if (get_obj(p, "consoleSize", "process.consoleSize", &o, err) < 0)
		return -EINVAL;
	if (o &&
	    (get_u32(o, "width", "process.consoleSize.width", &proc->console_width, err) < 0 ||
	     get_u32(o, "height", "process.consoleSize.height", &proc->console_height, err) < 0))
		return -EINVAL;
	if (get_obj(p, "user", "process.user", &o, err) < 0)
		return -EINVAL;
	if (o && parse_user(o, &proc->user, err) < 0)
		return -EINVAL;
	if (get_strv(p, "args", "process.args", &proc->args, err) < 0 ||
	    get_strv(p, "env", "process.env", &proc->env, err) < 0 ||
	    get_str(p, "cwd", "process.cwd", &proc->cwd, err) < 0)
		return -EINVAL;
	if (json_object_get(p, "commandLine"))
		return kc_err_set(err, EINVAL, "process.commandLine: Windows only");
	if (!proc->args || !proc->args[0])
		return kc_err_set(err, EINVAL, "process.args: must name the program to run");
	if (!proc->cwd)
		proc->cwd = xstrdup("/");
	if (proc->cwd[0] != '/')
		return kc_err_set(err, EINVAL, "process.cwd `%s`: must be absolute", proc->cwd);
	if (get_obj(p, "capabilities", "process.capabilities", &o, err) < 0)
		return -EINVAL;
	if (o) {
		proc->caps.set = true;
		if (parse_capset(o, "bounding", &proc->caps.bounding, err) < 0 ||
		    parse_capset(o, "effective", &proc->caps.effective, err) < 0 ||
		    parse_capset(o, "permitted", &proc->caps.permitted, err) < 0 ||
		    parse_capset(o, "inheritable", &proc->caps.inheritable, err) < 0 ||
		    parse_capset(o, "ambient", &proc->caps.ambient, err) < 0)
			return -EINVAL;
	}
	if (get_arr(p, "rlimits", "process.rlimits", &a, err) < 0)
		return -EINVAL;
	if (a) {
		proc->rlimits = xcalloc(json_array_size(a) + 1, sizeof(*proc->rlimits));
		json_array_foreach(a, i, v)
		{
			char *type = NULL;
			int64_t soft = 0, hard = 0;
			int res;

			if (!json_is_object(v))
				return kc_err_set(err, EINVAL,
						  "process.rlimits[%zu]: expected an object", i);
			if (get_str(v, "type", "process.rlimits[].type", &type, err) < 0)
				return -EINVAL;
			res = type ? kc_rlimit_from_name(type) : -1;
			if (res < 0) {
				kc_err_set(err, EINVAL, "process.rlimits[%zu]: unknown type `%s`",
					   i, type ? type : "");
				free(type);
				return -EINVAL;
			}
			free(type);
			/* JSON numbers are int64 here; RLIM_INFINITY arrives as -1 or
			 * as 2^64-1, which jansson rejects, so both spellings work. */
			if (get_int(v, "soft", "process.rlimits[].soft", -1, INT64_MAX, &soft,
				    err) < 0 ||
			    get_int(v, "hard", "process.rlimits[].hard", -1, INT64_MAX, &hard,
				    err) < 0)
				return -EINVAL;
			proc->rlimits[i].resource = res;
			proc->rlimits[i].soft = soft < 0 ? RLIM_INFINITY : (uint64_t)soft;
			proc->rlimits[i].hard = hard < 0 ? RLIM_INFINITY : (uint64_t)hard;
		}
		proc->n_rlimits = json_array_size(a);
	}
	if (get_bool(p, "noNewPrivileges", "process.noNewPrivileges", &proc->no_new_privs, err) < 0)
		return -EINVAL;
	if (get_int(p, "oomScoreAdj", "process.oomScoreAdj", -1000, 1000, &n, err) < 0)
		return -EINVAL;
	if (json_is_integer(json_object_get(p, "oomScoreAdj"))) {
		proc->has_oom_score_adj = true;
		proc->oom_score_adj = (int)n;
	}
	return 0;
}

static int parse_resources(json_t *r, struct kc_resources *res, kc_err **err)
{
	json_t *o;
	int64_t v;
	int got;

	if (get_obj(r, "memory", "linux.resources.memory", &o, err) < 0)
		return -EINVAL;
	if (o) {
		if ((got = get_int(o, "limit", "linux.resources.memory.limit", -1, INT64_MAX, &v,
				   err)) < 0)
			return -EINVAL;
		if (got)
			res->has_mem_limit = true, res->mem_limit = v;
		if ((got = get_int(o, "reservation", "linux.resources.memory.reservation", -1,
				   INT64_MAX, &v, err)) < 0)
			return -EINVAL;
		if (got)
			res->has_mem_reservation = true, res->mem_reservation = v;
		if ((got = get_int(o, "swap", "linux.resources.memory.swap", -1, INT64_MAX, &v,
				   err)) < 0)
			return -EINVAL;
		if (got)
			res->has_mem_swap = true, res->mem_swap = v;
	}
	if (get_obj(r, "cpu", "linux.resources.cpu", &o, err) < 0)
		return -EINVAL;
	if (o) {
		if ((got = get_int(o, "shares", "linux.resources.cpu.shares", 0, 262144, &v, err)) <
		    0)
			return -EINVAL;
		if (got && v > 0)
			res->has_cpu_shares = true, res->cpu_shares = (uint64_t)v;
		if ((got = get_int(o, "quota", "linux.resources.cpu.quota", -1, INT64_MAX, &v,
				   err)) < 0)
			return -EINVAL;
		if (got && v != 0)
			res->has_cpu_quota = true, res->cpu_quota = v;
		if ((got = get_int(o, "period", "linux.resources.cpu.period", 0, 1000000, &v,
				   err)) < 0)
			return -EINVAL;
		if (got && v > 0)
			res->has_cpu_period = true, res->cpu_period = (uint64_t)v;
		if (get_str(o, "cpus", "linux.resources.cpu.cpus", &res->cpus, err) < 0 ||
		    get_str(o, "mems", "linux.resources.cpu.mems", &res->mems, err) < 0)
			return -EINVAL;
		/* An empty cpuset means "no restriction" (Kuasar issue #245). */
		if (res->cpus && !res->cpus[strspn(res->cpus, " \t")])
			kc_freep(&res->cpus);
		if (res->mems && !res->mems[strspn(res->mems, " \t")])
			kc_freep(&res->mems);
	}
	if (get_obj(r, "pids", "linux.resources.pids", &o, err) < 0)
		return -EINVAL;
	if (o) {
		if ((got = get_int(o, "limit", "linux.resources.pids.limit", -1, INT64_MAX, &v,
				   err)) < 0)
			return -EINVAL;
		if (got && v != 0)
			res->has_pids_limit = true, res->pids_limit = v;
	}
	if (get_obj(r, "unified", "linux.resources.unified", &o, err) < 0)
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
	if (get_arr(l, key, path, &a, err) < 0)
		return -EINVAL;
	if (!a)
		return 0;
	*ret = xcalloc(json_array_size(a) + 1, sizeof(**ret));
	json_array_foreach(a, i, v)
	{
		if (!json_is_object(v) ||
		    get_u32(v, "containerID", path, &(*ret)[i].container_id, err) < 0 ||
		    get_u32(v, "hostID", path, &(*ret)[i].host_id, err) < 0 ||
		    get_u32(v, "size", path, &(*ret)[i].size, err) < 0)
			return kc_err_set(err, EINVAL, "%s[%zu]: bad id mapping", path, i);
	}
	*n = json_array_size(a);
	return 0;
}

static int parse_linux(json_t *l, struct kc_spec *s, kc_err **err)
{
	json_t *a, *v, *o;
	size_t i;
	char *prop = NULL;

	if (get_arr(l, "namespaces", "linux.namespaces", &a, err) < 0)
		return -EINVAL;
	if (a) {
		s->namespaces = xcalloc(json_array_size(a) + 1, sizeof(*s->namespaces));
		json_array_foreach(a, i, v)
		{
			char *type = NULL;
			int flag = 0;
			if (!json_is_object(v) ||
			    get_str(v, "type", "linux.namespaces[].type", &type, err) < 0)
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
			if (get_str(v, "path", "linux.namespaces[].path",
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
	if (get_arr(l, "devices", "linux.devices", &a, err) < 0)
		return -EINVAL;
	if (a) {
		s->devices = xcalloc(json_array_size(a) + 1, sizeof(*s->devices));
		json_array_foreach(a, i, v)
		{
			struct kc_device *d = &s->devices[i];
			char *type = NULL;
			if (!json_is_object(v) ||
			    get_str(v, "type", "linux.devices[].type", &type, err) < 0 ||
			    get_str(v, "path", "linux.devices[].path", &d->path, err) < 0 ||
			    get_int(v, "major", "linux.devices[].major", 0, UINT32_MAX, &d->major,
				    err) < 0 ||
			    get_int(v, "minor", "linux.devices[].minor", 0, UINT32_MAX, &d->minor,
				    err) < 0) {
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
			d->has_mode =
			    get_u32(v, "fileMode", "linux.devices[].fileMode", &d->mode, err) > 0;
			d->has_uid = get_u32(v, "uid", "linux.devices[].uid", &d->uid, err) > 0;
			d->has_gid = get_u32(v, "gid", "linux.devices[].gid", &d->gid, err) > 0;
		}
	}
	if (get_strv(l, "maskedPaths", "linux.maskedPaths", &s->masked_paths, err) < 0 ||
	    get_strv(l, "readonlyPaths", "linux.readonlyPaths", &s->readonly_paths, err) < 0 ||
	    get_str(l, "cgroupsPath", "linux.cgroupsPath", &s->cgroups_path, err) < 0)
		return -EINVAL;
	if (get_obj(l, "sysctl", "linux.sysctl", &o, err) < 0)
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
	if (get_obj(l, "resources", "linux.resources", &o, err) < 0)
		return -EINVAL;
	if (o && parse_resources(o, &s->resources, err) < 0)
		return -EINVAL;
	if (get_str(l, "rootfsPropagation", "linux.rootfsPropagation", &prop, err) < 0)
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
	v = json_object_get(l, "seccomp");
	s->has_seccomp = v && !json_is_null(v);
	return 0;
}

static int parse_mounts(json_t *a, struct kc_spec *s, kc_err **err)
{
	json_t *v;
	size_t i;

	s->mounts = xcalloc(json_array_size(a) + 1, sizeof(*s->mounts));
	json_array_foreach(a, i, v)
	{
		struct kc_mount *m = &s->mounts[i];
		s->n_mounts = i + 1;
		if (!json_is_object(v))
			return kc_err_set(err, EINVAL, "mounts[%zu]: expected an object", i);
		if (get_str(v, "destination", "mounts[].destination", &m->destination, err) < 0 ||
		    get_str(v, "type", "mounts[].type", &m->type, err) < 0 ||
		    get_str(v, "source", "mounts[].source", &m->source, err) < 0 ||
		    get_strv(v, "options", "mounts[].options", &m->options, err) < 0)
			return kc_err_wrap(err, "mounts[%zu]", i);
		if (!m->destination || m->destination[0] != '/')
			return kc_err_set(err, EINVAL,
					  "mounts[%zu]: destination `%s` must be absolute", i,
					  m->destination ? m->destination : "");
		if (json_object_get(v, "uidMappings") || json_object_get(v, "gidMappings"))
			return kc_err_set(err, EOPNOTSUPP,
					  "mounts[%zu] `%s`: id-mapped mounts are not supported", i,
					  m->destination);
	}
	return 0;
}

static int parse_root(json_t *doc, struct kc_spec *s, kc_err **err)
{
	json_t *o, *a;

	if (get_obj(doc, "process", "process", &o, err) < 0)
		return -EINVAL;
	if (!o)
		return kc_err_set(err, EINVAL, "process: missing (nothing to run)");
	if (parse_process(o, &s->process, err) < 0)
		return -EINVAL;
	if (get_obj(doc, "root", "root", &o, err) < 0)
		return -EINVAL;
	if (o && (get_str(o, "path", "root.path", &s->root_path, err) < 0 ||
		  get_bool(o, "readonly", "root.readonly", &s->root_readonly, err) < 0))
		return -EINVAL;
	if (get_str(doc, "hostname", "hostname", &s->hostname, err) < 0 ||
	    get_str(doc, "domainname", "domainname", &s->domainname, err) < 0)
		return -EINVAL;
	if (get_arr(doc, "mounts", "mounts", &a, err) < 0)
		return -EINVAL;
	if (a && parse_mounts(a, s, err) < 0)
		return -EINVAL;
	if (get_obj(doc, "linux", "linux", &o, err) < 0)
		return -EINVAL;
	if (o && parse_linux(o, s, err) < 0)
		return -EINVAL;
	if (get_obj(doc, "hooks", "hooks", &o, err) < 0)
		return -EINVAL;
	if (o) {
		const char *k;
		json_t *v;
		json_object_foreach(o, k, v)
		{
			if (json_is_array(v) && json_array_size(v) > 0)
				s->has_hooks = true;
		}
	}
	if (get_obj(doc, "annotations", "annotations", &o, err) < 0)
		return -EINVAL;
	if (o) {
		const char *k;
		json_t *v;
		size_t n = json_object_size(o), j = 0;
		s->annotation_keys = xcalloc(n + 1, sizeof(char *));
		s->annotation_vals = xcalloc(n + 1, sizeof(char *));
		json_object_foreach(o, k, v)
		{
			if (!json_is_string(v))
				continue;
			s->annotation_keys[j] = xstrdup(k);
			s->annotation_vals[j] = xstrdup(json_string_value(v));
			j++;
		}
		s->n_annotations = j;
	}
	return 0;
}

static json_t *load_json(const char *json, size_t len, const char *what, kc_err **err)
{
	json_error_t je;
	json_t *doc;

	if (len > SPEC_MAX) {
		kc_err_set(err, EFBIG, "%s: larger than %u bytes", what, SPEC_MAX);
		return NULL;
	}
	doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		kc_err_set(err, EINVAL, "%s: invalid JSON at line %d column %d: %s", what, je.line,
			   je.column, je.text);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		kc_err_set(err, EINVAL, "%s: expected a JSON object", what);
		return NULL;
	}
	return doc;
}

int kc_spec_parse(const char *json, size_t len, struct kc_spec **ret, kc_err **err)
{
	json_t *doc = load_json(json, len, "config.json", err);
	struct kc_spec *s;
	int r;

	if (!doc)
		return kc_err_ret(*err);
	s = xcalloc(1, sizeof(*s));
	r = parse_root(doc, s, err);
	json_decref(doc);
	if (r < 0) {
		kc_spec_free(s);
		return kc_err_wrap(err, "config.json");
	}
	*ret = s;
	return 0;
}

int kc_spec_load(const char *bundle, struct kc_spec **ret, kc_err **err)
{
	_cleanup_free_ char *path = xasprintf("%s/config.json", bundle);
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (kc_read_file(path, SPEC_MAX, &text, &len, err) < 0)
		return kc_err_ret(*err);
	return kc_spec_parse(text, len, ret, err);
}

int kc_process_parse(const char *json, size_t len, struct kc_process *ret, kc_err **err)
{
	json_t *doc = load_json(json, len, "process spec", err);
	int r;

	if (!doc)
		return kc_err_ret(*err);
	memset(ret, 0, sizeof(*ret));
	r = parse_process(doc, ret, err);
	json_decref(doc);
	if (r < 0) {
		kc_process_clear(ret);
		return kc_err_ret(*err);
	}
	return 0;
}

int kc_resources_parse(const char *json, size_t len, struct kc_resources *ret, kc_err **err)
{
	json_t *doc = load_json(json, len, "resources", err);
	int r;

	if (!doc)
		return kc_err_ret(*err);
	memset(ret, 0, sizeof(*ret));
	r = parse_resources(doc, ret, err);
	json_decref(doc);
	if (r < 0) {
		kc_resources_clear(ret);
		return kc_err_ret(*err);
	}
	return 0;
}

void kc_process_clear(struct kc_process *p)
{
	kc_strv_free(p->args);
	kc_strv_free(p->env);
	free(p->cwd);
	free(p->user.gids);
	free(p->rlimits);
	memset(p, 0, sizeof(*p));
}

void kc_resources_clear(struct kc_resources *r)
{
	free(r->cpus);
	free(r->mems);
	kc_strv_free(r->unified_keys);
	kc_strv_free(r->unified_vals);
	memset(r, 0, sizeof(*r));
}

void kc_spec_free(struct kc_spec *s)
{
	if (!s)
		return;
	kc_process_clear(&s->process);
	free(s->root_path);
	free(s->hostname);
	free(s->domainname);
	for (size_t i = 0; i < s->n_mounts; i++) {
		free(s->mounts[i].destination);
		free(s->mounts[i].type);
		free(s->mounts[i].source);
		kc_strv_free(s->mounts[i].options);
	}
	free(s->mounts);
	for (size_t i = 0; i < s->n_namespaces; i++)
		free(s->namespaces[i].path);
	free(s->namespaces);
	free(s->uid_mappings);
	free(s->gid_mappings);
	for (size_t i = 0; i < s->n_devices; i++)
		free(s->devices[i].path);
	free(s->devices);
	kc_strv_free(s->masked_paths);
	kc_strv_free(s->readonly_paths);
	kc_strv_free(s->sysctl_keys);
	kc_strv_free(s->sysctl_vals);
	free(s->cgroups_path);
	kc_resources_clear(&s->resources);
	kc_strv_free(s->annotation_keys);
	kc_strv_free(s->annotation_vals);
	free(s);
}

const char *kc_spec_annotation(const struct kc_spec *s, const char *key)
{
	for (size_t i = 0; i < s->n_annotations; i++)
		if (!strcmp(s->annotation_keys[i], key))
			return s->annotation_vals[i];
	return NULL;
}

const struct kc_namespace *kc_spec_namespace(const struct kc_spec *s, int type)
{
	for (size_t i = 0; i < s->n_namespaces; i++)
		if (s->namespaces[i].type == type)
			return &s->namespaces[i];
	return NULL;
}
