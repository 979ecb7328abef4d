/* SPDX-License-Identifier: Apache-2.0 */
/* The initramfs writer (initramfs/cpio.c): newc format, determinism, list
 * parsing errors, and a round trip through GNU cpio. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpio.h"
#include "testutil.h"
#include "util.h"

static char *dir;

static void setup(void)
{
	dir = tu_tmpdir("mkcpio");
}

static void teardown(void)
{
	tu_rmtree(dir);
	free(dir);
}

TestSuite(mkcpio, .init = setup, .fini = teardown);

static char *put_file(const char *name, const char *content)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	cr_assert(f, "create %s", p);
	fputs(content, f);
	fclose(f);
	return p;
}

/* Build an archive from list text; returns the bytes (malloc'd) and length. */
static int build(const char *list, uint32_t mtime, char **ret, size_t *ret_len, kc_err **err)
{
	kc_cpio *c = kc_cpio_new();
	FILE *f = fmemopen((void *)list, strlen(list), "r");
	char *out = xasprintf("%s/out.cpio", dir);
	int fd, r;

	cr_assert(f);
	r = kc_cpio_parse_list(c, f, "test.list", err);
	fclose(f);
	if (r == 0) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		cr_assert_geq(fd, 0);
		r = kc_cpio_write(c, fd, mtime, err);
		close(fd);
	}
	kc_cpio_free(c);
	if (r == 0)
		cr_assert_eq(kc_read_file(out, 1 << 24, ret, ret_len, NULL), 0);
	free(out);
	return r;
}

struct hdr {
	uint32_t
	    f[13]; /* ino mode uid gid nlink mtime size devmaj devmin rmaj rmin namesize check */
	char name[256];
	const char *data;
};

static uint32_t hex8(const char *p)
{
	char b[9];
	memcpy(b, p, 8);
	b[8] = '\0';
	return (uint32_t)strtoul(b, NULL, 16);
}

/* A strict newc reader: returns the number of entries before the trailer. */
static int parse(const char *buf, size_t len, struct hdr *h, int max)
{
	size_t off = 0;
	int n = 0;

	for (;;) {
		struct hdr x;
		cr_assert_leq(off + 110, len, "truncated header at %zu", off);
		cr_assert_eq(off % 4, 0, "header at %zu not 4-aligned", off);
		cr_assert(!memcmp(buf + off, "070701", 6), "bad magic at %zu", off);
		for (int i = 0; i < 13; i++)
			x.f[i] = hex8(buf + off + 6 + 8 * i);
		cr_assert_lt(x.f[11], sizeof(x.name));
		memcpy(x.name, buf + off + 110, x.f[11]);
		cr_assert_eq(x.name[x.f[11] - 1], '\0', "name not NUL-terminated");
		off += 110 + x.f[11];
		off = (off + 3) & ~(size_t)3;
		x.data = buf + off;
		off += x.f[6];
		off = (off + 3) & ~(size_t)3;
		cr_assert_leq(off, len);
		if (!strcmp(x.name, "TRAILER!!!"))
			break;
		cr_assert_lt(n, max);
		h[n++] = x;
	}
	/* Only zero padding after the trailer, up to a 512-byte block. */
	cr_assert_eq(len % 512, 0, "archive size %zu not a multiple of 512", len);
	for (; off < len; off++)
		cr_assert_eq(buf[off], 0);
	return n;
}

static char *list_text(const char *a, const char *b)
{
	/* The same entries; the second list is in a different order. */
	char *l = xasprintf("# comment\n"
			    "dir /etc 0755 0 0\n"
			    "dir /dev 0755 0 0\n"
			    "\n"
			    "nod /dev/console 0600 0 0 c 5 1\n"
			    "file /etc/passwd %s 0644 0 0   # trailing comment\n"
			    "slink /bin busybox-dir 0777 0 0\n"
			    "dir /tmp 1777 0 0\n"
			    "pipe /dev/fifo 0600 0 0\n"
			    "file /init %s 0755 0 0\n",
			    a, b);
	return l;
}

Test(mkcpio, newc_format)
{
	_cleanup_free_ char *pw = put_file("passwd", "root:x:0:0::/root:/bin/sh\n");
	_cleanup_free_ char *init = put_file("init", "#!/bin/sh\n");
	_cleanup_free_ char *list = list_text(pw, init);
	_cleanup_free_ char *buf = NULL;
	size_t len;
	struct hdr h[16];
	const char *want[] = {"bin", "dev",        "dev/console", "dev/fifo",
			      "etc", "etc/passwd", "init",        "tmp"};
	int n;

	KC_OK(build(list, 1700000000, &buf, &len, err_));
	n = parse(buf, len, h, 16);
	cr_assert_eq(n, 8);
	for (int i = 0; i < n; i++) {
		cr_assert_str_eq(h[i].name, want[i]);
		cr_assert_eq(h[i].f[0], (uint32_t)i + 1, "ino of %s", h[i].name);
		cr_assert_eq(h[i].f[2], 0);
		cr_assert_eq(h[i].f[3], 0);
		cr_assert_eq(h[i].f[5], 1700000000u, "mtime of %s", h[i].name);
		cr_assert_eq(h[i].f[12], 0);
	}
	cr_assert_eq(h[0].f[1], S_IFLNK | 0777);
	cr_assert_eq(h[0].f[6], strlen("busybox-dir"));
	cr_assert(!memcmp(h[0].data, "busybox-dir", 11));
	cr_assert_eq(h[1].f[1], S_IFDIR | 0755);
	cr_assert_eq(h[1].f[4], 2, "dir nlink");
	cr_assert_eq(h[2].f[1], S_IFCHR | 0600);
	cr_assert_eq(h[2].f[9], 5);
	cr_assert_eq(h[2].f[10], 1);
	cr_assert_eq(h[3].f[1], S_IFIFO | 0600);
	cr_assert_eq(h[5].f[1], S_IFREG | 0644);
	cr_assert_eq(h[5].f[4], 1);
	cr_assert_eq(h[5].f[6], strlen("root:x:0:0::/root:/bin/sh\n"));
	cr_assert(!memcmp(h[5].data, "root:x:0:0::/root:/bin/sh\n", h[5].f[6]));
	cr_assert_eq(h[6].f[1], S_IFREG | 0755);
	cr_assert_eq(h[7].f[1], S_IFDIR | 01777);
}

Test(mkcpio, identical_bytes_for_identical_inputs)
{
	_cleanup_free_ char *pw = put_file("passwd", "root:x:0:0::/root:/bin/sh\n");
	_cleanup_free_ char *init = put_file("init", "0123456789");
	_cleanup_free_ char *list = list_text(pw, init);
	/* Same entries, reversed line order. */
	_cleanup_free_ char *rev = xasprintf("file /init %s 0755 0 0\n"
					     "pipe /dev/fifo 0600 0 0\n"
					     "dir /tmp 1777 0 0\n"
					     "slink /bin busybox-dir 0777 0 0\n"
					     "file /etc/passwd %s 0644 0 0\n"
					     "nod /dev/console 0600 0 0 c 5 1\n"
					     "dir /dev 0755 0 0\n"
					     "dir /etc 0755 0 0\n",
					     init, pw);
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
	size_t alen, blen, clen;
	struct timeval tv[2] = {{.tv_sec = 123456}, {.tv_sec = 123456}};

	KC_OK(build(list, 0, &a, &alen, err_));
	/* Host timestamps and permissions of the sources must not leak in. */
	cr_assert_eq(utimes(init, tv), 0);
	cr_assert_eq(chmod(init, 0600), 0);
	KC_OK(build(rev, 0, &b, &blen, err_));
	cr_assert_eq(alen, blen);
	cr_assert(!memcmp(a, b, alen), "archives differ");
	/* A different mtime changes the bytes. */
	KC_OK(build(list, 1, &c, &clen, err_));
	cr_assert_eq(alen, clen);
	cr_assert(memcmp(a, c, alen) != 0);
}

Test(mkcpio, env_in_location)
{
	_cleanup_free_ char *init = put_file("init", "agent");
	_cleanup_free_ char *buf = NULL;
	size_t len;
	struct hdr h[4];

	setenv("KC_TEST_DIR", dir, 1);
	KC_OK(build("file /init ${KC_TEST_DIR}/init 0755 0 0\n", 0, &buf, &len, err_));
	cr_assert_eq(parse(buf, len, h, 4), 1);
	cr_assert_eq(h[0].f[6], 5);
	cr_assert(!memcmp(h[0].data, "agent", 5));
	/* "dir /" is accepted and adds nothing. */
	free(buf);
	buf = NULL;
	KC_OK(build("dir / 0755 0 0\ndir /a 0755 0 0\n", 0, &buf, &len, err_));
	cr_assert_eq(parse(buf, len, h, 4), 1);
}

static void expect_fail(const char *list, const char *needle)
{
	kc_err *e = NULL;
	char *buf = NULL;
	size_t len;

	cr_assert_lt(build(list, 0, &buf, &len, &e), 0, "accepted: %s", list);
	cr_assert(strstr(kc_err_msg(e), needle), "error '%s' lacks '%s'", kc_err_msg(e), needle);
	kc_err_free(e);
	free(buf);
}

Test(mkcpio, rejects_bad_lists)
{
	expect_fail("file /x\n", "test.list:1");
	expect_fail("dir /a 0755 0 0\nbogus /b 0 0 0\n", "test.list:2: unknown entry type");
	expect_fail("dir /a 0955 0 0\n", "bad mode");
	expect_fail("dir /a 0755 x 0\n", "bad uid/gid");
	expect_fail("nod /c 0600 0 0 x 5 1\n", "c or b");
	expect_fail("dir /a/../b 0755 0 0\n", "'..'");
	expect_fail("dir /a 0755 0 0\ndir /a 0755 0 0\n", "listed twice");
	expect_fail("dir /a/b 0755 0 0\n", "parent /a is not a dir");
	expect_fail("file /x /nonexistent/kc-file 0644 0 0\n", "/nonexistent/kc-file");
	expect_fail("file /x ${KC_TEST_UNSET_VAR}/f 0644 0 0\n", "KC_TEST_UNSET_VAR is not set");
	expect_fail("file /x /tmp 0644 0 0\n", "not a regular file");
	expect_fail("file /x /etc/hostname 0644 0 0 /y\n", "hard links");
}

Test(mkcpio, round_trip_through_gnu_cpio)
{
	_cleanup_free_ char *pw = put_file("passwd", "root:x:0:0::/root:/bin/sh\n");
	_cleanup_free_ char *init = put_file("init", "#!/bin/sh\necho hi\n");
	_cleanup_free_ char *list = list_text(pw, init);
	_cleanup_free_ char *buf = NULL, *names = NULL, *got = NULL;
	_cleanup_free_ char *x = xasprintf("%s/x", dir);
	size_t len, nlen;
	struct stat st;
	char target[64];
	ssize_t tl;

	if (tu_sh("command -v cpio >/dev/null") != 0)
		cr_skip_test("GNU cpio not installed (scripts/setup-deps.sh test)");
	KC_OK(build(list, 0, &buf, &len, err_));

	cr_assert_eq(tu_sh("cd %s && cpio --quiet -t < out.cpio > names", dir), 0);
	names = xasprintf("%s/names", dir);
	cr_assert_eq(kc_read_file(names, 4096, &got, &nlen, NULL), 0);
	cr_assert_str_eq(got, "bin\ndev\ndev/console\ndev/fifo\netc\netc/passwd\ninit\ntmp\n");

	/* Device nodes need root to create: extract everything else. */
	cr_assert_eq(mkdir(x, 0755), 0);
	cr_assert_eq(
	    tu_sh("cd %s && cpio --quiet -i -d --no-absolute-filenames -f 'dev/*' < ../out.cpio",
		  x),
	    0);
	free(got);
	got = NULL;
	free(names);
	names = xasprintf("%s/etc/passwd", x);
	cr_assert_eq(kc_read_file(names, 4096, &got, &nlen, NULL), 0);
	cr_assert_str_eq(got, "root:x:0:0::/root:/bin/sh\n");
	free(names);
	names = xasprintf("%s/init", x);
	cr_assert_eq(stat(names, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
	cr_assert_eq(st.st_size, (off_t)strlen("#!/bin/sh\necho hi\n"));
	free(names);
	names = xasprintf("%s/tmp", x);
	cr_assert_eq(stat(names, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 01777);
	free(names);
	names = xasprintf("%s/bin", x);
	tl = readlink(names, target, sizeof(target) - 1);
	cr_assert_eq(tl, (ssize_t)strlen("busybox-dir"));
	target[tl] = '\0';
	cr_assert_str_eq(target, "busybox-dir");
}
