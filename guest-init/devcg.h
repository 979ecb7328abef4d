/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device cgroup on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program made
 * from linux.resources.devices, attached to the container's cgroup with
 * BPF_CGROUP_DEVICE. Without it any container with CAP_MKNOD could create and
 * open any device of the VM (its console, /dev/kmsg, the disks).
 *
 * Semantics, as runc and crun (and the runtime spec): deny by default; the
 * last rule that matches decides; runc's default rules come after the spec's
 * and so always apply (mknod of any c/b node; rwm on null, zero, full, random,
 * urandom, tty, ptmx, any pts, net/tun). An allow rule matches a request whose
 * access is within the rule's; a deny rule matches a request asking for any
 * access it names (so "deny w" also refuses an "rw" open).
 */
#ifndef KC_DEVCG_H
#define KC_DEVCG_H

#include <linux/bpf.h>
#include <stddef.h>

#include "err.h"
#include "spec_types.h"

/* Instructions for rules (+ the defaults); returns the count (<= max) or 0 if
 * max is too small. */
size_t kc_devcg_build(const struct kc_dev_rule *rules, size_t n, struct bpf_insn *out, size_t max);
/* Load the program for rules and attach it to the cgroup dirfd; then detach
 * *prog (the one it replaces, if >= 0) and store the new program's fd there
 * (the agent keeps it to replace it on Update). */
int kc_devcg_apply(int cgroup_fd, const struct kc_dev_rule *rules, size_t n, int *prog,
		   kc_err **err);

#endif
