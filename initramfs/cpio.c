/* SPDX-License-Identifier: Apache-2.0 */
#include "cpio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define CPIO_BLOCK      512
#define CPIO_MAX_FIELDS 8

struct ent {
	enum kc_cpio_type type;
	char *name;
	char *source;
	uint32_t mode, uid, gid;
	uint32_t rmajor, rminor;
};

struct kc_cpio {
	struct ent *ents;
	size_t n, cap;
};

kc_cpio *kc_cpio_new(void)
{
	return xcalloc(1, sizeof(kc_cpio));
}

void kc_cpio_free(kc_cpio *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->ents[i].name);
		free(c->ents[i].source);
	}
	free(c->ents);
	free(c);
}

/* "/a//b/" -> "a/b"; NULL for names the kernel could not create safely. */
static char *normalize_name(const char *name)
{
	size_t len = strlen(name);
	char *out = xmalloc(len + 1), *o = out;
	const char *p = name;

	while (*p) {
		const char *comp;
		size_t clen;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		comp = p;
		while (*p && *p != '/')
			p++;
		clen = (size_t)(p - comp);
		if ((clen == 1 && comp[0] == '.') || (clen == 2 && !strncmp(comp, "..", 2))) {
			free(out);
			return NULL;
		}
		if (o != out)
			*o++ = '/';
		memcpy(o, comp, clen);
		o += clen;
	}
	*o = '\0';
	return out;
}

int kc_cpio_add(kc_cpio *c, const struct kc_cpio_entry *e, kc_err **err)
{
	struct ent *n;
	char *name;

	if (!e->name || !*e->name)
		return kc_err_set(err, EINVAL, "empty name");
	if (strlen(e->name) >= PATH_MAX)
		return kc_err_set(err, ENAMETOOLONG, "name too long");
	if (e->mode & ~07777u)
		return kc_err_set(err, EINVAL, "%s: mode %o has more than permission bits", e->name,
				  e->mode);
	if ((e->type == KC_CPIO_FILE || e->type == KC_CPIO_SLINK) && (!e->source || !*e->source))
		return kc_err_set(err, EINVAL, "%s: no %s", e->name,
				  e->type == KC_CPIO_FILE ? "location" : "link target");
	if (e->type == KC_CPIO_NOD && e->dev_type != 'c' && e->dev_type != 'b')
		return kc_err_set(err, EINVAL, "%s: device type must be c or b", e->name);
	name = normalize_name(e->name);
	if (!name)
		return kc_err_set(err, EINVAL, "%s: '.' or '..' in name", e->name);
	if (!*name) {
		/* "dir /": the root exists already when the kernel unpacks. */
		free(name);
		if (e->type != KC_CPIO_DIR)
			return kc_err_set(err, EINVAL, "'/' can only be a dir");
		return 0;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 32;
		c->ents = xrealloc(c->ents, c->cap * sizeof(*c->ents));
	}
	n = &c->ents[c->n++];
	*n = (struct ent){
	    .type = e->type,
	    .name = name,
	    .source = e->source ? xstrdup(e->source) : NULL,
	    .mode = e->mode,
	    .uid = e->uid,
	    .gid = e->gid,
	    .rmajor = e->rmajor,
	    .rminor = e->rminor,
	};
	if (e->type == KC_CPIO_NOD)
		n->mode |= e->dev_type == 'c' ? S_IFCHR : S_IFBLK;
	return 0;
}

/* Expand ${VAR} from the environment (gen_init_cpio does the same for locations). */
static int expand_env(const char *in, char **ret, kc_err **err)
{
	size_t cap = strlen(in) + 1, len = 0;
	char *out = xmalloc(cap);
	const char *p = in;

	while (*p) {
		const char *val = NULL;
		size_t vlen = 1;
		if (p[0] == '$' && p[1] == '{') {
			const char *end = strchr(p + 2, '}');
			char *var;
			if (!end) {
				free(out);
				return kc_err_set(err, EINVAL, "unterminated ${ in '%s'", in);
			}
			var = xstrndup(p + 2, (size_t)(end - p - 2));
			val = getenv(var);
			if (!val || !*val) {
				kc_err_set(err, EINVAL, "environment variable %s is not set", var);
				free(var);
				free(out);
				return kc_err_retp(err);
			}
			free(var);
			vlen = strlen(val);
			p = end + 1;
		} else {
			val = p++;
		}
		if (len + vlen + 1 > cap) {
			cap = (len + vlen + 1) * 2;
			out = xrealloc(out, cap);
		}
		memcpy(out + len, val, vlen);
		len += vlen;
	}
	out[len] = '\0';
	*ret = out;
	return 0;
}

static int parse_u32(const char *s, int base, uint32_t max, uint32_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

int kc_cpio_parse_line(kc_cpio *c, const char *line, kc_err **err)
{
	_cleanup_free_ char *buf = xstrdup(line);
	_cleanup_free_ char *loc = NULL;
	char *f[CPIO_MAX_FIELDS + 1], *save = NULL, *tok, *hash;
	struct kc_cpio_entry e = {0};
	int nf = 0, want, mi;

	hash = strchr(buf, '#');
	if (hash)
		*hash = '\0';
	for (tok = strtok_r(buf, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (nf == CPIO_MAX_FIELDS)
			return kc_err_set(err, EINVAL, "too many fields");
		f[nf++] = tok;
	}
	if (nf == 0)
		return 0;

	/* want = field count, mi = index of the mode field (uid, gid follow it). */
	if (!strcmp(f[0], "dir") || !strcmp(f[0], "pipe") || !strcmp(f[0], "sock")) {
		e.type = f[0][0] == 'd'   ? KC_CPIO_DIR
			 : f[0][0] == 'p' ? KC_CPIO_PIPE
					  : KC_CPIO_SOCK;
		want = 5, mi = 2;
	} else if (!strcmp(f[0], "file")) {
		e.type = KC_CPIO_FILE;
		want = 6, mi = 3;
	} else if (!strcmp(f[0], "slink")) {
		e.type = KC_CPIO_SLINK;
		want = 6, mi = 3;
	} else if (!strcmp(f[0], "nod")) {
		e.type = KC_CPIO_NOD;
		want = 8, mi = 2;
	} else {
		return kc_err_set(err, EINVAL, "unknown entry type '%s'", f[0]);
	}
	if (e.type == KC_CPIO_FILE && nf > want)
		return kc_err_set(err, ENOTSUP,
				  "hard links (extra names after gid) are not supported");
	if (nf != want)
		return kc_err_set(err, EINVAL, "'%s' takes %d fields, got %d", f[0], want - 1,
				  nf - 1);
	e.name = f[1];
	if (parse_u32(f[mi], 8, 07777, &e.mode) < 0)
		return kc_err_set(err, EINVAL, "bad mode '%s' (octal permission bits)", f[mi]);
	if (parse_u32(f[mi + 1], 10, UINT32_MAX, &e.uid) < 0 ||
	    parse_u32(f[mi + 2], 10, UINT32_MAX, &e.gid) < 0)
		return kc_err_set(err, EINVAL, "bad uid/gid '%s %s'", f[mi + 1], f[mi + 2]);
	if (e.type == KC_CPIO_FILE) {
		if (expand_env(f[2], &loc, err) < 0)
			return kc_err_retp(err);
		e.source = loc;
	} else if (e.type == KC_CPIO_SLINK) {
		e.source = f[2];
	} else if (e.type == KC_CPIO_NOD) {
		if (strlen(f[5]) != 1)
			return kc_err_set(err, EINVAL, "device type must be c or b, got '%s'",
					  f[5]);
		e.dev_type = f[5][0];
		if (parse_u32(f[6], 10, 4095, &e.rmajor) < 0 ||
		    parse_u32(f[7], 10, 1048575, &e.rminor) < 0)
			return kc_err_set(err, EINVAL, "bad device number '%s %s'", f[6], f[7]);
	}
	return kc_cpio_add(c, &e, err);
}

int kc_cpio_parse_list(kc_cpio *c, FILE *f, const char *fname, kc_err **err)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	int lineno = 0;

	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		if (kc_cpio_parse_line(c, line, err) < 0)
			return kc_err_wrap(err, "%s:%d", fname, lineno);
	}
	if (ferror(f))
		return kc_err_set(err, EIO, "%s: read error", fname);
	return 0;
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

/* Buffered output that tracks the archive offset for 4-byte padding. */
struct out {
	int fd;
	uint64_t off;
	size_t len;
	char buf[65536];
};

static int out_flush(struct out *o, kc_err **err)
{
	int r = kc_write_all(o->fd, o->buf, o->len);
	if (r < 0)
		return kc_err_set(err, -r, "write: %s", strerror(-r));
	o->len = 0;
	return 0;
}

static int out_put(struct out *o, const void *data, size_t len, kc_err **err)
{
	const char *p = data;
	while (len) {
		size_t n = sizeof(o->buf) - o->len;
		if (n > len)
			n = len;
		memcpy(o->buf + o->len, p, n);
		o->len += n, o->off += n, p += n, len -= n;
		if (o->len == sizeof(o->buf) && out_flush(o, err) < 0)
			return kc_err_retp(err);
	}
	return 0;
}

static int out_pad(struct out *o, unsigned align, kc_err **err)
{
	static const char zeros[CPIO_BLOCK];
	size_t pad = (size_t)((align - o->off % align) % align);
	return out_put(o, zeros, pad, err);
}

static int put_header(struct out *o, uint32_t ino, uint32_t mode, uint32_t uid, uint32_t gid,
		      uint32_t nlink, uint32_t mtime, uint32_t size, uint32_t rmaj, uint32_t rmin,
		      const char *name, kc_err **err)
{
	char hdr[6 + 13 * 8 + 1];
	size_t nlen = strlen(name) + 1;

	/* newc: magic, then 13 8-digit hex fields; dev of the source fs is always 0. */
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 ino, mode, uid, gid, nlink, mtime, size, 0u, 0u, rmaj, rmin, (uint32_t)nlen, 0u);
	if (out_put(o, hdr, sizeof(hdr) - 1, err) < 0 || out_put(o, name, nlen, err) < 0)
		return kc_err_retp(err);
	return out_pad(o, 4, err);
}

static int put_file(struct out *o, const struct ent *e, uint32_t ino, uint32_t mtime, kc_err **err)
{
	_cleanup_close_ int fd = open(e->source, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint64_t left;

	if (fd < 0)
		return kc_err_sys(err, "%s: open %s", e->name, e->source);
	if (fstat(fd, &st) < 0)
		return kc_err_sys(err, "%s: stat %s", e->name, e->source);
	if (!S_ISREG(st.st_mode))
		return kc_err_set(err, EINVAL, "%s: %s is not a regular file", e->name, e->source);
	if ((uint64_t)st.st_size > UINT32_MAX)
		return kc_err_set(err, EFBIG, "%s: %s is larger than 4 GiB", e->name, e->source);
	if (put_header(o, ino, S_IFREG | e->mode, e->uid, e->gid, 1, mtime, (uint32_t)st.st_size, 0,
		       0, e->name, err) < 0)
		return kc_err_retp(err);
	for (left = (uint64_t)st.st_size; left;) {
		char buf[65536];
		ssize_t n = kc_read_all(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
		if (n < 0)
			return kc_err_set(err, (int)-n, "%s: read %s: %s", e->name, e->source,
					  strerror((int)-n));
		if (n == 0)
			return kc_err_set(err, EIO, "%s: %s shrank while being read", e->name,
					  e->source);
		if (out_put(o, buf, (size_t)n, err) < 0)
			return kc_err_retp(err);
		left -= (uint64_t)n;
	}
	return out_pad(o, 4, err);
}

/* The parent of every entry must be an archived dir (or the root). */
static int check_tree(const struct ent *ents, size_t n, kc_err **err)
{
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(ents[i].name, '/');
		struct ent key;
		const struct ent *p;
		_cleanup_free_ char *parent = NULL;

		if (i > 0 && !strcmp(ents[i - 1].name, ents[i].name))
			return kc_err_set(err, EEXIST, "/%s is listed twice", ents[i].name);
		if (!slash)
			continue;
		parent = xstrndup(ents[i].name, (size_t)(slash - ents[i].name));
		key.name = parent;
		p = bsearch(&key, ents, n, sizeof(*ents), cmp_ent);
		if (!p || p->type != KC_CPIO_DIR)
			return kc_err_set(err, ENOENT, "/%s: parent /%s is not a dir in the list",
					  ents[i].name, parent);
	}
	return 0;
}

int kc_cpio_write(kc_cpio *c, int fd, uint32_t mtime, kc_err **err)
{
	_cleanup_free_ struct out *o = xcalloc(1, sizeof(*o));
	uint32_t ino = 1;

	o->fd = fd;
	if (c->n)
		qsort(c->ents, c->n, sizeof(*c->ents), cmp_ent);
	if (check_tree(c->ents, c->n, err) < 0)
		return kc_err_retp(err);
	for (size_t i = 0; i < c->n; i++, ino++) {
		const struct ent *e = &c->ents[i];
		int r = 0;

		switch (e->type) {
		case KC_CPIO_FILE:
			r = put_file(o, e, ino, mtime, err);
			break;
		case KC_CPIO_DIR:
			r = put_header(o, ino, S_IFDIR | e->mode, e->uid, e->gid, 2, mtime, 0, 0, 0,
				       e->name, err);
			break;
		case KC_CPIO_NOD:
			r = put_header(o, ino, e->mode, e->uid, e->gid, 1, mtime, 0, e->rmajor,
				       e->rminor, e->name, err);
			break;
		case KC_CPIO_SLINK:
			r = put_header(o, ino, S_IFLNK | e->mode, e->uid, e->gid, 1, mtime,
				       (uint32_t)strlen(e->source), 0, 0, e->name, err);
			if (r == 0)
				r = out_put(o, e->source, strlen(e->source), err);
			if (r == 0)
				r = out_pad(o, 4, err);
			break;
		case KC_CPIO_PIPE:
		case KC_CPIO_SOCK:
			r = put_header(o, ino,
				       (e->type == KC_CPIO_PIPE ? S_IFIFO : S_IFSOCK) | e->mode,
				       e->uid, e->gid, 1, mtime, 0, 0, 0, e->name, err);
			break;
		}
		if (r < 0)
			return r;
	}
	if (put_header(o, 0, 0, 0, 0, 1, 0, 0, 0, 0, "TRAILER!!!", err) < 0 ||
	    out_pad(o, CPIO_BLOCK, err) < 0 || out_flush(o, err) < 0)
		return kc_err_retp(err);
	return 0;
}
