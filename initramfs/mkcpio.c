/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mkcpio - write a reproducible newc cpio archive from gen_init_cpio-style
 * lists (see cpio.h), without root.
 *
 *   mkcpio [-o OUT] [-t MTIME] LIST...
 *
 * LIST "-" is stdin; several lists are merged. MTIME defaults to
 * $SOURCE_DATE_EPOCH, else 0. OUT is written via OUT.tmp + rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpio.h"
#include "util.h"

static _noreturn_ void usage(int code)
{
	fprintf(code ? stderr : stdout, "usage: mkcpio [-o OUT] [-t MTIME] LIST...\n");
	exit(code);
}

static int parse_mtime(const char *s, uint32_t *ret, kc_err **err)
{
	int64_t v;
	if (kc_parse_i64(s, 0, UINT32_MAX, &v) < 0)
		return kc_err_set(err, EINVAL, "bad mtime '%s' (seconds since the epoch)", s);
	*ret = (uint32_t)v;
	return 0;
}

static int run(int argc, char **argv, kc_err **err)
{
	const char *out = NULL, *sde = getenv("SOURCE_DATE_EPOCH");
	kc_cpio *c = NULL;
	uint32_t mtime = 0;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int opt, r = -1;

	if (sde && *sde && parse_mtime(sde, &mtime, err) < 0)
		return kc_err_wrap(err, "SOURCE_DATE_EPOCH");
	while ((opt = getopt(argc, argv, "ho:t:")) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 't':
			if (parse_mtime(optarg, &mtime, err) < 0)
				return kc_err_retp(err);
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind == argc)
		usage(2);

	c = kc_cpio_new();
	for (int i = optind; i < argc; i++) {
		bool is_stdin = !strcmp(argv[i], "-");
		FILE *f = is_stdin ? stdin : fopen(argv[i], "re");
		if (!f) {
			kc_err_sys(err, "open %s", argv[i]);
			goto out;
		}
		r = kc_cpio_parse_list(c, f, is_stdin ? "<stdin>" : argv[i], err);
		if (!is_stdin)
			fclose(f);
		if (r < 0)
			goto out;
	}

	if (out) {
		tmp = xasprintf("%s.tmp", out);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			r = kc_err_sys(err, "create %s", tmp);
			goto out;
		}
	} else if (isatty(STDOUT_FILENO)) {
		r = kc_err_set(err, EINVAL, "refusing to write an archive to a terminal (use -o)");
		goto out;
	}
	r = kc_cpio_write(c, out ? fd : STDOUT_FILENO, mtime, err);
	if (r < 0)
		goto out;
	if (out) {
		if (fsync(fd) < 0 || rename(tmp, out) < 0) {
			r = kc_err_sys(err, "write %s", out);
			goto out;
		}
		free(steal_pointer(&tmp));
	}
out:
	if (tmp)
		unlink(tmp);
	kc_cpio_free(c);
	return r;
}

int main(int argc, char **argv)
{
	kc_err *err = NULL;

	if (run(argc, argv, &err) < 0) {
		fprintf(stderr, "mkcpio: %s\n", kc_err_msg(err));
		kc_err_free(err);
		return 1;
	}
	return 0;
}
