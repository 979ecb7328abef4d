/* SPDX-License-Identifier: Apache-2.0 */
#include "procsetup.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seccomp.h"
#include "util.h"

static struct rlimit base_nofile;
static bool have_base_nofile;

void kc_proc_set_base_nofile(const struct rlimit *rl)
{
	base_nofile = *rl;
	have_base_nofile = true;
}

int kc_proc_limits(const struct kc_process *p, kc_err **err)
{
	if (have_base_nofile && setrlimit(RLIMIT_NOFILE, &base_nofile) < 0)
		return kc_err_sys(err, "reset RLIMIT_NOFILE");
	for (size_t i = 0; i < p->n_rlimits; i++) {
		struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			return kc_err_sys(err, "setrlimit %d (soft %llu, hard %llu)",
					  p->rlimits[i].resource, (unsigned long long)rl.rlim_cur,
					  (unsigned long long)rl.rlim_max);
	}
	return 0;
}

static int capset_all(const struct kc_caps *c)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	for (int i = 0; i < 2; i++) {
		d[i].effective = (uint32_t)(c->effective >> (32 * i));
		d[i].permitted = (uint32_t)(c->permitted >> (32 * i));
		d[i].inheritable = (uint32_t)(c->inheritable >> (32 * i));
	}
	return (int)syscall(SYS_capset, &h, d);
}

int kc_proc_identity(const struct kc_process *p, kc_err **err)
{
	/* No "capabilities" object means empty sets, as runc builds them: never
	 * the agent's full set. (An exec without one gets the container's sets:
	 * kc_exec_add copies them.) */
	static const struct kc_caps none = {.set = true};
	const struct kc_caps *c = p->caps.set ? &p->caps : &none;
	int last = kc_cap_last();

	/* The bounding set can only shrink while we hold CAP_SETPCAP, i.e.
	 * before switching to the container user. */
	for (int cap = 0; cap <= last; cap++)
		if (!(c->bounding & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return kc_err_sys(err, "drop capability %d from bounding set", cap);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return kc_err_sys(err, "PR_SET_KEEPCAPS");
	if (setgroups(p->user.n_gids, p->user.gids) < 0 && !(errno == EPERM && !p->user.n_gids))
		return kc_err_sys(err, "setgroups (%zu additional gids)", p->user.n_gids);
	if (setresgid(p->user.gid, p->user.gid, p->user.gid) < 0)
		return kc_err_sys(err, "setgid %u", p->user.gid);
	if (setresuid(p->user.uid, p->user.uid, p->user.uid) < 0)
		return kc_err_sys(err, "setuid %u", p->user.uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return kc_err_sys(err, "PR_SET_KEEPCAPS");
	if (capset_all(c) < 0)
		return kc_err_sys(err, "capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return kc_err_sys(err, "clear ambient capabilities");
	/* As runc and crun: an ambient capability the kernel refuses (one not
	 * in the permitted and inheritable sets, as in `runc spec`'s default
	 * bundle) is skipped, not fatal. */
	for (int cap = 0; cap <= last; cap++)
		if ((c->ambient & (1ULL << cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM &&
		    errno != EINVAL)
			return kc_err_sys(err, "raise ambient capability %d", cap);
	return 0;
}

static const char *env_get(char *const *env, const char *key)
{
	size_t n = strlen(key);
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], key, n) && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

char *kc_find_program(const char *name, char *const *env)
{
	const char *path = env_get(env, "PATH");
	int saved = ENOENT;

	if (strchr(name, '/'))
		return xstrdup(name);
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (const char *p = path;;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *cand = xasprintf("%.*s%s%s", (int)len, p, len ? "/" : "", name);
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(cand, X_OK) == 0)
				return cand;
			saved = EACCES;
		}
		free(cand);
		if (!end)
			break;
		p = end + 1;
	}
	errno = saved;
	return NULL;
}

/* A cwd reached through a leaked fd ("/proc/self/fd/N" to a directory of
 * the agent's) lies outside our root: getcwd(2) then fails with ENOENT or
 * answers "(unreachable)/..." (CVE-2024-21626; runc 1.1.12 checks the same). */
static int verify_cwd(const char *cwd, kc_err **err)
{
	char buf[PATH_MAX];
	long n = syscall(SYS_getcwd, buf, sizeof(buf));

	if ((n < 0 && errno == ENOENT) || (n > 0 && buf[0] != '/'))
		return kc_err_set(
		    err, EPERM, "cwd `%s` is outside the container root (possible breakout)", cwd);
	if (n < 0)
		return kc_err_sys(err, "verify cwd `%s`", cwd);
	return 0;
}

/* The home directory of uid in the container's /etc/passwd, "/" if none:
 * runc sets HOME from it when the process's env has none. */
static char *home_of(uid_t uid)
{
	_cleanup_free_ char *text = NULL;
	char *save = NULL;

	if (kc_read_file("/etc/passwd", 1 << 20, &text, NULL, NULL) < 0)
		return xstrdup("/");
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* name:password:uid:gid:gecos:home:shell */
		char *f[7] = {0};
		size_t n = 0;
		for (char *q = line; n < 7; n++) {
			f[n] = q;
			q = strchr(q, ':');
			if (!q)
				break;
			*q++ = '\0';
		}
		if (n >= 5 && f[2] && f[5] && *f[2] && strtoul(f[2], NULL, 10) == uid &&
		    strspn(f[2], "0123456789") == strlen(f[2]))
			return xstrdup(*f[5] ? f[5] : "/");
	}
	return xstrdup("/");
}

static bool has_env(char *const *env, const char *key)
{
	size_t len = strlen(key);
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], key, len) && env[i][len] == '=')
			return true;
	return false;
}

int kc_proc_exec(const struct kc_process *p, const struct kc_seccomp *sc, kc_err **err)
{
	_cleanup_free_ char *prog = NULL, *home = NULL;
	_cleanup_free_ char **env = NULL;
	size_t n = kc_strv_len(p->env);

	if (p->user.umask >= 0)
		umask((mode_t)p->user.umask);
	if (chdir(p->cwd) < 0)
		return kc_err_sys(err, "chdir to cwd `%s`", p->cwd);
	if (verify_cwd(p->cwd, err) < 0)
		return kc_err_retp(err);
	if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kc_err_sys(err, "set no_new_privs");
	prog = kc_find_program(p->args[0], p->env);
	if (!prog)
		return kc_err_sys(err, "exec `%s`: not found in $PATH", p->args[0]);
	env = xcalloc(n + 2, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		env[i] = p->env[i];
	if (!has_env(p->env, "HOME")) {
		_cleanup_free_ char *dir = home_of(p->user.uid);
		home = xasprintf("HOME=%s", dir);
		env[n] = home;
	}
	/* As close to execve as possible, so the profile has to allow few of our
	 * own syscalls (runc does the same with no_new_privs). */
	if (kc_seccomp_load(sc, err) < 0)
		return kc_err_retp(err);
	execve(prog, p->args, env);
	return kc_err_sys(err, "exec `%s`", prog);
}
