/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by every kuasar-c binary: cleanup attributes, ownership
 * transfer, allocation, time, whole-buffer I/O and an intrusive list. */
#ifndef KC_UTIL_H
#define KC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "err.h"

#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(kc_freep)
#define _cleanup_close_  _cleanup_(kc_closep)
#define _cleanup_strv_   _cleanup_(kc_strv_freep)
#define _unused_         __attribute__((unused))
#define _noreturn_       __attribute__((noreturn))
#define KC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Hand ownership of a pointer / fd to the caller and disarm the cleanup. */
#define steal_pointer(pp)                                                                          \
	({                                                                                         \
		__typeof__(*(pp)) _stolen = *(pp);                                                 \
		*(pp) = NULL;                                                                      \
		_stolen;                                                                           \
	})
#define steal_fd(fdp)                                                                              \
	({                                                                                         \
		int _stolen_fd = *(fdp);                                                           \
		*(fdp) = -1;                                                                       \
		_stolen_fd;                                                                        \
	})

/* Frees *p and clears it, so it also works as a "free and forget" helper. */
static inline void kc_freep(void *p)
{
	free(*(void **)p);
	*(void **)p = NULL;
}
void kc_closep(int *fd);
void kc_strv_free(char **v);
static inline void kc_strv_freep(char ***v)
{
	kc_strv_free(*v);
}
size_t kc_strv_len(char *const *v);

/* Allocation failure is not recoverable in any of our processes: every size
 * that comes from the wire is bounded before it reaches these. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t kc_now_ns(void);      /* CLOCK_MONOTONIC */
uint64_t kc_realtime_ns(void); /* CLOCK_REALTIME */
#define KC_NSEC_PER_SEC  1000000000ULL
#define KC_NSEC_PER_MSEC 1000000ULL

/* Retry on EINTR; loop until everything is transferred. Return 0 or -errno. */
int kc_write_all(int fd, const void *buf, size_t len);
/* "/proc/self/fd/N": a path that names exactly the object open at fd. */
void kc_fd_path(int fd, char buf[32]);
/* Returns bytes read (< len only at EOF) or -errno. */
ssize_t kc_read_all(int fd, void *buf, size_t len);

int kc_read_file(const char *path, size_t max, char **ret, size_t *ret_len, kc_err **err);
int kc_read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len,
		    kc_err **err);
int kc_write_file(const char *path, const void *data, size_t len, int flags, mode_t mode,
		  kc_err **err);
/* Write to PATH.tmp, fsync, rename over PATH. */
int kc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, kc_err **err);
int kc_mkdir_p(const char *path, mode_t mode, kc_err **err);
/* rm -rf that never crosses mount points (stays on path's device). */
int kc_rm_rf(const char *path, kc_err **err);

int kc_set_nonblock(int fd, bool on);
int kc_set_cloexec(int fd, bool on);

bool kc_has_prefix(const char *s, const char *prefix);
bool kc_has_suffix(const char *s, const char *suffix);
/* Parse a decimal integer in [min,max]; returns 0 or -EINVAL/-ERANGE. */
int kc_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret);
int kc_parse_u64(const char *s, uint64_t *ret);

/* Intrusive doubly-linked list (circular, with a head node). */
typedef struct kc_list {
	struct kc_list *next, *prev;
} kc_list;
#define KC_LIST_INIT(name)                                                                         \
	{                                                                                          \
		&(name), &(name)                                                                   \
	}
static inline void kc_list_init(kc_list *l)
{
	l->next = l->prev = l;
}
static inline bool kc_list_empty(const kc_list *l)
{
	return l->next == l;
}
static inline void kc_list_add_tail(kc_list *head, kc_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}
static inline void kc_list_del(kc_list *n)
{
	if (!n->next)
		return;
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = NULL;
}
static inline bool kc_list_linked(const kc_list *n)
{
	return n->next != NULL;
}
#define kc_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#define kc_list_for_each(pos, head)                                                                \
	for (kc_list *pos = (head)->next; pos != (head); pos = pos->next)
#define kc_list_for_each_safe(pos, head)                                                           \
	for (kc_list *pos = (head)->next, *pos##_n = pos->next; pos != (head);                     \
	     pos = pos##_n, pos##_n = pos->next)

#endif
