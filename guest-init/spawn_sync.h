/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to spawn*.c: the messages between the agent and the processes that
 * set a container process up, over a CLOEXEC SOCK_SEQPACKET socketpair. */
#ifndef KC_SPAWN_SYNC_H
#define KC_SPAWN_SYNC_H

#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define SYNC_TEXT_MAX 1024

enum sync_type {
	SYNC_GO = 1, /* agent -> helper: cgroup, oom_score_adj (and id maps) in place */
	SYNC_READY,  /* init -> agent: set up, waiting for START */
	SYNC_START,  /* agent -> init: execve now */
	SYNC_PTY,    /* process -> agent: terminal master attached */
	SYNC_PID,    /* helper -> agent: pid of the container process */
	SYNC_IDMAP,  /* helper -> agent: new user namespace, write my id maps */
	SYNC_ERROR,  /* any -> agent: failed; err + text */
};

struct sync_msg {
	int32_t type;
	int32_t err;
	int32_t pid;
	char text[SYNC_TEXT_MAX];
};

/* Send one message, optionally passing pass_fd (>= 0). 0 or -errno. */
int sync_send(int fd, int type, int err, pid_t pid, const char *text, int pass_fd);
/* Receive one message (an fd it carries lands in *ret_fd, else -1). Returns
 * the size, 0 at EOF, -errno on a receive error (-EAGAIN when non-blocking and
 * empty), -EPROTO for a short message. */
ssize_t sync_recv(int fd, struct sync_msg *m, int *ret_fd);

#endif
