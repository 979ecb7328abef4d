/* SPDX-License-Identifier: Apache-2.0 */
#include "testutil.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

char *tu_tmpdir(const char *tag)
{
	char *p =
	    xasprintf("%s/kc-test-%s-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", tag);
	if (!mkdtemp(p)) {
		perror("mkdtemp");
		abort();
	}
	return p;
}

void tu_rmtree(const char *path)
{
	kc_err *e = NULL;
	if (kc_rm_rf(path, &e) < 0) {
		fprintf(stderr, "rm -rf %s: %s\n", path, kc_err_msg(e));
		kc_err_free(e);
	}
}

bool tu_loop_until(kc_loop *loop, const bool *flag, int timeout_ms)
{
	uint64_t deadline = kc_now_ns() + (uint64_t)timeout_ms * KC_NSEC_PER_MSEC;
	while (!*flag && kc_now_ns() < deadline)
		if (kc_loop_iterate(loop, deadline, NULL) < 0)
			break;
	return *flag;
}

int tu_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

bool tu_is_root(void)
{
	return geteuid() == 0;
}

char *tu_bin(const char *name)
{
	const char *dir = getenv("KC_BIN");
	return dir ? xasprintf("%s/%s", dir, name) : xasprintf("build/bin/%s", name);
}

size_t tu_count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static char *vcmd(const char *fmt, va_list ap)
{
	char *cmd;
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	return cmd;
}

int tu_sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int rc;

	va_start(ap, fmt);
	cmd = vcmd(fmt, ap);
	va_end(ap);
	rc = system(cmd);
	free(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

char *tu_sh_out(const char *fmt, ...)
{
	char *buf = xcalloc(1, 65536);
	size_t n = 0;
	va_list ap;
	char *cmd;
	FILE *f;

	va_start(ap, fmt);
	cmd = vcmd(fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	free(cmd);
	if (f) {
		n = fread(buf, 1, 65535, f);
		pclose(f);
	}
	buf[n] = '\0';
	return buf;
}
