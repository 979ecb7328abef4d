/* SPDX-License-Identifier: Apache-2.0 */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devcg.h"
#include "util.h"

int kc_cgroup_find_root(char **ret, kc_err **err)
{
	_cleanup_free_ char *info = NULL;
	char *line, *save = NULL;

	if (kc_read_file("/proc/self/mountinfo", 1 << 20, &info, NULL, err) < 0)
		return kc_err_wrap(err, "find cgroup2 mount");
	for (line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* id parent maj:min root mountpoint opts ... - fstype source superopts */
		char *sep = strstr(line, " - ");
		char mnt[4096];
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1) {
			*ret = xstrdup(mnt);
			return 0;
		}
	}
	return kc_err_set(err, ENOENT, "no cgroup2 filesystem is mounted");
}

/* runc's utils.CleanPath, for a path taken from "/": a lexical clean in
 * which ".." stops at the top, so no cgroupsPath names a directory outside
 * the cgroup filesystem. Returns "/a/b" (or "/"). */
static char *clean_path(const char *p)
{
	char *out = xmalloc(strlen(p) + 2);
	size_t n = 0;

	for (const char *c = p; *c;) {
		size_t len = strcspn(c, "/");
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			while (n > 0 && out[--n] != '/')
				;
		} else if (len && !(len == 1 && c[0] == '.')) {
			out[n++] = '/';
			memcpy(out + n, c, len);
			n += len;
		}
		c += len;
		while (*c == '/')
			c++;
	}
	if (!n)
		out[n++] = '/';
	out[n] = '\0';
	return out;
}

/* One component of the systemd form: no separator, not "." or "..". */
static bool plain_name(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

int kc_cgroup_path_for(const char *root, const char *cgroups_path, const char *id, char **ret,
		       kc_err **err)
{
	const char *p = cgroups_path;
	_cleanup_free_ char *rel = NULL;

	if (!p || !*p) {
		rel = xasprintf("/kuasar/%s", id);
	} else if (strchr(p, ':') && p[0] != '/') {
		/* systemd driver syntax "slice:prefix:name" */
		_cleanup_free_ char *s = xstrdup(p);
		char *slice = s, *prefix = strchr(s, ':'), *name;
		*prefix++ = '\0';
		name = strchr(prefix, ':');
		if (name)
			*name++ = '\0';
		else
			name = (char *)id;
		if (!*slice)
			slice = "system.slice";
		if (!plain_name(slice) || !plain_name(prefix) || !plain_name(name))
			return kc_err_set(err, EINVAL,
					  "linux.cgroupsPath `%s`: slice, prefix and name must be "
					  "plain names",
					  p);
		rel = xasprintf("/%s/%s-%s.scope", slice, prefix, name);
	} else if (p[0] == '/') {
		rel = clean_path(p);
	} else {
		_cleanup_free_ char *c = clean_path(p);
		rel = xasprintf("/kuasar%s", c);
	}
	if (!strcmp(rel, "/"))
		return kc_err_set(err, EINVAL,
				  "linux.cgroupsPath `%s`: names the cgroup root, not a cgroup of "
				  "its own",
				  p);
	*ret = xasprintf("%s%s", root, rel);
	return 0;
}

uint64_t kc_cgroup_shares_to_weight(uint64_t shares)
{
	if (shares == 0)
		return 0;
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static int write_at(int dirfd, const char *dir, const char *file, const char *val, kc_err **err)
{
	_cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(val);

	if (fd < 0)
		return kc_err_sys(err, "cgroup %s: open %s", dir, file);
	if (write(fd, val, n) != (ssize_t)n)
		return kc_err_sys(err, "cgroup %s: write `%s` to %s", dir, val, file);
	return 0;
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

/* Controllers a set of resources needs. */
static void needed_controllers(const struct kc_resources *r, const char **out, size_t *n)
{
	*n = 0;
	if (!r)
		return;
	if (r->has_mem_limit || r->has_mem_reservation || r->has_mem_swap)
		out[(*n)++] = "memory";
	if (r->has_cpu_shares || r->has_cpu_quota || r->has_cpu_period)
		out[(*n)++] = "cpu";
	if (r->cpus || r->mems)
		out[(*n)++] = "cpuset";
	if (r->has_pids_limit)
		out[(*n)++] = "pids";
	/* linux.resources.unified: "<controller>.<file>"; cgroup.* needs none. */
	for (size_t i = 0; i < r->n_unified; i++) {
		static const char *const known[] = {"memory", "cpu",     "cpuset", "pids",
						    "io",     "hugetlb", "rdma",   "misc"};
		for (size_t k = 0; k < KC_ARRAY_SIZE(known); k++) {
			size_t len = strlen(known[k]);
			bool dup = false;
			if (strncmp(r->unified_keys[i], known[k], len) ||
			    r->unified_keys[i][len] != '.')
				continue;
			for (size_t m = 0; m < *n; m++)
				dup |= !strcmp(out[m], known[k]);
			if (!dup)
				out[(*n)++] = known[k];
		}
	}
}

/* Enable ctl in subtree_control of every directory from root to path's parent. */
static int enable_controller(const char *root, const char *path, const char *ctl, kc_err **err)
{
	_cleanup_free_ char *dir = xstrdup(root);
	const char *rest = path + strlen(root);
	_cleanup_free_ char *avail = NULL;
	_cleanup_free_ char *file = xasprintf("%s/cgroup.controllers", root);

	if (kc_read_file(file, 4096, &avail, NULL, err) < 0)
		return kc_err_retp(err);
	if (!has_word(avail, ctl))
		return kc_err_set(err, EOPNOTSUPP,
				  "cgroup: the %s controller is not available in %s (available: "
				  "%.*s)",
				  ctl, root, (int)strcspn(avail, "\n"), avail);
	for (;;) {
		_cleanup_free_ char *sub = NULL;
		_cleanup_free_ char *subf = xasprintf("%s/cgroup.subtree_control", dir);
		const char *slash;
		char val[40];

		while (*rest == '/')
			rest++;
		slash = strchr(rest, '/');
		if (!*rest || !slash)
			break; /* dir is path's parent now */
		if (kc_read_file(subf, 4096, &sub, NULL, err) < 0)
			return kc_err_retp(err);
		if (!has_word(sub, ctl)) {
			snprintf(val, sizeof(val), "+%s", ctl);
			if (write_at(AT_FDCWD, dir, subf, val, err) < 0)
				return kc_err_retp(err);
		}
		{
			char *next = xasprintf("%s/%.*s", dir, (int)(slash - rest), rest);
			free(dir);
			dir = next;
		}
		rest = slash;
	}
	{
		_cleanup_free_ char *sub = NULL;
		_cleanup_free_ char *subf = xasprintf("%s/cgroup.subtree_control", dir);
		char val[40];
		if (kc_read_file(subf, 4096, &sub, NULL, err) < 0)
			return kc_err_retp(err);
		if (!has_word(sub, ctl)) {
			snprintf(val, sizeof(val), "+%s", ctl);
			if (write_at(AT_FDCWD, dir, subf, val, err) < 0)
				return kc_err_retp(err);
		}
	}
	return 0;
}

int kc_cgroup_apply(struct kc_cgroup *cg, const struct kc_resources *r, kc_err **err)
{
	char buf[64];

	if (!r)
		return 0;
	if (r->has_mem_limit) {
		if (r->mem_limit > 0)
			snprintf(buf, sizeof(buf), "%lld", (long long)r->mem_limit);
		else
			snprintf(buf, sizeof(buf), "max");
		if (write_at(cg->dirfd, cg->path, "memory.max", buf, err) < 0)
			return kc_err_retp(err);
	}
	if (r->has_mem_reservation && r->mem_reservation > 0) {
		snprintf(buf, sizeof(buf), "%lld", (long long)r->mem_reservation);
		if (write_at(cg->dirfd, cg->path, "memory.low", buf, err) < 0)
			return kc_err_retp(err);
	}
	if (r->has_mem_swap) {
		/* OCI swap is memory+swap (v1); v2 limits swap alone. */
		if (r->mem_swap < 0)
			snprintf(buf, sizeof(buf), "max");
		else if (r->has_mem_limit && r->mem_limit > 0 && r->mem_swap >= r->mem_limit)
			snprintf(buf, sizeof(buf), "%lld", (long long)(r->mem_swap - r->mem_limit));
		else if (r->has_mem_limit && r->mem_limit > 0)
			return kc_err_set(err, EINVAL,
					  "memory.swap (%lld) must be >= memory.limit (%lld)",
					  (long long)r->mem_swap, (long long)r->mem_limit);
		else
			snprintf(buf, sizeof(buf), "%lld", (long long)r->mem_swap);
		/* No swap configured in the guest kernel means no file: fine. */
		if (faccessat(cg->dirfd, "memory.swap.max", F_OK, 0) == 0 &&
		    write_at(cg->dirfd, cg->path, "memory.swap.max", buf, err) < 0)
			return kc_err_retp(err);
	}
	if (r->has_cpu_shares) {
		snprintf(buf, sizeof(buf), "%llu",
			 (unsigned long long)kc_cgroup_shares_to_weight(r->cpu_shares));
		if (write_at(cg->dirfd, cg->path, "cpu.weight", buf, err) < 0)
			return kc_err_retp(err);
	}
	if (r->has_cpu_quota || r->has_cpu_period) {
		uint64_t period = r->has_cpu_period ? r->cpu_period : 100000;
		if (r->has_cpu_quota && r->cpu_quota > 0)
			snprintf(buf, sizeof(buf), "%lld %llu", (long long)r->cpu_quota,
				 (unsigned long long)period);
		else
			snprintf(buf, sizeof(buf), "max %llu", (unsigned long long)period);
		if (write_at(cg->dirfd, cg->path, "cpu.max", buf, err) < 0)
			return kc_err_retp(err);
	}
	if (r->cpus && write_at(cg->dirfd, cg->path, "cpuset.cpus", r->cpus, err) < 0)
		return kc_err_retp(err);
	if (r->mems && write_at(cg->dirfd, cg->path, "cpuset.mems", r->mems, err) < 0)
		return kc_err_retp(err);
	if (r->has_pids_limit) {
		if (r->pids_limit > 0)
			snprintf(buf, sizeof(buf), "%lld", (long long)r->pids_limit);
		else
			snprintf(buf, sizeof(buf), "max");
		if (write_at(cg->dirfd, cg->path, "pids.max", buf, err) < 0)
			return kc_err_retp(err);
	}
	for (size_t i = 0; i < r->n_unified; i++)
		if (write_at(cg->dirfd, cg->path, r->unified_keys[i], r->unified_vals[i], err) < 0)
			return kc_err_retp(err);
	/* A new cgroup always gets a program: deny by default. */
	if ((r->has_devices || cg->devprog < 0) &&
	    kc_devcg_apply(cg->dirfd, r->devices, r->n_devices, &cg->devprog, err) < 0)
		return kc_err_wrap(err, "cgroup %s: linux.resources.devices", cg->path);
	return 0;
}

int kc_cgroup_create(const char *root, const char *path, const struct kc_resources *res,
		     struct kc_cgroup **ret, kc_err **err)
{
	const char *ctls[16];
	size_t n;
	struct kc_cgroup *cg;

	if (kc_mkdir_p(path, 0755, err) < 0)
		return kc_err_wrap(err, "cgroup");
	needed_controllers(res, ctls, &n);
	for (size_t i = 0; i < n; i++)
		if (enable_controller(root, path, ctls[i], err) < 0)
			goto fail;
	/* Accounting for Stats and OOM events even without limits; a controller
	 * this kernel lacks is fine when nothing asked for it. */
	{
		static const char *const acct[] = {"memory", "pids", "cpu", "io"};
		for (size_t i = 0; i < KC_ARRAY_SIZE(acct); i++) {
			_cleanup_err_ kc_err *ignored = NULL;
			(void)enable_controller(root, path, acct[i], &ignored);
		}
	}
	cg = xcalloc(1, sizeof(*cg));
	cg->devprog = -1;
	cg->path = xstrdup(path);
	cg->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->dirfd < 0) {
		kc_err_sys(err, "open cgroup %s", path);
		kc_cgroup_free(cg);
		goto fail;
	}
	if (kc_cgroup_apply(cg, res, err) < 0) {
		kc_cgroup_free(cg);
		goto fail;
	}
	*ret = cg;
	return 0;
fail:
	(void)rmdir(path);
	return kc_err_retp(err);
}

int kc_cgroup_add_pid(struct kc_cgroup *cg, pid_t pid, kc_err **err)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	return write_at(cg->dirfd, cg->path, "cgroup.procs", buf, err);
}

int kc_cgroup_pids(struct kc_cgroup *cg, pid_t **ret, size_t *n, kc_err **err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char *f = xasprintf("%s/cgroup.procs", cg->path);
	pid_t *v = NULL;
	size_t cnt = 0;
	char *save = NULL;

	if (kc_read_file(f, 1 << 22, &text, NULL, err) < 0)
		return kc_err_retp(err);
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int64_t p;
		if (kc_parse_i64(l, 1, INT32_MAX, &p) < 0)
			continue;
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		v[cnt++] = (pid_t)p;
	}
	*ret = v;
	*n = cnt;
	return 0;
}

int kc_cgroup_kill(struct kc_cgroup *cg, kc_err **err)
{
	pid_t *pids = NULL;
	size_t n = 0;

	if (faccessat(cg->dirfd, "cgroup.kill", F_OK, 0) == 0)
		return write_at(cg->dirfd, cg->path, "cgroup.kill", "1", err);
	/* Pre-5.14: freeze, kill each, thaw, so nothing forks in between. */
	(void)kc_cgroup_freeze(cg, true, NULL);
	if (kc_cgroup_pids(cg, &pids, &n, err) < 0)
		return kc_err_retp(err);
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	free(pids);
	(void)kc_cgroup_freeze(cg, false, NULL);
	return 0;
}

int kc_cgroup_freeze(struct kc_cgroup *cg, bool frozen, kc_err **err)
{
	return write_at(cg->dirfd, cg->path, "cgroup.freeze", frozen ? "1" : "0", err);
}

static uint64_t read_kv(const char *text, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, n) && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
	return 0;
}

static char *read_small(struct kc_cgroup *cg, const char *file)
{
	_cleanup_close_ int fd = openat(cg->dirfd, file, O_RDONLY | O_CLOEXEC);
	char *buf;
	ssize_t n;

	if (fd < 0)
		return NULL;
	buf = xmalloc(8192);
	n = kc_read_all(fd, buf, 8191);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static uint64_t read_u64(struct kc_cgroup *cg, const char *file)
{
	_cleanup_free_ char *s = read_small(cg, file);
	if (!s || !strncmp(s, "max", 3))
		return 0;
	return strtoull(s, NULL, 10);
}

uint64_t kc_cgroup_oom_kills(struct kc_cgroup *cg)
{
	_cleanup_free_ char *s = read_small(cg, "memory.events");
	return s ? read_kv(s, "oom_kill") : 0;
}

int kc_cgroup_metrics(struct kc_cgroup *cg, Io__Containerd__Cgroups__V2__Metrics **ret,
		      kc_err **err)
{
	Io__Containerd__Cgroups__V2__Metrics *m = xcalloc(1, sizeof(*m));
	_cleanup_free_ char *cpu = read_small(cg, "cpu.stat");
	_cleanup_free_ char *mem = read_small(cg, "memory.stat");
	_cleanup_free_ char *ev = read_small(cg, "memory.events");
	(void)err;

	io__containerd__cgroups__v2__metrics__init(m);
	m->pids = xcalloc(1, sizeof(*m->pids));
	io__containerd__cgroups__v2__pids_stat__init(m->pids);
	m->pids->current = read_u64(cg, "pids.current");
	m->pids->limit = read_u64(cg, "pids.max");
	if (cpu) {
		m->cpu = xcalloc(1, sizeof(*m->cpu));
		io__containerd__cgroups__v2__cpustat__init(m->cpu);
		m->cpu->usage_usec = read_kv(cpu, "usage_usec");
		m->cpu->user_usec = read_kv(cpu, "user_usec");
		m->cpu->system_usec = read_kv(cpu, "system_usec");
		m->cpu->nr_periods = read_kv(cpu, "nr_periods");
		m->cpu->nr_throttled = read_kv(cpu, "nr_throttled");
		m->cpu->throttled_usec = read_kv(cpu, "throttled_usec");
	}
	if (mem) {
		Io__Containerd__Cgroups__V2__MemoryStat *s = xcalloc(1, sizeof(*s));
		io__containerd__cgroups__v2__memory_stat__init(s);
		s->anon = read_kv(mem, "anon");
		s->file = read_kv(mem, "file");
		s->kernel_stack = read_kv(mem, "kernel_stack");
		s->slab = read_kv(mem, "slab");
		s->sock = read_kv(mem, "sock");
		s->shmem = read_kv(mem, "shmem");
		s->file_mapped = read_kv(mem, "file_mapped");
		s->file_dirty = read_kv(mem, "file_dirty");
		s->file_writeback = read_kv(mem, "file_writeback");
		s->anon_thp = read_kv(mem, "anon_thp");
		s->inactive_anon = read_kv(mem, "inactive_anon");
		s->active_anon = read_kv(mem, "active_anon");
		s->inactive_file = read_kv(mem, "inactive_file");
		s->active_file = read_kv(mem, "active_file");
		s->unevictable = read_kv(mem, "unevictable");
		s->slab_reclaimable = read_kv(mem, "slab_reclaimable");
		s->slab_unreclaimable = read_kv(mem, "slab_unreclaimable");
		s->pgfault = read_kv(mem, "pgfault");
		s->pgmajfault = read_kv(mem, "pgmajfault");
		s->usage = read_u64(cg, "memory.current");
		s->usage_limit = read_u64(cg, "memory.max");
		s->max_usage = read_u64(cg, "memory.peak");
		s->swap_usage = read_u64(cg, "memory.swap.current");
		s->swap_limit = read_u64(cg, "memory.swap.max");
		m->memory = s;
	}
	if (ev) {
		m->memory_events = xcalloc(1, sizeof(*m->memory_events));
		io__containerd__cgroups__v2__memory_events__init(m->memory_events);
		m->memory_events->low = read_kv(ev, "low");
		m->memory_events->high = read_kv(ev, "high");
		m->memory_events->max = read_kv(ev, "max");
		m->memory_events->oom = read_kv(ev, "oom");
		m->memory_events->oom_kill = read_kv(ev, "oom_kill");
	}
	*ret = m;
	return 0;
}

void kc_cgroup_metrics_free(Io__Containerd__Cgroups__V2__Metrics *m)
{
	if (!m)
		return;
	free(m->pids);
	free(m->cpu);
	free(m->memory);
	free(m->memory_events);
	free(m);
}

/* cgroups whose rmdir failed because dying processes were still in them */
static char **stale;
static size_t n_stale;

int kc_cgroup_destroy(struct kc_cgroup *cg, kc_err **err)
{
	int r = 0;
	if (!cg)
		return 0;
	if (rmdir(cg->path) < 0) {
		if (errno == EBUSY) {
			/* Killed processes leave the cgroup only once reaped. */
			stale = xrealloc(stale, (n_stale + 1) * sizeof(*stale));
			stale[n_stale++] = xstrdup(cg->path);
		} else if (errno != ENOENT) {
			r = kc_err_sys(err, "remove cgroup %s", cg->path);
		}
	}
	kc_cgroup_free(cg);
	return r;
}

void kc_cgroup_retry_stale(void)
{
	for (size_t i = 0; i < n_stale;) {
		if (rmdir(stale[i]) == 0 || errno == ENOENT) {
			free(stale[i]);
			stale[i] = stale[--n_stale];
		} else {
			i++;
		}
	}
	if (!n_stale) {
		free(stale);
		stale = NULL;
	}
}

void kc_cgroup_free(struct kc_cgroup *cg)
{
	if (!cg)
		return;
	if (cg->dirfd >= 0)
		close(cg->dirfd);
	if (cg->devprog >= 0)
		close(cg->devprog); /* rmdir detached it; else it stays attached */
	free(cg->path);
	free(cg);
}
