/* SPDX-License-Identifier: Apache-2.0 */
#include "spec.h"

#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "seccomp.h"
#include "spec_json.h"
#include "spec_linux.h"
#include "util.h"

/* config.json is written by containerd; anything near this size is hostile. */
#define SPEC_MAX (4u << 20)

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
	r = spec_get_arr(caps, key, path, &a, err);
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

	if (spec_get_u32(u, "uid", "process.user.uid", &user->uid, err) < 0 ||
	    spec_get_u32(u, "gid", "process.user.gid", &user->gid, err) < 0)
		return -EINVAL;
	if (spec_get_int(u, "umask", "process.user.umask", 0, 0777, &um, err) < 0)
		return -EINVAL;
	if (json_object_get(u, "umask") && json_is_integer(json_object_get(u, "umask")))
		user->umask = (int)um;
	if (json_object_get(u, "username") && json_is_string(json_object_get(u, "username")) &&
	    !json_object_get(u, "uid"))
		return kc_err_set(err, EINVAL,
				  "process.user.username `%s`: user names must be resolved to "
				  "a uid by the caller",
				  json_string_value(json_object_get(u, "username")));
	if (spec_get_arr(u, "additionalGids", "process.user.additionalGids", &a, err) < 0)
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
	if (spec_get_bool(p, "terminal", "process.terminal", &proc->terminal, err) < 0)
		return -EINVAL;
	if (spec_get_obj(p, "consoleSize", "process.consoleSize", &o, err) < 0)
		return -EINVAL;
	if (o &&
	    (spec_get_u32(o, "width", "process.consoleSize.width", &proc->console_width, err) < 0 ||
	     spec_get_u32(o, "height", "process.consoleSize.height", &proc->console_height, err) <
		 0))
		return -EINVAL;
	if (spec_get_obj(p, "user", "process.user", &o, err) < 0)
		return -EINVAL;
	if (o && parse_user(o, &proc->user, err) < 0)
		return -EINVAL;
	if (spec_get_strv(p, "args", "process.args", &proc->args, err) < 0 ||
	    spec_get_strv(p, "env", "process.env", &proc->env, err) < 0 ||
	    spec_get_str(p, "cwd", "process.cwd", &proc->cwd, err) < 0)
		return -EINVAL;
	if (json_object_get(p, "commandLine"))
		return kc_err_set(err, EINVAL, "process.commandLine: Windows only");
	if (!proc->args || !proc->args[0])
		return kc_err_set(err, EINVAL, "process.args: must name the program to run");
	if (!proc->cwd)
		proc->cwd = xstrdup("/");
	if (proc->cwd[0] != '/')
		return kc_err_set(err, EINVAL, "process.cwd `%s`: must be absolute", proc->cwd);
	if (spec_get_obj(p, "capabilities", "process.capabilities", &o, err) < 0)
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
	if (spec_get_arr(p, "rlimits", "process.rlimits", &a, err) < 0)
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
			if (spec_get_str(v, "type", "process.rlimits[].type", &type, err) < 0)
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
			if (spec_get_int(v, "soft", "process.rlimits[].soft", -1, INT64_MAX, &soft,
					 err) < 0 ||
			    spec_get_int(v, "hard", "process.rlimits[].hard", -1, INT64_MAX, &hard,
					 err) < 0)
				return -EINVAL;
			proc->rlimits[i].resource = res;
			proc->rlimits[i].soft = soft < 0 ? RLIM_INFINITY : (uint64_t)soft;
			proc->rlimits[i].hard = hard < 0 ? RLIM_INFINITY : (uint64_t)hard;
		}
		proc->n_rlimits = json_array_size(a);
	}
	if (spec_get_bool(p, "noNewPrivileges", "process.noNewPrivileges", &proc->no_new_privs,
			  err) < 0)
		return -EINVAL;
	if (spec_get_int(p, "oomScoreAdj", "process.oomScoreAdj", -1000, 1000, &n, err) < 0)
		return -EINVAL;
	if (json_is_integer(json_object_get(p, "oomScoreAdj"))) {
		proc->has_oom_score_adj = true;
		proc->oom_score_adj = (int)n;
	}
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
		if (spec_get_str(v, "destination", "mounts[].destination", &m->destination, err) <
			0 ||
		    spec_get_str(v, "type", "mounts[].type", &m->type, err) < 0 ||
		    spec_get_str(v, "source", "mounts[].source", &m->source, err) < 0 ||
		    spec_get_strv(v, "options", "mounts[].options", &m->options, err) < 0)
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

	if (spec_get_obj(doc, "process", "process", &o, err) < 0)
		return -EINVAL;
	if (!o)
		return kc_err_set(err, EINVAL, "process: missing (nothing to run)");
	if (parse_process(o, &s->process, err) < 0)
		return -EINVAL;
	if (spec_get_obj(doc, "root", "root", &o, err) < 0)
		return -EINVAL;
	if (o && (spec_get_str(o, "path", "root.path", &s->root_path, err) < 0 ||
		  spec_get_bool(o, "readonly", "root.readonly", &s->root_readonly, err) < 0))
		return -EINVAL;
	if (spec_get_str(doc, "hostname", "hostname", &s->hostname, err) < 0 ||
	    spec_get_str(doc, "domainname", "domainname", &s->domainname, err) < 0)
		return -EINVAL;
	if (spec_get_arr(doc, "mounts", "mounts", &a, err) < 0)
		return -EINVAL;
	if (a && parse_mounts(a, s, err) < 0)
		return -EINVAL;
	if (spec_get_obj(doc, "linux", "linux", &o, err) < 0)
		return -EINVAL;
	if (o && spec_parse_linux(o, s, err) < 0)
		return -EINVAL;
	if (spec_get_obj(doc, "hooks", "hooks", &o, err) < 0)
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
	if (spec_get_obj(doc, "annotations", "annotations", &o, err) < 0)
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
		return kc_err_retp(err);
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
		return kc_err_retp(err);
	return kc_spec_parse(text, len, ret, err);
}

/* kc_process_parse and kc_resources_parse leave *ret cleared or filled
 * whatever happens: callers (svc_task_update) clear it unconditionally. */
int kc_process_parse(const char *json, size_t len, struct kc_process *ret, kc_err **err)
{
	json_t *doc;
	int r;

	memset(ret, 0, sizeof(*ret));
	doc = load_json(json, len, "process spec", err);
	if (!doc)
		return kc_err_retp(err);
	r = parse_process(doc, ret, err);
	json_decref(doc);
	if (r < 0) {
		kc_process_clear(ret);
		return kc_err_retp(err);
	}
	return 0;
}

int kc_resources_parse(const char *json, size_t len, struct kc_resources *ret, kc_err **err)
{
	json_t *doc;
	int r;

	memset(ret, 0, sizeof(*ret));
	doc = load_json(json, len, "resources", err);
	if (!doc)
		return kc_err_retp(err);
	r = spec_parse_resources(doc, ret, err);
	json_decref(doc);
	if (r < 0) {
		kc_resources_clear(ret);
		return kc_err_retp(err);
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
	free(r->devices);
	memset(r, 0, sizeof(*r));
}

void kc_spec_free(struct kc_spec *s)
{
	if (!s)
		return;
	kc_process_clear(&s->process);
	kc_seccomp_free(s->seccomp);
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
