/* SPDX-License-Identifier: Apache-2.0 */
#include "devcg.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

/* Rules every container gets (runc's AllowedDevices), after its own. */
static const struct kc_dev_rule defaults[] = {
    {true, 'c', -1, -1, KC_DEV_MKNOD},
    {true, 'b', -1, -1, KC_DEV_MKNOD},
    {true, 'c', 1, 3, KC_DEV_READ | KC_DEV_WRITE | KC_DEV_MKNOD},    /* null */
    {true, 'c', 1, 8, KC_DEV_READ | KC_DEV_WRITE | KC_DEV_MKNOD},    /* random */
    {true, 'c', 1, 7, KC_DEV_READ | KC_DEV_WRITE | KC_DEV_MKNOD},    /* full */
    {true, 'c', 5, 0, KC_DEV_READ | KC_DEV_WRITE | KC_DEV_MKNOD},    /* tty */
    {true, 'c', 1, 5, KC_DEV_READ | KC_DEV_WRITE | KC_DEV_MKNOD},    /* zero */
    {true, 'c', 1, 9, KC_DEV_READ | KC_DEV_WRITE | KC_DEV_MKNOD},    /* urandom */
    {true, 'c', 136, -1, KC_DEV_READ | KC_DEV_WRITE | KC_DEV_MKNOD}, /* any pts */
    {true, 'c', 5, 2, KC_DEV_READ | KC_DEV_WRITE | KC_DEV_MKNOD},    /* ptmx */
    {true, 'c', 10, 200, KC_DEV_READ | KC_DEV_WRITE | KC_DEV_MKNOD}, /* net/tun */
};

#define ALL_ACCESS (KC_DEV_READ | KC_DEV_WRITE | KC_DEV_MKNOD)

#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

/* One rule: each test jumps past the rule's end when it fails. */
static size_t emit_rule(const struct kc_dev_rule *r, struct bpf_insn *out)
{
	struct bpf_insn b[12];
	size_t n = 0;

	if (r->type != 'a')
		b[n++] = INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
			      r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
	if ((r->access & ALL_ACCESS) != ALL_ACCESS) {
		/* w0 = requested & rule's access */
		b[n++] = INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_0, BPF_REG_3, 0, 0);
		b[n++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_0, 0, 0, (int32_t)r->access);
		if (r->allow) /* all of the request granted */
			b[n++] = INSN(BPF_JMP32 | BPF_JNE | BPF_X, BPF_REG_0, BPF_REG_3, 0, 0);
		else /* any of the request refused */
			b[n++] = INSN(BPF_JMP32 | BPF_JEQ | BPF_K, BPF_REG_0, 0, 0, 0);
	}
	if (r->major >= 0)
		b[n++] = INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)r->major);
	if (r->minor >= 0)
		b[n++] = INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)r->minor);
	b[n++] = INSN(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
	b[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	/* Every jump so far lands right after the exit. */
	for (size_t i = 0; i + 2 < n; i++)
		if (BPF_CLASS(b[i].code) == BPF_JMP32)
			b[i].off = (int16_t)(n - 1 - i);
	if (out)
		memcpy(out, b, n * sizeof(*b));
	return n;
}

size_t kc_devcg_build(const struct kc_dev_rule *rules, size_t n, struct bpf_insn *out, size_t max)
{
	size_t len = 0;

#define PUT(insn)                                                                                  \
	do {                                                                                       \
		if (len >= max)                                                                    \
			return 0;                                                                  \
		out[len++] = (insn);                                                               \
	} while (0)
	/* r2 = device type, r3 = requested access, r4 = major, r5 = minor
	 * (struct bpf_cgroup_dev_ctx). */
	PUT(INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0));
	PUT(INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0));
	PUT(INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16));
	PUT(INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff));
	PUT(INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0));
	PUT(INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0));
#undef PUT
	/* The last matching rule decides: test them from the last one, the
	 * defaults (which runc appends) first. A rule matching everything ends
	 * the program (the verifier refuses code nothing reaches). */
	for (size_t k = KC_ARRAY_SIZE(defaults) + n; k-- > 0;) {
		const struct kc_dev_rule *r = k >= n ? &defaults[k - n] : &rules[k];
		size_t m = emit_rule(r, NULL);
		if (len + m + 2 > max)
			return 0;
		len += emit_rule(r, out + len);
		if (m == 2)
			return len;
	}
	out[len++] = INSN(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0); /* deny */
	out[len++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return len;
}

static int load(const struct bpf_insn *insns, size_t n, kc_err **err)
{
	static char log[4096];
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = (uint32_t)n;
	a.license = (uint64_t)(uintptr_t) "Apache-2.0";
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd >= 0)
		return fd;
	if (errno != EINVAL && errno != EACCES)
		return kc_err_sys(err, "load the device cgroup program");
	/* Ask the verifier why. */
	log[0] = '\0';
	a.log_buf = (uint64_t)(uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd >= 0)
		return fd;
	log[strcspn(log, "\n")] = '\0';
	return kc_err_sys(err, "load the device cgroup program (%.200s)", log);
}

int kc_devcg_apply(int cgroup_fd, const struct kc_dev_rule *rules, size_t n, int *prog,
		   kc_err **err)
{
	/* 6 header + up to 8 per rule + 2 */
	size_t max = 8 + 8 * (n + KC_ARRAY_SIZE(defaults)), len;
	_cleanup_free_ struct bpf_insn *insns = NULL;
	_cleanup_close_ int fd = -1;
	union bpf_attr a;

	if (n > 4096)
		return kc_err_set(err, E2BIG, "linux.resources.devices: %zu rules (4096 at most)",
				  n);
	insns = xcalloc(max, sizeof(*insns));
	len = kc_devcg_build(rules, n, insns, max);
	if (!len)
		return kc_err_set(err, EINVAL, "device cgroup program too large");
	fd = load(insns, len, err);
	if (fd < 0)
		return kc_err_retp(err);
	/* MULTI: attached programs all have to allow, so the window where the
	 * old and the new one coexist is only stricter. */
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgroup_fd;
	a.attach_bpf_fd = (uint32_t)fd;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof(a)) < 0)
		return kc_err_sys(err, "attach the device cgroup program");
	if (*prog >= 0) {
		memset(&a, 0, sizeof(a));
		a.target_fd = (uint32_t)cgroup_fd;
		a.attach_bpf_fd = (uint32_t)*prog;
		a.attach_type = BPF_CGROUP_DEVICE;
		if (syscall(SYS_bpf, BPF_PROG_DETACH, &a, sizeof(a)) < 0)
			return kc_err_sys(err, "detach the previous device cgroup program");
		close(*prog);
	}
	*prog = steal_fd(&fd);
	return 0;
}
