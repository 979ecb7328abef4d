/* SPDX-License-Identifier: Apache-2.0 */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void kc_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}

void kc_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t kc_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

static _noreturn_ void oom(void)
{
	static const char msg[] = "kuasar-c: out of memory\n";
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *r = strdup(s ? s : "");
	if (!r)
		oom();
	return r;
}

char *xstrndup(const char *s, size_t n)
{
	char *r = strndup(s, n);
	if (!r)
		oom();
	return r;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *r;

	va_start(ap, fmt);
	if (vasprintf(&r, fmt, ap) < 0)
		oom();
	va_end(ap);
	return r;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * KC_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t kc_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t kc_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int kc_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t kc_read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int kc_read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len,
		    kc_err **err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return kc_err_sys(err, "open `%s`", path);
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			cap = cap ? cap * 2 : 4096;
			if (cap > max + 1)
				cap = max + 1;
			if (len + 1 >= cap)
				return kc_err_set(
				    err, EFBIG, "read `%s`: file larger than %zu bytes", path, max);
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kc_err_sys(err, "read `%s`", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf)
		buf = xmalloc(1);
	buf[len] = '\0';
	*ret = steal_pointer(&buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int kc_read_file(const char *path, size_t max, char **ret, size_t *ret_len, kc_err **err)
{
	return kc_read_file_at(AT_FDCWD, path, max, ret, ret_len, err);
}

int kc_write_file(const char *path, const void *data, size_t len, int flags, mode_t mode,
		  kc_err **err)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (!flags)
		flags = O_WRONLY | O_CREAT | O_TRUNC;
	fd = open(path, flags | O_CLOEXEC, mode);
	if (fd < 0)
		return kc_err_sys(err, "open `%s`", path);
	r = kc_write_all(fd, data, len);
	if (r < 0) {
		errno = -r;
		return kc_err_sys(err, "write `%s`", path);
	}
	return 0;
}

int kc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, kc_err **err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
	_cleanup_close_ int fd = -1;
	int r;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return kc_err_sys(err, "open `%s`", tmp);
	r = kc_write_all(fd, data, len);
	if (r < 0 || fsync(fd) < 0) {
		if (r < 0)
			errno = -r;
		r = kc_err_sys(err, "write `%s`", tmp);
		unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		r = kc_err_sys(err, "rename `%s` to `%s`", tmp, path);
		unlink(tmp);
		return r;
	}
	return 0;
}

int kc_mkdir_p(const char *path, mode_t mode, kc_err **err)
{
	_cleanup_free_ char *p = xstrdup(path);
	size_t len = strlen(p);

	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return kc_err_sys(err, "mkdir `%s`", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return kc_err_sys(err, "mkdir `%s`", p);
	return 0;
}

static int rm_rf_at(int dfd, const char *name, dev_t dev, kc_err **err)
{
	struct stat st;
	_cleanup_close_ int fd = -1;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : kc_err_sys(err, "stat `%s`", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return kc_err_sys(err, "unlink `%s`", name);
		return 0;
	}
	if (st.st_dev != dev)
		return kc_err_set(err, EBUSY, "`%s` is a mount point, not removing it", name);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kc_err_sys(err, "open `%s`", name);
	d = fdopendir(fd);
	if (!d)
		return kc_err_sys(err, "opendir `%s`", name);
	fd = -1; /* owned by d now */
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = rm_rf_at(dirfd(d), de->d_name, dev, err);
		if (r < 0) {
			kc_err_wrap(err, "%s", name);
			break;
		}
	}
	closedir(d);
	if (r < 0)
		return r;
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return kc_err_sys(err, "rmdir `%s`", name);
	return 0;
}

int kc_rm_rf(const char *path, kc_err **err)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : kc_err_sys(err, "stat `%s`", path);
	return rm_rf_at(AT_FDCWD, path, st.st_dev, err);
}

int kc_set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

int kc_set_cloexec(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFD);
	if (fl < 0)
		return -errno;
	fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
	return fcntl(fd, F_SETFD, fl) < 0 ? -errno : 0;
}

bool kc_has_prefix(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

bool kc_has_suffix(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int kc_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end || end == s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int kc_parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

void kc_fd_path(int fd, char buf[32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}
