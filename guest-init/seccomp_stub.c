/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BPF in front of libseccomp's programs. It sends each call to the
 * program of its arch (seccomp.c compiles one per arch) and, like the stub
 * runc prepends (libcontainer/seccomp/patchbpf), answers ENOSYS for syscall
 * numbers above the largest one the profile names on that arch - what a
 * kernel without the syscall says, so libc falls back - instead of the
 * default action (EPERM in the usual profiles, which makes libc give up on
 * e.g. clone3). Numbers in holes below the bound keep the default action, as
 * with runc.
 *
 *          ld   [arch]
 *          jeq  #AUDIT_ARCH_<a>, sec_a       one per arch
 *          ja   prog_0                       its arch check refuses the call
 *  sec_a:  ld   [nr]
 *          jgt  #max_a, enosys               x86_64: jset #X32_BIT first
 *          ja   prog_a                       selects the x86_64 or x32 part
 *  enosys: ret  #ERRNO(ENOSYS)
 *  prog_0: libseccomp's program for the native arch (checks the arch again)
 *  prog_1: ...
 *
 * The layout is ours; the bounds, the x32 split and s390's multiplexer
 * (syscall 0 for numbers the kernel does not know) follow runc.
 */
#include "seccomp_stub.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>

#define X32_SYSCALL_BIT 0x40000000U

enum { L_NEXT = -1, L_ENOSYS = 0 };
#define L_SEC(s)  (1 + (int)(s))
#define L_X32(s)  (1 + KC_STUB_MAX_ARCHES + (int)(s))
#define L_PROG(p) (1 + 2 * KC_STUB_MAX_ARCHES + (int)(p))
#define N_LABELS  (1 + 3 * KC_STUB_MAX_ARCHES)

/* A tiny forward-only assembler: jumps name labels, resolved at the end. */
struct bpf_as {
	struct sock_filter *ins;
	int jt[KC_STUB_MAX_INSNS], jf[KC_STUB_MAX_INSNS];
	size_t at[N_LABELS];
	size_t n;
};

static void emit(struct bpf_as *a, uint16_t code, uint32_t k, int jt, int jf)
{
	if (a->n < KC_STUB_MAX_INSNS) {
		a->ins[a->n] = (struct sock_filter){.code = code, .k = k};
		a->jt[a->n] = jt;
		a->jf[a->n] = jf;
	}
	a->n++;
}

static void here(struct bpf_as *a, int label)
{
	a->at[label] = a->n;
}

static int resolve(const struct bpf_as *a, size_t i, int label, size_t *off)
{
	*off = 0;
	if (label == L_NEXT)
		return 0;
	if (a->at[label] < i + 1)
		return -1;
	*off = a->at[label] - (i + 1);
	return 0;
}

static int link_jumps(struct bpf_as *a, const size_t *prog_len, size_t n_progs, kc_err **err)
{
	size_t pos;

	if (a->n > KC_STUB_MAX_INSNS)
		return kc_err_set(err, E2BIG, "seccomp stub: %zu instructions", a->n);
	pos = a->n; /* the programs follow the stub */
	for (size_t p = 0; p < n_progs; p++) {
		a->at[L_PROG(p)] = pos;
		pos += prog_len[p];
	}
	for (size_t i = 0; i < a->n; i++) {
		struct sock_filter *f = &a->ins[i];
		size_t t, e;
		if (BPF_CLASS(f->code) != BPF_JMP)
			continue;
		if (resolve(a, i, a->jt[i], &t) < 0 || resolve(a, i, a->jf[i], &e) < 0)
			return kc_err_set(err, EINVAL, "seccomp stub: backward jump at %zu", i);
		if (BPF_OP(f->code) == BPF_JA) {
			f->k = (uint32_t)t;
			continue;
		}
		if (t > 255 || e > 255)
			return kc_err_set(err, E2BIG, "seccomp stub: jump too long at %zu", i);
		f->jt = (uint8_t)t;
		f->jf = (uint8_t)e;
	}
	return 0;
}

/* One AUDIT_ARCH_* value: x86_64 and x32 share one. */
struct section {
	uint32_t audit;
	int max, max_x32;   /* ENOSYS bounds; 0: none */
	int prog, prog_x32; /* -1: none listed */
};

static uint32_t audit_arch(uint32_t scmp)
{
	/* x32 processes report AUDIT_ARCH_X86_64 and set X32_SYSCALL_BIT in nr. */
	return scmp == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : scmp;
}

static void bound(struct bpf_as *a, bool enosys, int max)
{
	if (enosys && max > 0)
		emit(a, BPF_JMP | BPF_JGT | BPF_K, (uint32_t)max, L_ENOSYS, L_NEXT);
}

int kc_stub_generate(const struct kc_stub_arch *arches, size_t n_arches, const size_t *prog_len,
		     size_t n_progs, bool enosys, struct sock_filter *out, size_t *n, kc_err **err)
{
	struct section sec[KC_STUB_MAX_ARCHES];
	struct bpf_as a = {.ins = out};
	size_t n_sec = 0;
	bool any_bound = false;

	*n = 0;
	if (n_arches > KC_STUB_MAX_ARCHES || n_progs > KC_STUB_MAX_ARCHES)
		return kc_err_set(err, E2BIG, "seccomp stub: %zu architectures", n_arches);
	for (size_t i = 0; i < n_arches; i++) {
		uint32_t audit = audit_arch(arches[i].arch);
		bool x32 = arches[i].arch == SCMP_ARCH_X32;
		size_t s;
		if (arches[i].prog >= n_progs)
			return kc_err_set(err, EINVAL, "seccomp stub: no program %u",
					  arches[i].prog);
		for (s = 0; s < n_sec && sec[s].audit != audit; s++)
			;
		if (s == n_sec)
			sec[n_sec++] = (struct section){.audit = audit, .prog = -1, .prog_x32 = -1};
		*(x32 ? &sec[s].max_x32 : &sec[s].max) = arches[i].max_nr;
		*(x32 ? &sec[s].prog_x32 : &sec[s].prog) = (int)arches[i].prog;
		any_bound |= arches[i].max_nr > 0;
	}
	if (n_progs == 1 && !(enosys && any_bound))
		return 0; /* libseccomp's program alone says it all */

	emit(&a, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
	for (size_t s = 0; s < n_sec; s++)
		emit(&a, BPF_JMP | BPF_JEQ | BPF_K, sec[s].audit, L_SEC(s), L_NEXT);
	emit(&a, BPF_JMP | BPF_JA, 0, L_PROG(0), L_NEXT);
	for (size_t s = 0; s < n_sec; s++) {
		const struct section *c = &sec[s];
		/* A call of an ABI that is not listed goes to the other ABI's program,
		 * whose arch check refuses it, as libseccomp's combined filter would. */
		int prog = c->prog >= 0 ? c->prog : c->prog_x32;
		int prog_x32 = c->prog_x32 >= 0 ? c->prog_x32 : c->prog;

		here(&a, L_SEC(s));
		emit(&a, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
		if (enosys && (c->audit == AUDIT_ARCH_S390 || c->audit == AUDIT_ARCH_S390X) &&
		    c->max > 0)
			/* Numbers the kernel does not know arrive as 0, the multiplexer. */
			emit(&a, BPF_JMP | BPF_JEQ | BPF_K, 0, L_ENOSYS, L_NEXT);
		if (c->audit != AUDIT_ARCH_X86_64) {
			bound(&a, enosys, c->max);
			emit(&a, BPF_JMP | BPF_JA, 0, L_PROG(prog), L_NEXT);
			continue;
		}
		emit(&a, BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, L_X32(s), L_NEXT);
		bound(&a, enosys && c->prog >= 0, c->max);
		emit(&a, BPF_JMP | BPF_JA, 0, L_PROG(prog), L_NEXT);
		here(&a, L_X32(s));
		bound(&a, enosys && c->prog_x32 >= 0, c->max_x32);
		emit(&a, BPF_JMP | BPF_JA, 0, L_PROG(prog_x32), L_NEXT);
	}
	here(&a, L_ENOSYS);
	emit(&a, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS, 0, 0);
	if (link_jumps(&a, prog_len, n_progs, err) < 0)
		return -E2BIG;
	*n = a.n;
	return 0;
}
