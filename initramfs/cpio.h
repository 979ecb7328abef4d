/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A reproducible writer of "newc" cpio archives (the initramfs format) from a
 * list in the syntax of the kernel's usr/gen_init_cpio:
 *
 *   dir   <name> <mode> <uid> <gid>
 *   file  <name> <location> <mode> <uid> <gid>
 *   nod   <name> <mode> <uid> <gid> <c|b> <major> <minor>
 *   slink <name> <target> <mode> <uid> <gid>
 *   pipe  <name> <mode> <uid> <gid>
 *   sock  <name> <mode> <uid> <gid>
 *
 * '#' starts a comment; ${VAR} in a file's location is taken from the
 * environment. No root is needed: nothing is created on the host, device nodes
 * and owners exist only in the archive. Identical inputs give identical bytes:
 * entries are sorted by name, inode numbers follow that order, every mtime is
 * the one given to kc_cpio_write(), and host timestamps/owners are never read.
 */
#ifndef KC_CPIO_H
#define KC_CPIO_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"

enum kc_cpio_type {
	KC_CPIO_FILE,
	KC_CPIO_DIR,
	KC_CPIO_NOD,
	KC_CPIO_SLINK,
	KC_CPIO_PIPE,
	KC_CPIO_SOCK,
};

struct kc_cpio_entry {
	enum kc_cpio_type type;
	const char *name;   /* path in the archive; a leading '/' is dropped */
	const char *source; /* FILE: host path to read; SLINK: link target */
	uint32_t mode;      /* permission bits (07777); the type bits are added */
	uint32_t uid, gid;
	char dev_type; /* NOD: 'c' or 'b' */
	uint32_t rmajor, rminor;
};

typedef struct kc_cpio kc_cpio;

kc_cpio *kc_cpio_new(void);
void kc_cpio_free(kc_cpio *c);

/* Add one entry (copied). Fails on an invalid name. */
int kc_cpio_add(kc_cpio *c, const struct kc_cpio_entry *e, kc_err **err);
/* Parse one list line (comments and blank lines are accepted and ignored). */
int kc_cpio_parse_line(kc_cpio *c, const char *line, kc_err **err);
/* Parse a whole list; errors name "fname:line". */
int kc_cpio_parse_list(kc_cpio *c, FILE *f, const char *fname, kc_err **err);

/*
 * Write the archive (entries sorted, then the TRAILER!!! record, padded to a
 * multiple of 512 bytes) to fd. Fails on duplicate names, on an entry whose
 * parent directory is not in the archive (the kernel would drop it silently),
 * and on unreadable or non-regular file sources.
 */
int kc_cpio_write(kc_cpio *c, int fd, uint32_t mtime, kc_err **err);

#endif
